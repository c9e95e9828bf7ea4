// `args` gives the parsed flags to `state`'s function: without `state` they would go
// nowhere.
use std::net::SocketAddr;

use tcpserver::{IoStream, clap, tcp_server};

#[derive(clap::Args)]
struct Args {
    #[arg(long)]
    verbose: bool,
}

#[tcp_server(port = 8888, args = Args)]
async fn handle(_stream: IoStream, _addr: SocketAddr) {}
