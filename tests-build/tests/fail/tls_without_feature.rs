use std::net::SocketAddr;
use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8443, tls = "certs/server.pem", max_handshakes = 64)]
async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    let line = stream.read_until(b"\n", None).await?;
    stream.write(&line).await
}
