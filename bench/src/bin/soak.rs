//! The soak driver (`scripts/soak` starts the servers and runs it): for `--seconds S`,
//! clients of three prefork servers (plain `prefork`, `tls_echo`, `http_hello`, two workers
//! each) check every byte they get back, while faults are injected:
//!
//! - every 20 s a worker is killed (SIGKILL), the three servers in turn;
//! - every 15 s the TLS server reloads its certificates (SIGHUP);
//! - every 25 s one plain worker runs out of descriptors for 2 s (`prlimit`: EMFILE);
//! - every 30 s (from 25 s) one server in turn upgrades (SIGUSR2 to the process named by its
//!   `--pid-file`): the new process takes over, the old one drains and exits, and from then
//!   on the faults and the footprint follow the new pid;
//! - all the time: clients that reset in the middle of a line, send garbage, send a line
//!   over the server's limit, or stall in the TLS handshake.
//!
//! A good client's failure counts as injected only within two seconds after a worker of its
//! server was killed; an upgrade promises no failure at all, so none is excused. Prints one JSON line; exits 1 if any other failure happened, or if the
//! servers' descriptors or memory did not come back within 10% of their warm baseline (taken
//! a quarter of the way in, under load) once the load stopped.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tcpserver_bench::{arg, rss_kib, server_name, tls_connector};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;

/// One server under test.
struct Server {
    name: &'static str,
    addr: SocketAddr,
    /// The main process now: the one named in `pid_file`, which changes at each upgrade.
    pid: AtomicU32,
    pid_file: PathBuf,
    /// Milliseconds since the start when a worker of it was last killed, or when the
    /// killed worker was gone (its exit can lag the signal on a loaded machine).
    last_kill: AtomicU64,
    /// A worker of it was killed and is not gone yet: its clients' failures are injected.
    kill_pending: AtomicBool,
    /// Until when (milliseconds since the start) an upgrade's old process may close idle
    /// keep-alive connections: from the SIGUSR2 until a few seconds after the new pid.
    upgrade_until: AtomicU64,
}

impl Server {
    fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// The pid in the pid file, once it is there.
    async fn pid_in_file(&self) -> Option<u32> {
        let text = tokio::fs::read_to_string(&self.pid_file).await.ok()?;
        text.trim().parse().ok()
    }
}

#[derive(Default)]
struct Counters {
    exchanges: AtomicU64,
    bytes_checked: AtomicU64,
    injected_failures: AtomicU64,
    idle_close_retries: AtomicU64,
    unexpected: std::sync::Mutex<Vec<String>>,
    faults: std::sync::Mutex<Vec<String>>,
}

struct Soak {
    started: Instant,
    stop: AtomicBool,
    counters: Counters,
    plain: Server,
    tls: Server,
    http: Server,
    tls_connector: tokio_rustls::TlsConnector,
}

/// How a good client's connection failed.
enum Failure {
    /// A keep-alive connection closed before any byte of the answer to a request after the
    /// first: the race every HTTP client meets when a server closes an idle connection as
    /// the next request leaves (RFC 9112 §9.3.1: such a request is retried on a new
    /// connection). Excused only while the server's old process drains after an upgrade.
    IdleClosed(String),
    Other(String),
}

impl From<String> for Failure {
    fn from(what: String) -> Self {
        Failure::Other(what)
    }
}

impl Soak {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A good client failed: injected if a worker of `server` died just before.
    fn failed(&self, server: &Server, what: String) {
        let since_kill = self
            .now_ms()
            .saturating_sub(server.last_kill.load(Ordering::Relaxed));
        let killed = server.kill_pending.load(Ordering::Relaxed)
            || (server.last_kill.load(Ordering::Relaxed) > 0 && since_kill < 2000);
        if killed {
            self.counters
                .injected_failures
                .fetch_add(1, Ordering::Relaxed);
        } else {
            let mut unexpected = self.counters.unexpected.lock().unwrap();
            if unexpected.len() < 20 {
                unexpected.push(format!("{} at {} ms: {what}", server.name, self.now_ms()));
            }
        }
    }

    fn servers(&self) -> [&Server; 3] {
        [&self.plain, &self.tls, &self.http]
    }

    fn fault(&self, what: String) {
        self.counters
            .faults
            .lock()
            .unwrap()
            .push(format!("{} ms: {what}", self.now_ms()));
    }
}

/// The worker pids of a supervisor.
fn workers(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        if after.split_whitespace().nth(1).and_then(|p| p.parse().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// Open descriptors and RSS (KiB) of a supervisor and its workers.
fn footprint(pid: u32) -> (usize, u64) {
    let mut fds = 0;
    let mut rss = 0;
    for p in std::iter::once(pid).chain(workers(pid)) {
        fds += std::fs::read_dir(format!("/proc/{p}/fd")).map_or(0, |d| d.count());
        rss += rss_kib(p);
    }
    (fds, rss)
}

/// A line of random printable bytes, from `seed`.
fn line(seed: &mut u64) -> Vec<u8> {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let len = 1 + (*seed % 200) as usize;
    let mut out: Vec<u8> = (0..len)
        .map(|i| b' ' + ((*seed >> (i % 56)) as u8 + i as u8) % 94)
        .collect();
    out.push(b'\n');
    out
}

/// Echoes 50 lines over `stream` and checks each.
async fn echo_lines<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    greets: bool,
    seed: &mut u64,
    counters: &Counters,
) -> Result<(), String> {
    let mut stream = BufStream::new(stream);
    let mut reply = Vec::new();
    if greets {
        stream
            .read_until(b'\n', &mut reply)
            .await
            .map_err(|e| format!("greeting: {e}"))?;
        if !reply.starts_with(b"task ") {
            return Err(format!("greeting {reply:?}"));
        }
    }
    for _ in 0..50 {
        let sent = line(seed);
        stream
            .write_all(&sent)
            .await
            .map_err(|e| format!("write: {e}"))?;
        stream.flush().await.map_err(|e| format!("flush: {e}"))?;
        reply.clear();
        stream
            .read_until(b'\n', &mut reply)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if reply != sent {
            return Err(format!("sent {sent:?}, got {reply:?}"));
        }
        counters.exchanges.fetch_add(1, Ordering::Relaxed);
        counters
            .bytes_checked
            .fetch_add(sent.len() as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Up to 50 keep-alive requests, each answer checked; fewer when the server says
/// `Connection: close`.
async fn http_requests(stream: TcpStream, counters: &Counters) -> Result<(), Failure> {
    let mut stream = BufStream::new(stream);
    for request in 0..50 {
        let mut status = String::new();
        let sent = async {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n")
                .await?;
            stream.flush().await?;
            stream.read_line(&mut status).await
        }
        .await;
        match sent {
            Ok(0) | Err(_) if request > 0 && status.is_empty() => {
                return Err(Failure::IdleClosed(format!(
                    "request {request}: {}",
                    sent.map_or_else(|e| e.to_string(), |_| "end of stream".to_owned())
                )));
            }
            Err(e) => return Err(format!("status: {e}").into()),
            Ok(_) => {}
        }
        if !status.starts_with("HTTP/1.1 200") {
            return Err(format!("status {status:?}").into());
        }
        let mut length = None;
        let mut close = false;
        loop {
            let mut header = String::new();
            stream
                .read_line(&mut header)
                .await
                .map_err(|e| format!("header: {e}"))?;
            if header == "\r\n" || header.is_empty() {
                break;
            }
            let header = header.to_ascii_lowercase();
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            close |= header.starts_with("connection:") && header.contains("close");
        }
        let mut body = vec![0u8; length.ok_or_else(|| "no content-length".to_owned())?];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut body)
            .await
            .map_err(|e| format!("body: {e}"))?;
        if body != b"Hello, world" {
            return Err(format!("body {body:?}").into());
        }
        counters.exchanges.fetch_add(1, Ordering::Relaxed);
        counters
            .bytes_checked
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        if close {
            break;
        }
    }
    Ok(())
}

async fn good_client(soak: Arc<Soak>, which: u8, id: u64) {
    let mut seed = 0x9e37_79b9_7f4a_7c15 ^ id.wrapping_mul(0x1000_0001);
    while !soak.stop.load(Ordering::Relaxed) {
        let server = match which {
            0 => &soak.plain,
            1 => &soak.tls,
            _ => &soak.http,
        };
        let result = match TcpStream::connect(server.addr).await {
            Err(e) => Err(Failure::Other(format!("connect: {e}"))),
            Ok(tcp) => match which {
                0 => echo_lines(tcp, true, &mut seed, &soak.counters)
                    .await
                    .map_err(Failure::Other),
                1 => match soak.tls_connector.connect(server_name(), tcp).await {
                    Ok(tls) => echo_lines(tls, false, &mut seed, &soak.counters)
                        .await
                        .map_err(Failure::Other),
                    Err(e) => Err(Failure::Other(format!("handshake: {e}"))),
                },
                _ => http_requests(tcp, &soak.counters).await,
            },
        };
        match result {
            Ok(()) => {}
            Err(Failure::IdleClosed(_))
                if soak.now_ms() < server.upgrade_until.load(Ordering::Relaxed) =>
            {
                soak.counters
                    .idle_close_retries
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(Failure::IdleClosed(what) | Failure::Other(what)) => soak.failed(server, what),
        }
    }
}

/// Clients that misbehave on purpose; whatever happens to them is expected.
async fn bad_clients(soak: Arc<Soak>) {
    let mut round = 0u64;
    while !soak.stop.load(Ordering::Relaxed) {
        round += 1;
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            match round % 5 {
                // Half a line, then a reset.
                0 => {
                    if let Ok(mut s) = TcpStream::connect(soak.plain.addr).await {
                        let _ = s.write_all(b"half a li").await;
                        let _ = s.set_zero_linger();
                    }
                }
                // Garbage to the HTTP server.
                1 => {
                    if let Ok(mut s) = TcpStream::connect(soak.http.addr).await {
                        let _ = s.write_all(b"\x00\x01GARBAGE / HTTP/9\r\n\r\n").await;
                        let mut sink = Vec::new();
                        let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut sink).await;
                    }
                }
                // A line over the plain server's 64 KiB limit: it closes the connection.
                2 => {
                    if let Ok(mut s) = TcpStream::connect(soak.plain.addr).await {
                        let _ = s.write_all(&vec![b'x'; 70 * 1024]).await;
                        let mut sink = Vec::new();
                        let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut sink).await;
                    }
                }
                // Stalls in the TLS handshake, then leaves.
                3 => {
                    if let Ok(mut s) = TcpStream::connect(soak.tls.addr).await {
                        let _ = s.write_all(&[0x16, 0x03, 0x01]).await;
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                // Plain text to the TLS port.
                _ => {
                    if let Ok(mut s) = TcpStream::connect(soak.tls.addr).await {
                        let _ = s.write_all(b"GET / HTTP/1.1\r\n\r\n").await;
                        let mut sink = Vec::new();
                        let _ = tokio::io::AsyncReadExt::read_to_end(&mut s, &mut sink).await;
                    }
                }
            }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An upgrade of server `which`: SIGUSR2 to its main process, then the new pid from its pid
/// file once the new process serves (the old one exits on its own after its drain).
async fn upgrade(soak: Arc<Soak>, which: usize) {
    let server = soak.servers()[which];
    let old = server.pid();
    let started = Instant::now();
    server.upgrade_until.store(u64::MAX, Ordering::Relaxed);
    let _ = Command::new("kill")
        .args(["-USR2", &old.to_string()])
        .status();
    while started.elapsed() < Duration::from_secs(40) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Some(new) = server.pid_in_file().await
            && new != old
        {
            server.pid.store(new, Ordering::Relaxed);
            server
                .upgrade_until
                .store(soak.now_ms() + 5000, Ordering::Relaxed);
            soak.fault(format!(
                "SIGUSR2 upgrade of the {} server ({old} → {new}, {} ms)",
                server.name,
                started.elapsed().as_millis()
            ));
            return;
        }
    }
    server.upgrade_until.store(0, Ordering::Relaxed);
    soak.counters.unexpected.lock().unwrap().push(format!(
        "{}: no new process in the pid file 40 s after SIGUSR2 to {old}",
        server.name
    ));
}

/// Waits for a killed worker to be gone (on a loaded machine its exit can lag the signal
/// by seconds) and restarts the window of excused failures of its server from then.
async fn died(soak: Arc<Soak>, which: usize, worker: u32) {
    let server = soak.servers()[which % 3];
    let killed = Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{worker}/stat")).unwrap_or_default();
        let state = stat[stat.rfind(')').map_or(0, |i| i + 2)..].chars().next();
        if matches!(state, None | Some('Z' | 'X')) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server
        .last_kill
        .store(soak.now_ms().max(1), Ordering::Relaxed);
    server.kill_pending.store(false, Ordering::Relaxed);
    let lag = killed.elapsed();
    if lag > Duration::from_millis(500) {
        soak.fault(format!(
            "the killed {} worker ({worker}) gone {} ms after SIGKILL",
            server.name,
            lag.as_millis()
        ));
    }
}

/// The process faults, on a one-second tick.
async fn faults(soak: Arc<Soak>, seconds: u64) {
    let mut kills = 0usize;
    let mut upgrades = 0usize;
    for t in 1..seconds {
        tokio::time::sleep_until((soak.started + Duration::from_secs(t)).into()).await;
        if t % 30 == 25 {
            // Its own task: the faults' tick goes on while the new process starts.
            tokio::spawn(upgrade(soak.clone(), upgrades % 3));
            upgrades += 1;
        }
        if t % 20 == 0 {
            let server = soak.servers()[kills % 3];
            kills += 1;
            if let Some(&worker) = workers(server.pid()).first() {
                server
                    .last_kill
                    .store(soak.now_ms().max(1), Ordering::Relaxed);
                let _ = Command::new("kill")
                    .args(["-KILL", &worker.to_string()])
                    .status();
                soak.fault(format!("SIGKILL to a {} worker ({worker})", server.name));
                server.kill_pending.store(true, Ordering::Relaxed);
                tokio::spawn(died(soak.clone(), kills - 1, worker));
            }
        }
        if t % 15 == 0 {
            let _ = Command::new("kill")
                .args(["-HUP", &soak.tls.pid().to_string()])
                .status();
            soak.fault("SIGHUP to the TLS server".to_owned());
        }
        if t % 25 == 10
            && let Some(&worker) = workers(soak.plain.pid()).last()
        {
            let open = std::fs::read_dir(format!("/proc/{worker}/fd")).map_or(0, |d| d.count());
            let limits =
                std::fs::read_to_string(format!("/proc/{worker}/limits")).unwrap_or_default();
            // Only the soft limit moves: raising a hard limit again needs CAP_SYS_RESOURCE,
            // which a container may not have (a worker would stay starved for good).
            let (soft, hard) = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| {
                    let v: Vec<&str> = l.split_whitespace().collect();
                    Some((v.get(3)?.to_string(), v.get(4)?.to_string()))
                })
                .unwrap_or_default();
            let tight = format!("--nofile={}:{hard}", open + 2);
            let old = format!("--nofile={soft}:{hard}");
            if !hard.is_empty()
                && Command::new("prlimit")
                    .args(["--pid", &worker.to_string(), &tight])
                    .status()
                    .is_ok_and(|s| s.success())
            {
                soak.fault(format!("EMFILE storm on a plain worker ({worker}) for 2 s"));
                tokio::time::sleep(Duration::from_secs(2)).await;
                let restored = Command::new("prlimit")
                    .args(["--pid", &worker.to_string(), &old])
                    .status()
                    .is_ok_and(|s| s.success());
                // A worker gone meanwhile (killed, or drained after an upgrade) needs nothing.
                if !restored && std::path::Path::new(&format!("/proc/{worker}")).exists() {
                    soak.counters.unexpected.lock().unwrap().push(format!(
                        "cannot give the plain worker {worker} its descriptor limit back"
                    ));
                }
            }
        }
    }
}

fn server(args: &[String], name: &'static str, flag: &str) -> Server {
    let pid_file: PathBuf = arg(args, &format!("--{flag}-pid-file"), PathBuf::new());
    let pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {}", pid_file.display()));
    Server {
        name,
        addr: arg(args, &format!("--{flag}"), "127.0.0.1:1".parse().unwrap()),
        pid: AtomicU32::new(pid),
        pid_file,
        last_kill: AtomicU64::new(0),
        kill_pending: AtomicBool::new(false),
        upgrade_until: AtomicU64::new(0),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = arg(&args, "--seconds", 60);
    let ca: String = arg(&args, "--tls-ca", "examples/certs/ca.pem".to_owned());
    let soak = Arc::new(Soak {
        started: Instant::now(),
        stop: AtomicBool::new(false),
        counters: Counters::default(),
        plain: server(&args, "plain", "plain"),
        tls: server(&args, "tls", "tls"),
        http: server(&args, "http", "http"),
        tls_connector: tls_connector(&ca),
    });
    let mut tasks = Vec::new();
    for (which, count) in [(0u8, 16u64), (1, 8), (2, 8)] {
        for id in 0..count {
            tasks.push(tokio::spawn(good_client(
                soak.clone(),
                which,
                id + 100 * u64::from(which),
            )));
        }
    }
    tasks.push(tokio::spawn(bad_clients(soak.clone())));
    let fault_task = tokio::spawn(faults(soak.clone(), seconds));

    // The warm baseline, a quarter of the way in (at least 10 s), under load: after the
    // first reload and descriptor storm, once the allocator and TLS caches have grown to
    // their working size.
    tokio::time::sleep(Duration::from_secs((seconds / 4).max(10).min(seconds / 2))).await;
    let baseline: Vec<(usize, u64)> = soak.servers().iter().map(|s| footprint(s.pid())).collect();
    tokio::time::sleep_until((soak.started + Duration::from_secs(seconds)).into()).await;
    soak.stop.store(true, Ordering::Relaxed);
    fault_task.abort();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after: Vec<(usize, u64)> = soak.servers().iter().map(|s| footprint(s.pid())).collect();

    let mut problems: Vec<String> = soak.counters.unexpected.lock().unwrap().clone();
    for ((server, (fds0, rss0)), (fds1, rss1)) in
        ["plain", "tls", "http"].iter().zip(&baseline).zip(&after)
    {
        // 10%, and a few descriptors or pages of slack for tiny numbers.
        if *fds1 > fds0 + fds0 / 10 + 4 {
            problems.push(format!("{server}: {fds1} descriptors after, {fds0} warm"));
        }
        if *rss1 > rss0 + rss0 / 10 + 512 {
            problems.push(format!("{server}: RSS {rss1} KiB after, {rss0} KiB warm"));
        }
    }
    let c = &soak.counters;
    let pairs = |v: &[(usize, u64)]| {
        let items: Vec<String> = v.iter().map(|(f, r)| format!("[{f}, {r}]")).collect();
        format!("[{}]", items.join(", "))
    };
    let (baseline, after) = (pairs(&baseline), pairs(&after));
    println!(
        "{{\"seconds\": {seconds}, \"exchanges\": {}, \"bytes_checked\": {}, \"faults\": {:?}, \
         \"injected_failures\": {}, \"idle_close_retries\": {}, \"baseline\": {baseline}, \"after\": {after}, \"problems\": {:?}}}",
        c.exchanges.load(Ordering::Relaxed),
        c.bytes_checked.load(Ordering::Relaxed),
        c.faults.lock().unwrap(),
        c.injected_failures.load(Ordering::Relaxed),
        c.idle_close_retries.load(Ordering::Relaxed),
        problems
    );
    if !problems.is_empty() {
        std::process::exit(1);
    }
}
