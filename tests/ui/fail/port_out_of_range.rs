use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 70000)]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
