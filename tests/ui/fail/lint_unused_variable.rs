// The handler is emitted as written: lints still see the user's code and point into it.
#![deny(unused_variables)]

use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888)]
async fn echo(_stream: IoStream, addr: SocketAddr) {}
