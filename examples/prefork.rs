//! A pre-forked line echo server: one worker process per CPU by default (Tornado's
//! `processes=0`). Each connection is greeted with the worker's task id and pid, so you
//! can watch the kernel spread clients over the workers and the supervisor restart one
//! you kill. Every echoed line counts in `prefork_lines_total`, an application metric
//! summed over the workers.
//!
//! ```sh
//! cargo run --example prefork -- --port 8888                 # one worker per CPU
//! cargo run --example prefork -- --processes 4 --reuse-port  # each worker its own socket
//! cargo run --example prefork -- --admin-address 127.0.0.1:9100  # then:
//! curl 127.0.0.1:9100/metrics   # the same totals whichever worker answers
//! kill -9 <worker pid>     # restarted with the same task id; counters carry on
//! kill -TERM <supervisor>  # graceful: in-flight exchanges finish, exit 0
//! ```
use std::net::SocketAddr;
use std::sync::LazyLock;

use tcpserver::metrics::{self, Counter};
use tcpserver::{IoStream, process, tcp_server};

/// Lines echoed, by every worker (counts nothing without `--admin-address`).
static LINES: LazyLock<Counter> =
    LazyLock::new(|| metrics::counter("prefork_lines_total", "Lines echoed."));

/// A pre-forked echo server that greets each client with its worker's task id and pid.
#[tcp_server(port = 8888, processes = 0)]
async fn prefork(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    let id = process::task_id().map_or_else(|| "-".to_owned(), |id| id.to_string());
    let greeting = format!("task {id} pid {}\n", std::process::id());
    stream.write(greeting.as_bytes()).await?;
    loop {
        let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
        stream.write(&line).await?;
        LINES.inc();
    }
}
