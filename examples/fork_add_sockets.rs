//! Tornado's third start-up pattern, the one Tornado recommends since 6.2:
//! `bind_sockets`, then `fork_processes`, then a runtime per process and `add_sockets`.
//!
//! ```sh
//! cargo run --example fork_add_sockets          # port 8888, one worker per CPU
//! cargo run --example fork_add_sockets -- 0     # any free port
//! ```
use std::net::SocketAddr;

use tcpserver::netutil::{DEFAULT_BACKLOG, Family, bind_sockets};
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
    let sockets = bind_sockets(
        port,
        Some("127.0.0.1"),
        Family::Unspec,
        DEFAULT_BACKLOG,
        false,
    )?;
    for socket in &sockets {
        eprintln!("listening on {}", socket.local_addr()?);
    }
    // Nothing may touch tokio before this line: each worker builds its own runtime.
    process::fork_processes(0, None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = TcpServer::new(hello);
        server.add_sockets(sockets)?;
        let _ = tokio::signal::ctrl_c().await;
        server.shutdown(std::time::Duration::from_secs(10)).await;
        Ok(())
    })
}
