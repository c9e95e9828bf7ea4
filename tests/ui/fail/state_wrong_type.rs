// The state `init` creates and the one the handler takes must be the same type: the error
// is on the handler's argument.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

struct Db;
struct Cache;

fn connect() -> std::io::Result<Db> {
    Ok(Db)
}

#[tcp_server(port = 8888, state = connect)]
async fn handle(_stream: IoStream, _addr: SocketAddr, _cache: &Cache) {}
