//! Tornado's EchoServer: every line a client sends comes back to it.
//!
//! ```sh
//! cargo run --example echo -- --port 8888     # then: nc localhost 8888
//! cargo run --example echo -- --help          # every option and its default
//! ```
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

/// A line echo server (Tornado's EchoServer): every line a client sends comes back.
#[tcp_server(port = 8888)]
async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    // One buffer for all the connection's lines: nothing is allocated per line.
    let mut line = Vec::new();
    loop {
        line.clear();
        stream.read_until_into(b"\n", None, &mut line).await?;
        stream.write(&line).await?;
    }
}
