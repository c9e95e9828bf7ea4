use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

// HTTP options belong to `#[http_server]`.
#[tcp_server(port = 8888, xheaders = true, max_body_size = "1MiB")]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
