// `init` takes no argument and returns `Result<State, E>`: here it returns the state
// alone. The error is on `state = ...` and says what to write.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

struct Db;

fn connect() -> Db {
    Db
}

#[tcp_server(port = 8888, state = connect)]
async fn handle(_stream: IoStream, _addr: SocketAddr, _db: &Db) {}
