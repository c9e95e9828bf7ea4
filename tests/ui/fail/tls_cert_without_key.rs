use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8443, tls(cert = "certs/chain.pem"))]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
