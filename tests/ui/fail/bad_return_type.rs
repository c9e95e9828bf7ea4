use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888)]
async fn echo(_stream: IoStream, _addr: SocketAddr) -> Result<usize, std::io::Error> {
    Ok(0)
}
