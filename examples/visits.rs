//! Application state and configuration on the attribute: each worker process loads its visit
//! count when it starts (before it accepts), every connection shares it, and the worker
//! saves it back once its connections are done. `args = Args` adds the application's own
//! flags to tcpserver's (`--help` lists both; each also comes from its environment
//! variable, `TCPSERVER_VISITS_FILE`); `state = open` names the function that creates the
//! state from them; the handler takes it as its last argument; `on_shutdown = save` gets
//! it back.
//!
//! ```sh
//! cargo run --example visits -- --port 8888 --visits-file /tmp/visits
//! nc localhost 8888            # visit 1 to pid 1234
//! kill -TERM <pid>             # saved: the next run counts on from there
//! TCPSERVER_VISITS_FILE=/no/such/dir/visits cargo run --example visits   # one line, exit 1
//! ```
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tcpserver::{IoStream, clap, tcp_server};

/// The application's own flags.
#[derive(clap::Args)]
struct Args {
    /// Where the count is kept across restarts (none: in memory only)
    #[arg(long, value_name = "PATH")]
    visits_file: Option<PathBuf>,
    /// The word each greeting starts with
    #[arg(long, default_value = "visit")]
    greeting: String,
    /// The count to start from when no file holds one
    #[arg(long, value_name = "N", default_value_t = 0)]
    start: u64,
}

/// The visits this process counted, and where they are saved.
struct Visits {
    count: AtomicU64,
    file: Option<PathBuf>,
    greeting: String,
}

/// Reads the count saved in `--visits-file` (none yet counts as zero); a file that cannot
/// be read or written stops the start-up.
async fn open(args: Args) -> std::io::Result<Visits> {
    let file = args.visits_file;
    let mut count = args.start;
    if let Some(path) = &file {
        let named =
            |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        match tokio::fs::read_to_string(path).await {
            Ok(text) => count = text.trim().parse().unwrap_or(0),
            // Not there yet: it must be creatable, or the counts would be lost at exit.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tokio::fs::write(path, "0\n").await.map_err(named)?;
            }
            Err(e) => return Err(named(e)),
        }
    }
    Ok(Visits {
        count: AtomicU64::new(count),
        file,
        greeting: args.greeting,
    })
}

/// Writes the count back, once this process's connections are done.
async fn save(visits: Arc<Visits>) {
    let count = visits.count.load(Ordering::Relaxed);
    eprintln!("{count} visits");
    if let Some(path) = &visits.file
        && let Err(e) = tokio::fs::write(path, format!("{count}\n")).await
    {
        eprintln!("cannot save the visits to {}: {e}", path.display());
    }
}

/// Greets each connection with its visit number.
#[tcp_server(port = 8888, args = Args, state = open, on_shutdown = save)]
async fn visits(mut stream: IoStream, _addr: SocketAddr, visits: &Visits) -> tcpserver::Result<()> {
    let n = visits.count.fetch_add(1, Ordering::Relaxed) + 1;
    let greeting = format!("{} {n} to pid {}\n", visits.greeting, std::process::id());
    stream.write(greeting.as_bytes()).await
}
