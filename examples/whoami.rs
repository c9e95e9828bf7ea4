//! Tells each client the address the server sees for it, then closes. Behind a load
//! balancer that sends the PROXY protocol, `--proxy-protocol any` makes that the real
//! client's address instead of the balancer's.
//!
//! ```sh
//! cargo run --example whoami -- --port 9000
//! nc localhost 9000                                  # 127.0.0.1:54321
//! cargo run --example whoami -- --port 9000 --proxy-protocol any
//! printf 'PROXY TCP4 203.0.113.7 10.0.0.1 51000 9000\r\n' | nc localhost 9000   # 203.0.113.7:51000
//! ```
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

/// Writes the client's address (`ip:port`) and closes.
#[tcp_server(port = 9000)]
async fn whoami(mut stream: IoStream, client: SocketAddr) -> tcpserver::Result<()> {
    stream.write(format!("{client}\n").as_bytes()).await
}
