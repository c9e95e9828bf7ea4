use std::net::SocketAddr;

use tcpserver::{IoStream, http_server};

// A `#[tcp_server]` handler under `#[http_server]`.
#[http_server(port = 8080)]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
