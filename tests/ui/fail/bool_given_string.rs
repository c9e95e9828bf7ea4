use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888, reuse_port = "true")]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
