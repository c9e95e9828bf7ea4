use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(address = "127.0.0.1")]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
