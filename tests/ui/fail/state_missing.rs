// A handler that takes the state needs `state = ...` to create it: the error is on the
// argument.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

struct Db;

#[tcp_server(port = 8888)]
async fn handle(_stream: IoStream, _addr: SocketAddr, _db: &Db) {}
