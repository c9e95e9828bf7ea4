use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888, runtime = current_thread)]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
