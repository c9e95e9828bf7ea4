//! Tornado's second start-up pattern, `bind` then `start`: the server binds its socket,
//! forks (here two workers), and each worker serves it in its own runtime, built after the
//! fork.
//!
//! ```sh
//! cargo run --example bind_start          # port 8888, two workers
//! cargo run --example bind_start -- 0     # any free port
//! ```
use std::net::SocketAddr;

use tcpserver::{IoStream, TcpServer, process};

async fn hello(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    let id = process::task_id().unwrap_or(0);
    stream
        .write(format!("hello from worker {id}\n").as_bytes())
        .await
}

fn main() -> std::io::Result<()> {
    let port = std::env::args()
        .nth(1)
        .map_or(Ok(8888), |p| p.parse())
        .map_err(std::io::Error::other)?;
    let server = TcpServer::new(hello);
    for addr in server.bind(port, Some("127.0.0.1"))? {
        eprintln!("listening on {addr}");
    }
    // Forks; the supervisor stays inside `start` until the workers are gone.
    server.start(2, None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let stopper = server.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stopper.stop();
        });
        server.serve().await
    })
}
