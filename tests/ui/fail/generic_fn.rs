use std::net::SocketAddr;

use tcpserver::tcp_server;

#[tcp_server(port = 8888)]
async fn echo<S>(_stream: S, _addr: SocketAddr) {}
