use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

struct Server;

impl Server {
    #[tcp_server(port = 8888)]
    async fn handle(&self, _stream: IoStream, _addr: SocketAddr) {}
}

fn main() {}
