//! Upgrades on SIGUSR2 under continuous load: real binaries copied to a directory of their
//! own, replaced there as a deployment would (a new file renamed over the old one), and
//! signalled; 50 clients keep echoing and opening new connections the whole time, and
//! every refusal, reset and unanswered round trip is counted.
//!
//! This test binary is a child subreaper, so the servers an upgrade starts (orphaned when
//! the old process exits) are its children, collected here.

mod tls_support;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tcpserver_tests::proc::{ServerProcess, example_path, processes_in_group};
use tls_support::{TempDir, client_config, echo, example_cert};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;

const WAIT: Duration = Duration::from_secs(30);
const CLIENTS: usize = 50;
const ROUND_TRIPS_PER_CONNECTION: usize = 20;

// ----- the load -----

#[derive(Debug, Default)]
struct Stats {
    connections: AtomicU64,
    round_trips: AtomicU64,
    refused: AtomicU64,
    resets: AtomicU64,
    unanswered: AtomicU64,
    /// The first few failures, for the assertion message.
    failures: Mutex<Vec<String>>,
    /// The pids that greeted (servers that say who they are).
    greeters: Mutex<std::collections::BTreeSet<String>>,
}

impl Stats {
    fn fail(&self, counter: &AtomicU64, what: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 10 {
            failures.push(what);
        }
    }

    fn summary(&self) -> String {
        format!(
            "connections {}, round trips {}, refused {}, resets {}, unanswered {}; {:?}",
            self.connections.load(Ordering::Relaxed),
            self.round_trips.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.resets.load(Ordering::Relaxed),
            self.unanswered.load(Ordering::Relaxed),
            self.failures.lock().unwrap()
        )
    }

    fn assert_clean(&self) {
        let summary = self.summary();
        eprintln!("load: {summary}");
        assert_eq!(self.refused.load(Ordering::Relaxed), 0, "{summary}");
        assert_eq!(self.resets.load(Ordering::Relaxed), 0, "{summary}");
        assert_eq!(self.unanswered.load(Ordering::Relaxed), 0, "{summary}");
        assert!(self.round_trips.load(Ordering::Relaxed) > 0, "{summary}");
    }
}

/// How the load's clients talk to the server.
#[derive(Clone)]
struct Protocol {
    tls: Option<Arc<ClientConfig>>,
    /// The server sends one line first (the prefork example: `task N pid P`).
    greets: bool,
}

/// 50 clients, each opening a connection, echoing 20 lines on it, closing it, and starting
/// again, until stopped.
struct Load {
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, protocol: Protocol) -> Self {
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..CLIENTS)
            .map(|client| {
                let (stats, stop, protocol) = (stats.clone(), stop.clone(), protocol.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        connection(port, &protocol, client, &stats).await;
                    }
                })
            })
            .collect();
        Load { stats, stop, tasks }
    }

    /// Waits until `n` more round trips were answered.
    async fn progress(&self, n: u64) {
        let target = self.stats.round_trips.load(Ordering::Relaxed) + n;
        let deadline = Instant::now() + WAIT;
        while self.stats.round_trips.load(Ordering::Relaxed) < target {
            assert!(
                Instant::now() < deadline,
                "no progress: {}",
                self.stats.summary()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) -> Arc<Stats> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("clients finish")
                .unwrap();
        }
        self.stats
    }
}

/// One connection of one client: connect, (greeting,) 20 round trips, close.
async fn connection(port: u16, protocol: &Protocol, client: usize, stats: &Stats) {
    let tcp = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(tcp) => tcp,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            stats.fail(&stats.refused, format!("connect: {e}"));
            tokio::time::sleep(Duration::from_millis(10)).await;
            return;
        }
        Err(e) => return stats.fail(&stats.resets, format!("connect: {e}")),
    };
    stats.connections.fetch_add(1, Ordering::Relaxed);
    match &protocol.tls {
        Some(config) => match tls_support::rustls_handshake(tcp, config.clone()).await {
            Ok(tls) => round_trips(tls, protocol.greets, client, stats).await,
            Err(e) => stats.fail(&stats.resets, format!("handshake: {e}")),
        },
        None => round_trips(tcp, protocol.greets, client, stats).await,
    }
}

async fn round_trips<S>(stream: S, greets: bool, client: usize, stats: &Stats)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut stream = tokio::io::BufStream::new(stream);
    if greets {
        let mut greeting = String::new();
        match tokio::time::timeout(WAIT, stream.read_line(&mut greeting)).await {
            Ok(Ok(n)) if n > 0 => {
                let pid = greeting
                    .split("pid ")
                    .nth(1)
                    .unwrap_or("?")
                    .trim()
                    .to_owned();
                stats.greeters.lock().unwrap().insert(pid);
            }
            other => return stats.fail(&stats.resets, format!("greeting: {other:?}")),
        }
    }
    for i in 0..ROUND_TRIPS_PER_CONNECTION {
        let line = format!("client {client} line {i}");
        match echo(&mut stream, &line).await {
            Ok(reply) if reply == line => {
                stats.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            Ok(reply) => {
                return stats.fail(&stats.unanswered, format!("{line:?} answered {reply:?}"));
            }
            Err(e) => return stats.fail(&stats.resets, format!("{line:?}: {e}")),
        }
    }
}

// ----- a deployment: a binary in its own directory, replaced and signalled -----

struct Deployment {
    dir: TempDir,
    binary: PathBuf,
    pid_file: PathBuf,
    server: ServerProcess,
    port: u16,
}

impl Deployment {
    /// Copies `example` to a directory of its own and starts it from there.
    fn start(example: &str, extra: &[&str]) -> Self {
        Self::start_with_env(example, extra, &[])
    }

    /// [`start`](Self::start) with environment variables.
    fn start_with_env(example: &str, extra: &[&str], env: &[(&str, &OsStr)]) -> Self {
        nix::sys::prctl::set_child_subreaper(true).expect("become a child subreaper");
        let dir = TempDir::new(&format!("upgrade-{example}"));
        let binary = dir.path().join(example);
        std::fs::copy(example_path(example), &binary).unwrap();
        let pid_file = dir.path().join("server.pid");
        let pid_text = pid_file.display().to_string();
        let mut args = vec![
            "--port",
            "0",
            "--address",
            "127.0.0.1",
            "--pid-file",
            &pid_text,
            "--shutdown-timeout",
            "20s",
        ];
        args.extend_from_slice(extra);
        let mut command = Command::new(&binary);
        command.args(&args).envs(env.iter().copied());
        let server = ServerProcess::spawn_command(&mut command);
        let deployment = Deployment {
            port: 0,
            dir,
            binary,
            pid_file,
            server,
        };
        let deadline = Instant::now() + WAIT;
        let listening =
            |d: &Deployment| !tcpserver_tests::proc::listening_addrs(&d.server.stderr()).is_empty();
        while deployment.pid().is_none() || !listening(&deployment) {
            assert!(
                Instant::now() < deadline,
                "{example} never wrote its pid file; stderr:\n{}",
                deployment.server.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let addrs = tcpserver_tests::proc::listening_addrs(&deployment.server.stderr());
        Deployment {
            port: addrs[0].port(),
            ..deployment
        }
    }

    /// The pid in the pid file.
    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Puts `contents` where the binary is, as a deployment does: a new file renamed over
    /// the old one (which keeps running).
    fn replace_binary(&self, contents: &[u8]) {
        let new = self.dir.path().join(".new");
        std::fs::write(&new, contents).unwrap();
        std::fs::set_permissions(&new, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        std::fs::rename(&new, &self.binary).unwrap();
        // A child another test thread forked while the file was open for writing holds it
        // open until that child execs; executing the file before then fails with ETXTBSY.
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Replaces the binary with a new build of the same example and upgrades to it: the
    /// pid file names a new process, and the old one exits 0 after its drain.
    async fn upgrade(&self, example: &str) -> u32 {
        let old = self.pid().unwrap();
        self.replace_binary(&std::fs::read(example_path(example)).unwrap());
        kill(Pid::from_raw(old as i32), Signal::SIGUSR2).unwrap();
        let deadline = Instant::now() + WAIT;
        let new = loop {
            match self.pid() {
                Some(pid) if pid != old => break pid,
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "no new pid after SIGUSR2; stderr:\n{}",
                self.server.stderr()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(
            exit_status(old).await,
            WaitStatus::Exited(Pid::from_raw(old as i32), 0),
            "{}",
            self.server.stderr()
        );
        assert!(is_running(new), "the new process runs");
        new
    }

    /// SIGTERM to the serving process: it exits 0 and leaves no process behind.
    async fn stop(&self) {
        let pid = self.pid().unwrap();
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM).unwrap();
        assert_eq!(
            exit_status(pid).await,
            WaitStatus::Exited(Pid::from_raw(pid as i32), 0),
            "{}",
            self.server.stderr()
        );
        assert!(!self.pid_file.exists(), "the pid file is removed at exit");
        let deadline = Instant::now() + WAIT;
        while !processes_in_group(self.server.pid()).is_empty() {
            assert!(
                Instant::now() < deadline,
                "left behind: {:?}",
                processes_in_group(self.server.pid())
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits (up to 30 s) for a child of this process, or an orphan it inherited, to exit.
async fn exit_status(pid: u32) -> WaitStatus {
    let pid = Pid::from_raw(pid as i32);
    let deadline = Instant::now() + WAIT;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
            Ok(status) => return status,
            Err(e) => panic!("waitpid({pid}): {e}"),
        }
        assert!(Instant::now() < deadline, "{pid} did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is_running(pid: u32) -> bool {
    kill(Pid::from_raw(pid as i32), None).is_ok()
}

/// Three upgrades in a row under load: every round trip answered, nothing refused or reset.
async fn three_upgrades(example: &str, extra: &[&str], protocol: Protocol) -> Arc<Stats> {
    let deployment = Deployment::start(example, extra);
    let load = Load::start(deployment.port, protocol);
    load.progress(1000).await;
    let mut pids = vec![deployment.pid().unwrap()];
    for _ in 0..3 {
        pids.push(deployment.upgrade(example).await);
        load.progress(1000).await;
    }
    let stats = load.finish().await;
    eprintln!("{example}: pids {pids:?}");
    deployment.stop().await;
    if std::env::var_os("UPGRADE_TEST_LOG").is_some() {
        eprintln!("{}", deployment.server.stderr());
    }
    stats.assert_clean();
    let stderr = deployment.server.stderr();
    assert_eq!(
        stderr
            .matches("the new process serves; shutting down")
            .count(),
        3 * extra
            .windows(2)
            .find(|w| w[0] == "--processes")
            .map_or(1, |w| w[1].parse::<usize>().unwrap()),
        "{stderr}"
    );
    stats
}

fn plain() -> Protocol {
    Protocol {
        tls: None,
        greets: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_three_upgrades_under_load() {
    three_upgrades("echo", &[], plain()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefork_three_upgrades_under_load() {
    let protocol = Protocol {
        tls: None,
        greets: true,
    };
    let stats = three_upgrades("prefork", &["--processes", "2"], protocol).await;
    // Two workers of each of the four generations greeted clients.
    let greeters = stats.greeters.lock().unwrap().len();
    assert!(greeters >= 5, "{greeters} worker pids greeted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_echo_three_upgrades_under_load() {
    let pem = example_cert("server.pem").display().to_string();
    let protocol = Protocol {
        tls: Some(client_config(&example_cert("ca.pem"), None, &[])),
        greets: false,
    };
    three_upgrades("tls_echo", &["--tls", &pem], protocol).await;
}

/// A new binary that fails at start-up, then one that never serves: the old process serves
/// on, refusing nothing, and a good upgrade still works afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_upgrades_leave_the_old_server_serving() {
    let deployment = Deployment::start("echo", &["--upgrade-timeout", "2s"]);
    let old = deployment.pid().unwrap();
    let load = Load::start(deployment.port, plain());
    load.progress(300).await;

    deployment.replace_binary(b"#!/bin/sh\necho 'new build: broken' >&2\nexit 3\n");
    kill(Pid::from_raw(old as i32), Signal::SIGUSR2).unwrap();
    assert!(
        deployment.server.wait_for_stderr(
            "exited with status 3 before it was ready; still serving",
            WAIT
        ),
        "{}",
        deployment.server.stderr()
    );
    load.progress(300).await;

    // A binary that runs but never says it serves (it does not even accept).
    deployment.replace_binary(b"#!/bin/sh\nexec sleep 1000\n");
    kill(Pid::from_raw(old as i32), Signal::SIGUSR2).unwrap();
    assert!(
        deployment
            .server
            .wait_for_stderr("waiting for it to serve", WAIT)
    );
    let hung = sleeping_successor(old);
    kill(Pid::from_raw(old as i32), Signal::SIGUSR2).unwrap();
    assert!(
        deployment
            .server
            .wait_for_stderr("during an upgrade (new process pid", WAIT),
        "a second SIGUSR2 is refused: {}",
        deployment.server.stderr()
    );
    assert!(
        deployment
            .server
            .wait_for_stderr("was not ready within 2s; killed it; still serving", WAIT),
        "{}",
        deployment.server.stderr()
    );
    assert!(
        !is_running(hung),
        "the hung binary was killed and collected"
    );
    load.progress(300).await;
    assert_eq!(
        deployment.pid(),
        Some(old),
        "the pid file still names the old process"
    );
    assert!(is_running(old));

    // A good build after the failures.
    let new = deployment.upgrade("echo").await;
    assert_ne!(new, old);
    load.progress(300).await;
    let stats = load.finish().await;
    deployment.stop().await;
    stats.assert_clean();
}

/// Under systemd: the old process says `RELOADING=1` when the new one starts, then
/// `MAINPID=` with the new pid and `READY=1` once it serves, and nothing after that (no
/// `STOPPING=1` while it drains: the service is not stopping); the new process answers the
/// watchdog and says `STOPPING=1` at its own stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_under_systemd_hands_over_the_main_pid() {
    let notify = tcpserver_tests::notify::NotifySocket::new();
    let env = [
        ("NOTIFY_SOCKET", notify.path.as_os_str()),
        ("WATCHDOG_USEC", OsStr::new("400000")),
    ];
    let deployment = Deployment::start_with_env("prefork", &["--processes", "2"], &env);
    let old = deployment.pid().unwrap();
    assert!(
        notify
            .until("READY=1")
            .last()
            .unwrap()
            .contains("2 worker(s)")
    );
    let load = Load::start(
        deployment.port,
        Protocol {
            tls: None,
            greets: true,
        },
    );
    load.progress(300).await;
    let new = deployment.upgrade("prefork").await;
    let messages = notify.until(&format!("MAINPID={new}"));
    let handed = messages.last().unwrap();
    assert!(handed.contains("READY=1"), "{handed}");
    assert!(
        messages.iter().any(|m| m.contains("RELOADING=1")
            && m.contains("MONOTONIC_USEC=")
            && m.contains("upgrading")),
        "{messages:?}"
    );
    // The old process has exited (checked by `upgrade`); the new one answers the watchdog.
    let after = notify.until("WATCHDOG=1");
    assert!(
        !after.iter().any(|m| m.contains("STOPPING=1")),
        "the old process announced a stop: {after:?}"
    );
    load.progress(300).await;
    let stats = load.finish().await;
    kill(Pid::from_raw(new as i32), Signal::SIGTERM).unwrap();
    let stopping = notify.until("STOPPING=1");
    assert!(
        !stopping.iter().any(|m| m.contains("MAINPID")),
        "{stopping:?}"
    );
    assert_ne!(old, new);
    assert_eq!(
        exit_status(new).await,
        WaitStatus::Exited(Pid::from_raw(new as i32), 0)
    );
    stats.assert_clean();
}

/// The pid of the `sleep` the old process started as its successor.
fn sleeping_successor(parent: u32) -> u32 {
    let deadline = Instant::now() + WAIT;
    loop {
        let children = tcpserver_tests::proc::child_pids(parent);
        if let Some(pid) = children.into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.starts_with("sleep"))
        }) {
            return pid;
        }
        assert!(Instant::now() < deadline, "no sleeping successor");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ----- a fleet behind HAProxy -----

/// HAProxy (HTTP mode) in front of `servers` as `(application port, admin port)`, health
/// checked on each server's `/readyz`, with a stats page. Strict on purpose: one request
/// per server connection and no retries, so that any refused or reset connection to a
/// server is a failed request at the client. Returns the process, the front port and the
/// stats port.
fn haproxy(dir: &std::path::Path, servers: &[(u16, u16)]) -> (std::process::Child, u16, u16) {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (front, stats) = (free(), free());
    let mut config = format!(
        "global\n    maxconn 1000\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         \x20   option http-server-close\n    retries 0\n\
         frontend front\n    bind 127.0.0.1:{front}\n    default_backend fleet\n\
         listen stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n\
         backend fleet\n    balance roundrobin\n    option httpchk GET /readyz\n\
         \x20   http-check expect status 200\n"
    );
    for (i, (port, admin)) in servers.iter().enumerate() {
        config.push_str(&format!(
            "    server s{i} 127.0.0.1:{port} check port {admin} inter 100ms fall 2 rise 1\n"
        ));
    }
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("haproxy is not installed (scripts/test-all installs it)");
    (child, front, stats)
}

/// Per server of HAProxy's backend `fleet`: `(name, sessions, 2xx responses)`, from the
/// stats page's CSV.
async fn fleet_stats(stats: u16) -> Vec<(String, u64, u64)> {
    let csv = http_get(stats, "/stats;csv").await.expect("stats page").1;
    // The page may come chunked: the CSV starts at its `# ` header line.
    let mut lines = csv.lines().skip_while(|l| !l.starts_with("# "));
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name} in the stats page: {csv:?}"))
    };
    let (svname, stot, ok) = (column("svname"), column("stot"), column("hrsp_2xx"));
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == "fleet" && f.len() > ok && f[svname].starts_with('s'))
        .map(|f| {
            (
                f[svname].to_owned(),
                f[stot].parse().unwrap_or(0),
                f[ok].parse().unwrap_or(0),
            )
        })
        .collect()
}

/// One `GET` on a new connection: the status and the body, or why it failed.
async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // HTTP/1.0: the body comes whole, never chunked.
    let request = format!("GET {path} HTTP/1.0\r\nHost: fleet\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not a response: {text:?}"))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    Ok((status, body))
}

/// Three `http_hello` instances behind HAProxy, upgraded one after another while clients
/// send requests through HAProxy the whole time: not one request fails, and every
/// instance served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_upgrade_of_a_fleet_behind_haproxy() {
    let instances: Vec<Deployment> = (0..3)
        .map(|_| Deployment::start("http_hello", &["--admin-address", "127.0.0.1:0"]))
        .collect();
    let servers: Vec<(u16, u16)> = instances
        .iter()
        .map(|d| (d.port, tcpserver_tests::admin::admin_addr(&d.server).port()))
        .collect();
    let (mut proxy, front, stats) = haproxy(instances[0].dir.path(), &servers);
    // Every server up in HAProxy's eyes before the load starts.
    let deadline = Instant::now() + WAIT;
    while http_get(front, "/").await.map(|r| r.0) != Ok(200) {
        assert!(Instant::now() < deadline, "HAProxy never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match http_get(front, "/").await {
                        Ok((200, body)) if body == "Hello, world" => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => failed.lock().unwrap().push(format!("{other:?}")),
                    }
                }
            })
        })
        .collect();
    let served = || ok.load(Ordering::Relaxed);
    let progress = |n: u64| {
        let target = served() + n;
        async move {
            let deadline = Instant::now() + WAIT;
            while served() < target {
                assert!(Instant::now() < deadline, "no progress through HAProxy");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    progress(1000).await;
    let before = fleet_stats(stats).await;
    for instance in &instances {
        instance.upgrade("http_hello").await;
        progress(1000).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        tokio::time::timeout(WAIT, client).await.unwrap().unwrap();
    }
    let after = fleet_stats(stats).await;
    let _ = proxy.kill();
    let _ = proxy.wait();
    for instance in &instances {
        instance.stop().await;
    }

    let failed = failed.lock().unwrap();
    eprintln!(
        "fleet: {} requests through HAProxy, {} failed; per server (sessions, 2xx) before {before:?}, after {after:?}",
        served(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "failed requests: {:?}",
        &failed[..failed.len().min(10)]
    );
    assert_eq!(after.len(), 3, "{after:?}");
    for ((name, sessions, ok), (_, before_sessions, _)) in after.iter().zip(&before) {
        assert!(
            *sessions > *before_sessions && *ok > 0,
            "{name} served nothing during the rolling upgrade: {after:?}"
        );
    }
}

/// `--reuse-port`: each worker's own socket is handed to the new worker with the same
/// number, so that after the upgrade every socket still has exactly one worker accepting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reuse_port_sockets_go_to_the_new_workers_with_the_same_number() {
    let protocol = Protocol {
        tls: None,
        greets: true,
    };
    let deployment = Deployment::start("prefork", &["--processes", "2", "--reuse-port"]);
    let load = Load::start(deployment.port, protocol);
    load.progress(1000).await;
    let new = deployment.upgrade("prefork").await;
    load.progress(1000).await;
    let stats = load.finish().await;
    assert_one_worker_per_socket(deployment.port, new);
    deployment.stop().await;
    stats.assert_clean();
}

/// The two workers of `main` each accept on exactly one of the two sockets on `port`.
fn assert_one_worker_per_socket(port: u16, main: u32) {
    let workers = tcpserver_tests::proc::child_pids(main);
    assert_eq!(workers.len(), 2, "{workers:?}");
    let out = Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(listing.lines().count(), 2, "{listing}");
    for line in listing.lines() {
        let accepting: Vec<_> = workers
            .iter()
            .filter(|pid| line.contains(&format!("pid={pid},")))
            .collect();
        assert_eq!(accepting.len(), 1, "one worker per socket: {line}");
    }
}

/// `--unix`: the Unix socket crosses an upgrade like the TCP ones (the same socket: its
/// file is not bound again), every new worker serves it, and beside it the `SO_REUSEPORT`
/// workers' sockets still go to the workers with the same number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_is_handed_over_beside_reuse_port_sockets() {
    use std::os::unix::fs::MetadataExt;
    let dir = TempDir::new("upgrade-unix");
    let path = dir.path().join("prefork.sock");
    let unix = path.to_str().unwrap();
    let args = ["--processes", "2", "--reuse-port", "--unix", unix];
    let deployment = Deployment::start("prefork", &args);
    let inode = std::fs::metadata(&path).unwrap().ino();
    let greeters = |main: u32| {
        let workers = tcpserver_tests::proc::child_pids(main);
        let mut seen = std::collections::HashSet::new();
        let deadline = Instant::now() + WAIT;
        while seen.len() < 2 && Instant::now() < deadline {
            let mut client = tcpserver_tests::LineClient::connect_unix(&path).unwrap();
            let greeting = client.recv().unwrap().expect("greeting");
            let pid: u32 = greeting.split_whitespace().nth(3).unwrap().parse().unwrap();
            assert!(workers.contains(&pid), "{greeting}: not one of {workers:?}");
            assert_eq!(client.roundtrip("over unix").unwrap(), "over unix");
            seen.insert(pid);
        }
        assert_eq!(seen.len(), 2, "{}", deployment.server.stderr());
    };
    greeters(deployment.pid().unwrap());
    let new = deployment.upgrade("prefork").await;
    greeters(new);
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
    assert_one_worker_per_socket(deployment.port, new);
    deployment.stop().await;
}
