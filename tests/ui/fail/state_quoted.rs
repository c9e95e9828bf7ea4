// `state` names a function as code: a string is reported with the fix.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

struct Db;

fn connect() -> std::io::Result<Db> {
    Ok(Db)
}

#[tcp_server(port = 8888, state = "connect")]
async fn quoted(_stream: IoStream, _addr: SocketAddr, _db: &Db) {}
