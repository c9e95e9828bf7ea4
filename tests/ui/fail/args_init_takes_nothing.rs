// With `args`, the state's function takes the parsed flags: one that takes nothing is
// reported on `state = ...`.
use std::net::SocketAddr;

use tcpserver::{IoStream, clap, tcp_server};

#[derive(clap::Args)]
struct Args {
    #[arg(long)]
    verbose: bool,
}

struct Db;

fn connect() -> std::io::Result<Db> {
    Ok(Db)
}

#[tcp_server(port = 8888, args = Args, state = connect)]
async fn handle(_stream: IoStream, _addr: SocketAddr, _db: &Db) {}
