// The state is shared by every connection, on any thread of the runtime: it must be
// `Send + Sync`. The error is on `state = ...`.
use std::net::SocketAddr;
use std::rc::Rc;

use tcpserver::{IoStream, tcp_server};

struct Db {
    _shared: Rc<()>,
}

fn connect() -> std::io::Result<Db> {
    Ok(Db { _shared: Rc::new(()) })
}

#[tcp_server(port = 8888, state = connect)]
async fn handle(_stream: IoStream, _addr: SocketAddr, _db: &Db) {}
