// `on_shutdown` is an async function given `Arc<State>`: a hook taking `&State` is
// reported on `on_shutdown = ...`.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

struct Db;

fn connect() -> std::io::Result<Db> {
    Ok(Db)
}

async fn close(_db: &Db) {}

#[tcp_server(port = 8888, state = connect, on_shutdown = close)]
async fn handle(_stream: IoStream, _addr: SocketAddr, _db: &Db) {}
