// Every connection shares the state: the handler takes it by reference or `Arc`.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

struct Db;

fn connect() -> std::io::Result<Db> {
    Ok(Db)
}

#[tcp_server(port = 8888, state = connect)]
async fn by_value(_stream: IoStream, _addr: SocketAddr, _db: Db) {}
