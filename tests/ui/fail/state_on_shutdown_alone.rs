// `on_shutdown` is given the state: without `state` there is none to give.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

async fn close(_db: std::sync::Arc<()>) {}

#[tcp_server(port = 8888, on_shutdown = close)]
async fn hook_alone(_stream: IoStream, _addr: SocketAddr) {}
