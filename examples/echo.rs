//! Tornado's EchoServer: every line a client sends comes back to it.
//!
//! ```sh
//! cargo run --example echo -- --port 8888     # then: nc localhost 8888
//! cargo run --example echo -- --help          # every option and its default
//! ```
use std::net::SocketAddr;
use std::process::ExitCode;

use tcpserver::{IoStream, Launcher};

async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    loop {
        let line = stream.read_until(b"\n", None).await?;
        stream.write(&line).await?;
    }
}

fn main() -> ExitCode {
    Launcher::new(8888)
        .name("echo")
        .about("A line echo server (Tornado's EchoServer)")
        .run(echo)
}
