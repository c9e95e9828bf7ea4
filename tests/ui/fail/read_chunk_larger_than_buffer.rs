use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888, max_buffer_size = "64KiB", read_chunk_size = "64KiB")]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
