// The compiler checks what the attribute cannot: here, that the handler's future can move
// between threads. The error points at the handler.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

#[tcp_server(port = 8888)]
async fn echo(_stream: IoStream, _addr: SocketAddr) {
    let shared = std::rc::Rc::new(());
    tokio::task::yield_now().await;
    drop(shared);
}
