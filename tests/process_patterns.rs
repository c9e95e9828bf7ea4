//! fork_processes and the three Tornado start-up patterns, in real processes: Tornado's
//! `tornado/test/tcpserver_test.py` `TestMultiprocess` (`test_listen_single`,
//! `test_bind_start`, `test_add_sockets`, `test_listen_multi_reuse_port`) and
//! `tornado/test/process_test.py` `ProcessTest.test_multi_process`, plus the supervisor's
//! improvements over Tornado, and a `Launcher` serving a Unix socket alone.
//!
//! libtest runs tests on threads, and a process with threads must not fork, so this test
//! has its own `main` (`harness = false`): it re-runs itself once per scenario, in a
//! fresh single-threaded process, and checks what that process printed and how it ended.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tcpserver::netutil::{DEFAULT_BACKLOG, Family, bind_sockets};
use tcpserver::process::{self, Outcome, Started, Supervisor};
use tcpserver::{IoStream, TcpServer};
use tcpserver_tests::proc::processes_in_group;

const SCENARIOS: &[(&str, fn())] = &[
    ("listen_single", listen_single),
    ("bind_start", bind_start),
    ("add_sockets", add_sockets),
    ("listen_multi_reuse_port", listen_multi_reuse_port),
    ("multi_process", multi_process),
    ("exit_zero_is_not_restarted", exit_zero_is_not_restarted),
    ("too_many_restarts", too_many_restarts),
    ("fork_twice", fork_twice),
    ("fork_with_threads", fork_with_threads),
    ("pids", pids),
    ("sighup_before_handlers", sighup_before_handlers),
    ("launcher_unix_only", launcher_unix_only),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(name) = args.first().and_then(|a| a.strip_prefix("scenario:")) {
        let run = SCENARIOS
            .iter()
            .find(|(n, _)| *n == name)
            .expect("scenario")
            .1;
        run();
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let mut failed = 0;
    for (name, _) in SCENARIOS {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let started = Instant::now();
        let result = std::panic::catch_unwind(|| check(name, &run_scenario(name)));
        let outcome = if result.is_ok() { "ok" } else { "FAILED" };
        println!("test {name} ... {outcome} ({:.1?})", started.elapsed());
        failed += usize::from(result.is_err());
    }
    println!("process_patterns: {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Runs one scenario in a fresh process group; returns what it printed. Panics if any
/// process of the group outlives it.
fn run_scenario(name: &str) -> Output {
    use std::os::unix::process::CommandExt;
    let child = Command::new(std::env::current_exe().unwrap())
        .arg(format!("scenario:{name}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("scenario {name} did not finish in 60 s");
        }
    };
    let left = tcpserver_tests::wait_until(Duration::from_secs(2), || {
        processes_in_group(pgid).is_empty()
    });
    assert!(
        left,
        "scenario {name} left processes behind: {:?}",
        processes_in_group(pgid)
    );
    output
}

fn check(name: &str, out: &Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    let show = || format!("{name}: exit {code:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let sorted = |s: &str| {
        let mut c: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
        c.sort_unstable();
        c.into_iter().collect::<String>()
    };
    match name {
        "listen_single" => {
            assert_eq!(code, Some(0), "{}", show());
            assert_eq!(stdout, "served\n", "{}", show());
            assert!(stderr.is_empty(), "{}", show());
        }
        "bind_start" | "add_sockets" | "listen_multi_reuse_port" => {
            assert_eq!(code, Some(0), "{}", show());
            assert_eq!(sorted(&stdout), "012", "{}", show());
            assert!(stderr.is_empty(), "{}", show());
        }
        "multi_process" => {
            assert_eq!(code, Some(0), "{}", show());
            assert!(stderr.contains("Starting 3 processes"), "{}", show());
            assert!(
                stderr.contains("exited with status 2, restarting"),
                "{}",
                show()
            );
            assert!(
                stderr.contains("exited with status 3, restarting"),
                "{}",
                show()
            );
            assert!(
                stderr.contains("exited with status 4, restarting"),
                "{}",
                show()
            );
            assert_eq!(stderr.matches("exited normally").count(), 3, "{}", show());
            assert!(!stderr.contains("giving up"), "{}", show());
            assert!(stdout.contains("driver done"), "{}", show());
        }
        "exit_zero_is_not_restarted" => {
            assert_eq!(code, Some(0), "{}", show());
            assert_eq!(stderr.matches("exited normally").count(), 2, "{}", show());
            assert!(!stderr.contains("restarting"), "{}", show());
        }
        "too_many_restarts" => {
            assert_eq!(code, Some(1), "{}", show());
            assert!(
                stderr.contains("Too many child restarts, giving up"),
                "{}",
                show()
            );
            assert_eq!(
                stderr.matches("status 7, restarting").count(),
                3,
                "{}",
                show()
            );
            // The healthy worker was stopped, not orphaned (run_scenario checks the group).
            assert!(stdout.contains("healthy worker stopped"), "{}", show());
        }
        "fork_twice" => {
            assert_eq!(code, Some(0), "{}", show());
            assert_eq!(
                stdout.matches("second fork refused").count(),
                2,
                "{}",
                show()
            );
        }
        "fork_with_threads" => {
            assert_eq!(code, Some(0), "{}", show());
            assert!(stdout.contains("refused: cannot fork"), "{}", show());
            assert!(stdout.contains("threads"), "{}", show());
        }
        "pids" => {
            assert_eq!(code, Some(0), "{}", show());
            let spawned: Vec<&str> = stdout
                .lines()
                .filter(|l| l.starts_with("spawned"))
                .collect();
            let workers: Vec<&str> = stdout.lines().filter(|l| l.starts_with("worker")).collect();
            assert_eq!(spawned.len(), 2, "{}", show());
            let mut a: Vec<String> = spawned
                .iter()
                .map(|l| l.replacen("spawned", "", 1))
                .collect();
            let mut b: Vec<String> = workers
                .iter()
                .map(|l| l.replacen("worker", "", 1))
                .collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "{}", show());
            assert!(stdout.contains("pids() agrees"), "{}", show());
        }
        "sighup_before_handlers" => {
            assert_eq!(code, Some(0), "{}", show());
            assert!(stderr.contains("passing it on"), "{}", show());
            assert!(stderr.contains("exited normally"), "{}", show());
            assert!(!stderr.contains("killed by signal"), "{}", show());
        }
        "launcher_unix_only" => {
            assert_eq!(code, Some(0), "{}", show());
            assert_eq!(stdout, "served\nexit 0\n", "{}", show());
            let listening: Vec<&str> = stderr
                .lines()
                .filter(|l| l.contains("listening on"))
                .collect();
            assert_eq!(listening.len(), 1, "{}", show());
            assert!(listening[0].contains("listening on unix:"), "{}", show());
        }
        _ => unreachable!(),
    }
}

// ----- scenarios: each runs in its own fresh process -----

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes()).unwrap();
    out.flush().unwrap();
}

/// Connects and reads one line.
fn fetch_line(addr: SocketAddr, request: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request.as_bytes())?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    Ok(line)
}

async fn reply_task_id(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    stream
        .write(format!("{}\n", process::task_id().unwrap_or(99)).as_bytes())
        .await
}

fn listen_single() {
    runtime().block_on(async {
        let server = TcpServer::new(reply_task_id);
        let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
        let line = tokio::task::spawn_blocking(move || fetch_line(addr, ""))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line, "99\n");
        print("served\n");
    });
}

fn bind_start() {
    let server = TcpServer::new(reply_task_id);
    server.bind(0, Some("127.0.0.1")).unwrap();
    let id = server.start(3, None).unwrap().expect("a worker");
    runtime().block_on(async {});
    print(&id.to_string());
}

fn add_sockets() {
    let sockets =
        bind_sockets(0, Some("127.0.0.1"), Family::Unspec, DEFAULT_BACKLOG, false).unwrap();
    let id = process::fork_processes(3, None).unwrap();
    runtime().block_on(async {
        TcpServer::new(reply_task_id).add_sockets(sockets).unwrap();
    });
    print(&id.to_string());
}

fn listen_multi_reuse_port() {
    // Hold the port, with SO_REUSEPORT, for the workers to bind again.
    let reserved =
        bind_sockets(0, Some("127.0.0.1"), Family::Unspec, DEFAULT_BACKLOG, true).unwrap();
    let port = reserved[0].local_addr().unwrap().port();
    let id = process::fork_processes(3, None).unwrap();
    runtime().block_on(async {
        let server = TcpServer::new(reply_task_id);
        server
            .listen_with(
                port,
                Some("127.0.0.1"),
                Family::Unspec,
                DEFAULT_BACKLOG,
                true,
            )
            .unwrap();
    });
    print(&id.to_string());
}

/// Tornado's `test_multi_process`: workers 0 and 1 serve commands on a shared socket;
/// worker 2 drives them through abnormal exits (restarted, same ids) and normal exits (not
/// restarted). Exactly `max_restarts` abnormal exits: no giving up.
fn multi_process() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let sockets =
        bind_sockets(0, Some("127.0.0.1"), Family::Unspec, DEFAULT_BACKLOG, false).unwrap();
    let addr = sockets[0].local_addr().unwrap();
    let id = process::fork_processes(3, Some(3)).unwrap();
    if id == 2 {
        drop(sockets);
        let get = |cmd: &str| fetch_line(addr, &format!("{cmd}\n"));
        // Two abnormal exits; the answer may be lost with the worker.
        let _ = get("exit 2");
        let _ = get("exit 3");
        // Both ids are served again.
        let pid_a = get("pid").unwrap();
        assert!(pid_a.trim().parse::<u32>().is_ok(), "{pid_a}");
        // A normal exit: that worker is gone for good.
        let _ = get("exit 0");
        let pid1 = get("pid").unwrap();
        let _ = get("exit 4");
        let pid2 = get("pid").unwrap();
        assert_ne!(pid1, pid2, "the worker should have been replaced");
        let _ = get("exit 0");
        print("driver done\n");
        std::process::exit(0);
    }
    runtime().block_on(async move {
        let server = TcpServer::new(|mut stream: IoStream, _addr: SocketAddr| async move {
            let line = stream.read_until(b"\n", Some(100)).await?;
            let cmd = String::from_utf8_lossy(&line).trim().to_owned();
            if let Some(code) = cmd.strip_prefix("exit ") {
                std::process::exit(code.parse().unwrap());
            }
            stream
                .write(format!("{}\n", std::process::id()).as_bytes())
                .await
        });
        server.add_sockets(sockets).unwrap();
        std::future::pending::<()>().await;
    });
}

fn exit_zero_is_not_restarted() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let id = process::fork_processes(2, None).unwrap();
    std::thread::sleep(Duration::from_millis(200 * id as u64));
    std::process::exit(0);
}

fn too_many_restarts() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let id = process::fork_processes(2, Some(2)).unwrap();
    if id == 1 {
        std::process::exit(7);
    }
    // Worker 0 is healthy: the supervisor must stop it (SIGTERM) when it gives up.
    runtime().block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        term.recv().await;
    });
    print("healthy worker stopped\n");
}

fn fork_twice() {
    let _id = process::fork_processes(2, None).unwrap();
    match process::fork_processes(2, None) {
        Err(e) => print(&format!("second fork refused: {e}\n")),
        Ok(_) => print("second fork allowed\n"),
    }
}

fn fork_with_threads() {
    let _thread = std::thread::spawn(|| std::thread::sleep(Duration::from_secs(5)));
    match process::fork_processes(2, None) {
        Err(e) => print(&format!("refused: {e}\n")),
        Ok(_) => {
            print("forked\n");
            std::process::exit(0);
        }
    }
}

fn pids() {
    let started = Supervisor::new(2)
        .on_spawn(|id, pid| print(&format!("spawned {id} {pid}\n")))
        .start()
        .unwrap();
    match started {
        Started::Worker(id) => {
            print(&format!("worker {id} {}\n", std::process::id()));
            std::thread::sleep(Duration::from_millis(300));
        }
        Started::Supervisor(supervision) => {
            let listed: Vec<String> = supervision
                .pids()
                .iter()
                .map(|(id, pid)| format!("{id} {pid}"))
                .collect();
            assert_eq!(listed.len(), 2);
            print("pids() agrees\n");
            match supervision.run().unwrap() {
                Outcome::Exit(code) => std::process::exit(code),
                Outcome::Worker(_) => unreachable!("no worker crashed"),
            }
        }
    }
}

/// A SIGHUP passed on to a worker that has no handler yet does not kill it.
fn sighup_before_handlers() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let _id = process::fork_processes(1, None).unwrap();
    let supervisor = nix::unistd::getppid();
    nix::sys::signal::kill(supervisor, nix::sys::signal::Signal::SIGHUP).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::process::exit(0);
}

/// `Launcher::new_unix`, what `#[tcp_server(unix = "...")]` without a port generates: the
/// Unix socket alone, no TCP port. A thread of this process is the client, then stops the
/// server with SIGTERM.
fn launcher_unix_only() {
    let path = std::env::temp_dir().join(format!("tcpserver-only-{}.sock", std::process::id()));
    let client_path = path.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match std::os::unix::net::UnixStream::connect(&client_path) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() > deadline => panic!("cannot connect: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        assert_eq!(line, "99\n");
        print("served\n");
        nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM)
            .unwrap();
    });
    let code = tcpserver::Launcher::new_unix(&path)
        .args(["unix-only", "--shutdown-timeout", "1"])
        .run(reply_task_id);
    let _ = std::fs::remove_file(&path);
    if code == std::process::ExitCode::SUCCESS {
        print("exit 0\n");
    }
}
