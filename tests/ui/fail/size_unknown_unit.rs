use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888, max_buffer_size = "64 parsecs")]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
