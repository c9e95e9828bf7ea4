//! `--idle-timeout` against slow and silent clients: the `echo` binary holding 1,000
//! connections that never send a byte and 1,000 that send one byte a second (a slowloris
//! that never finishes its line) while 50 ordinary clients echo lines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::Signal;
use tcpserver_tests::admin::{Scrape, admin_addr};
use tcpserver_tests::proc::ServerProcess;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

const SILENT: usize = 1000;
const SLOW: usize = 1000;
const NORMAL: usize = 50;
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Room for the connections in this process and in the server (which inherits the limit).
fn raise_descriptor_limit() {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let wanted = (4 * (SILENT + SLOW + NORMAL) as u64).min(hard);
    if soft < wanted {
        setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).unwrap();
    }
}

/// Round trips answered by the ordinary clients.
fn normal_clients(
    port: u16,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..NORMAL)
        .map(|i| {
            let (stop, done) = (stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut stream =
                    BufStream::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
                let line = format!("client {i}\n");
                let mut reply = String::new();
                while !stop.load(Ordering::Relaxed) {
                    stream.write_all(line.as_bytes()).await.unwrap();
                    stream.flush().await.unwrap();
                    reply.clear();
                    stream.read_line(&mut reply).await.unwrap();
                    assert_eq!(reply, line);
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect()
}

/// Round trips per second over `period`.
async fn rate(done: &AtomicU64, period: Duration) -> f64 {
    let before = done.load(Ordering::Relaxed);
    tokio::time::sleep(period).await;
    (done.load(Ordering::Relaxed) - before) as f64 / period.as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_are_closed_slow_ones_kept_and_the_others_served() {
    raise_descriptor_limit();
    let mut server = ServerProcess::start(
        "echo",
        &[
            "--port",
            "0",
            "--address",
            "127.0.0.1",
            "--idle-timeout",
            "2s",
            // The crowd connects at once: room in the accept queue (the kernel caps it at
            // `net.core.somaxconn`), so that no handshake waits for a SYN-ACK resend.
            "--backlog",
            "4096",
            "--admin-address",
            "127.0.0.1:0",
        ],
    );
    let port = server.addr().port();
    let admin = admin_addr(&server);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let clients = normal_clients(port, stop.clone(), done.clone());
    let alone = rate(&done, Duration::from_secs(1)).await;

    // The crowd arrives. A silent client says nothing and waits for the server to close.
    let silent: Vec<_> = (0..SILENT)
        .map(|_| {
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                let opened = Instant::now();
                let mut byte = [0u8; 1];
                let read =
                    tokio::time::timeout(Duration::from_secs(20), stream.read(&mut byte)).await;
                assert!(matches!(read, Ok(Ok(0))), "{read:?}");
                opened.elapsed()
            })
        })
        .collect();
    let slow_alive = Arc::new(AtomicU64::new(0));
    let slow: Vec<_> = (0..SLOW)
        .map(|_| {
            let (stop, alive) = (stop.clone(), slow_alive.clone());
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                alive.fetch_add(1, Ordering::Relaxed);
                // One byte a second, never a newline: the line never ends.
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if stream.write_all(b"x").await.is_err() {
                        alive.fetch_sub(1, Ordering::Relaxed);
                        return;
                    }
                }
            })
        })
        .collect();
    let crowded = rate(&done, Duration::from_secs(4)).await;

    // Every silent connection was closed by the server, the idle timeout after it opened
    // (a client task notes the time when it runs, up to a few tens of milliseconds after
    // the connection was accepted on this crowded two-CPU machine; after, within what the
    // crowd adds).
    let mut closed_after = Vec::with_capacity(SILENT);
    for task in silent {
        closed_after.push(task.await.unwrap());
    }
    let (first, last) = (
        *closed_after.iter().min().unwrap(),
        *closed_after.iter().max().unwrap(),
    );
    assert!(
        first >= IDLE_TIMEOUT - Duration::from_millis(250),
        "closed early: {first:?}"
    );
    assert!(
        last < IDLE_TIMEOUT + Duration::from_secs(2),
        "closed late: {last:?}"
    );
    // The slow clients are active: all still connected, still writing.
    assert_eq!(slow_alive.load(Ordering::Relaxed), SLOW as u64);
    let scrape = Scrape::take(admin);
    assert_eq!(
        scrape.get("tcpserver_connections_closed_total{reason=\"timeout\"}"),
        SILENT as u64
    );
    eprintln!(
        "idle: {SILENT} silent connections closed after {first:?}..{last:?}, {SLOW} slow ones \
         kept; ordinary clients {alone:.0} round trips/s alone, {crowded:.0}/s in the crowd"
    );
    // The ordinary clients kept their pace (loosely: the machine is small and shared).
    assert!(
        crowded >= alone * 0.5,
        "{alone:.0}/s alone, {crowded:.0}/s with the crowd"
    );

    stop.store(true, Ordering::Relaxed);
    for task in clients.into_iter().chain(slow) {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
    }
    server.signal(Signal::SIGTERM);
    let status = server.wait_timeout(Duration::from_secs(20)).expect("exit");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}
