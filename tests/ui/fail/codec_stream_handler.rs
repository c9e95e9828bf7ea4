// With `codec`, the handler answers decoded requests: a stream handler is reported with
// the signature to write.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888, codec = tcpserver::codec::LinesCodec::new())]
async fn handle(_stream: IoStream, _addr: SocketAddr) {}
