// `state` names the function; the server calls it, in every process.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

struct Db;

fn connect() -> std::io::Result<Db> {
    Ok(Db)
}

#[tcp_server(port = 8888, state = connect())]
async fn called(_stream: IoStream, _addr: SocketAddr, _db: &Db) {}
