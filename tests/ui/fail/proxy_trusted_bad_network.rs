use std::net::SocketAddr;
use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888, proxy_trusted = ["10.0.0.0/8", "10.0.0.1/8"])]
async fn whoami(mut stream: IoStream, client: SocketAddr) -> tcpserver::Result<()> {
    stream.write(format!("{client}\n").as_bytes()).await
}
