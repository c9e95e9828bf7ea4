use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888)]
async fn echo(_addr: SocketAddr, _stream: IoStream) {}
