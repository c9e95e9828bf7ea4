//! Run by a service manager: sockets handed over by `systemd-socket-activate` (systemd's
//! own tool, which sets `LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES` and execs the server on
//! the first connection) to `echo` and to `prefork` with two workers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tcpserver_tests::LineClient;
use tcpserver_tests::notify::NotifySocket;
use tcpserver_tests::proc::{ServerProcess, example_path};

const WAIT: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `systemd-socket-activate -l LISTEN EXAMPLE ARGS...`, once it listens.
fn activate(listen: &str, extra: &[&str], example: &str, args: &[&str]) -> ServerProcess {
    let mut command = Command::new("systemd-socket-activate");
    command
        .args(["-l", listen])
        .args(extra)
        .arg(example_path(example))
        .args(args);
    let process = ServerProcess::spawn_command(&mut command);
    let deadline = Instant::now() + WAIT;
    while !process.stderr().contains("Listening on") {
        assert!(
            Instant::now() < deadline,
            "systemd-socket-activate did not listen (scripts/test-all installs systemd): {}",
            process.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    process
}

#[test]
fn echo_serves_the_socket_systemd_passes() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // The port and Unix socket flags lose to the inherited socket, and it says so.
    let args = ["--port", "1", "--unix", "/nonexistent/echo.sock"];
    let server = activate(&listen, &["--fdname=echo"], "echo", &args);
    let addr: SocketAddr = listen.parse().unwrap();
    let mut client = LineClient::connect(addr).unwrap();
    assert_eq!(client.roundtrip("activated").unwrap(), "activated");
    let mut second = LineClient::connect(addr).unwrap();
    assert_eq!(second.roundtrip("again").unwrap(), "again");
    let stderr = server.stderr();
    assert!(
        stderr.contains(&format!("listening on {listen}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "serving the 1 socket(s) the service manager passed (LISTEN_FDS); ignoring --port, --unix"
        ),
        "{stderr}"
    );
    drop((client, second));
    server.stop();
}

#[test]
fn prefork_workers_share_the_passed_socket() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = activate(&listen, &[], "prefork", &["--processes", "2"]);
    let addr: SocketAddr = listen.parse().unwrap();
    let mut tasks = std::collections::HashSet::new();
    let deadline = Instant::now() + WAIT;
    while tasks.len() < 2 {
        assert!(Instant::now() < deadline, "saw only tasks {tasks:?}");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut greeting = [0u8; 64];
        let n = stream.read(&mut greeting).unwrap();
        let greeting = String::from_utf8_lossy(&greeting[..n]).into_owned();
        tasks.insert(greeting.split(' ').nth(1).unwrap_or_default().to_owned());
    }
    assert_eq!(tasks, ["0", "1"].map(str::to_owned).into());
    server.stop();
}

#[test]
fn a_unix_socket_from_systemd() {
    let dir = std::env::temp_dir().join(format!(
        "tcpserver-sd-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let server = activate(path.to_str().unwrap(), &[], "echo", &[]);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(b"over unix\n").unwrap();
    let mut reply = [0u8; 10];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"over unix\n");
    assert!(
        server
            .stderr()
            .contains(&format!("listening on unix:{}", path.display())),
        "{}",
        server.stderr()
    );
    drop(stream);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_datagram_socket_is_refused_with_one_line() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = activate(&listen, &["--datagram"], "echo", &[]);
    // A datagram socket is activated by its first datagram.
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"wake", &listen)
        .unwrap();
    let status = server.wait_timeout(WAIT).expect("exit");
    assert_eq!(status.code(), Some(1), "{}", server.stderr());
    let stderr = server.stderr();
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(ours.len(), 1, "{stderr}");
    assert!(ours[0].contains("is not a stream socket"), "{stderr}");
}

// ----- readiness notification (NOTIFY_SOCKET) -----

fn with_notify(
    example: &str,
    args: &[&str],
    notify: &NotifySocket,
    watchdog_usec: Option<&str>,
) -> ServerProcess {
    let mut command = Command::new(example_path(example));
    command.args(args).env("NOTIFY_SOCKET", &notify.path);
    if let Some(usec) = watchdog_usec {
        command.env("WATCHDOG_USEC", usec);
    }
    let mut server = ServerProcess::spawn_command(&mut command);
    let deadline = Instant::now() + WAIT;
    while tcpserver_tests::proc::listening_addrs(&server.stderr()).is_empty() {
        assert!(Instant::now() < deadline, "{}", server.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
    server.addrs = tcpserver_tests::proc::listening_addrs(&server.stderr());
    server
}

/// Task ids seen greeting connections to a prefork server, until both are seen.
fn both_workers_answer(addr: SocketAddr) {
    let mut tasks = std::collections::HashSet::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut greeting = [0u8; 64];
        let n = stream.read(&mut greeting).unwrap();
        let greeting = String::from_utf8_lossy(&greeting[..n]).into_owned();
        tasks.insert(greeting.split(' ').nth(1).unwrap_or_default().to_owned());
        if tasks.len() == 2 {
            return;
        }
    }
    panic!("only tasks {tasks:?} answered");
}

#[test]
fn prefork_notifies_ready_reloading_watchdog_and_stopping() {
    let notify = NotifySocket::new();
    let args = ["--port", "0", "--address", "127.0.0.1", "--processes", "2"];
    let server = with_notify("prefork", &args, &notify, Some("200000"));
    let before_ready = notify.until("READY=1");
    let ready = before_ready.last().unwrap();
    assert!(ready.contains("STATUS=serving, 2 worker(s)"), "{ready}");
    // READY=1 means every worker accepts.
    both_workers_answer(server.addr());
    // WATCHDOG=1 at half of WATCHDOG_USEC (200 ms): a few within a second.
    let started = Instant::now();
    notify.until("WATCHDOG=1");
    notify.until("WATCHDOG=1");
    assert!(started.elapsed() < Duration::from_secs(2));
    // SIGHUP: RELOADING=1 with the monotonic clock, then READY=1 once every worker reloaded.
    server.signal(Signal::SIGHUP);
    let reloading = notify.until("RELOADING=1");
    let reloading = reloading.last().unwrap();
    assert!(
        reloading.lines().any(|l| l
            .strip_prefix("MONOTONIC_USEC=")
            .is_some_and(|v| v.parse::<u64>().is_ok())),
        "{reloading}"
    );
    assert!(notify.until("READY=1").last().unwrap().contains("reloaded"));
    server.signal(Signal::SIGTERM);
    assert!(
        notify
            .until("STOPPING=1")
            .last()
            .unwrap()
            .contains("STATUS=stopping")
    );
    server.stop();
}

#[test]
fn one_process_notifies_too() {
    let notify = NotifySocket::new();
    let server = with_notify(
        "echo",
        &["--port", "0", "--address", "127.0.0.1"],
        &notify,
        None,
    );
    assert!(
        notify
            .until("READY=1")
            .last()
            .unwrap()
            .contains("STATUS=serving")
    );
    let mut client = LineClient::connect(server.addr()).unwrap();
    assert_eq!(client.roundtrip("ready").unwrap(), "ready");
    drop(client);
    server.signal(Signal::SIGHUP);
    notify.until("RELOADING=1");
    notify.until("READY=1");
    server.signal(Signal::SIGTERM);
    notify.until("STOPPING=1");
    server.stop();
}

#[test]
fn without_notify_socket_nothing_is_sent_and_nothing_breaks() {
    let server = ServerProcess::start("echo", &["--port", "0", "--address", "127.0.0.1"]);
    let mut client = LineClient::connect(server.addr()).unwrap();
    assert_eq!(client.roundtrip("quiet").unwrap(), "quiet");
    drop(client);
    server.stop();
}

// ----- drain for rolling updates -----

/// GET / with keep-alive: the body and whether the server asked to close; `Err(true)` if
/// the connection ended before any byte of a response (an idle keep-alive connection the
/// server closed as the request went out: HTTP clients retry those, RFC 9112 §9.3.1),
/// `Err(false)` for any other failure.
fn get(stream: &mut TcpStream) -> Result<(String, bool), bool> {
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .is_err()
    {
        return Err(true);
    }
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => response.push(byte[0]),
            _ => return Err(response.is_empty()),
        }
    }
    let head = String::from_utf8_lossy(&response).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") {
        return Err(false);
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(false)?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).map_err(|_| false)?;
    Ok((
        String::from_utf8_lossy(&body).into_owned(),
        head.contains("connection: close"),
    ))
}

#[test]
fn requests_flowing_through_sigterm_with_a_drain_delay_all_succeed() {
    let args = [
        "--port",
        "0",
        "--address",
        "127.0.0.1",
        "--drain-delay",
        "1.5",
        "--shutdown-timeout",
        "5",
    ];
    let mut server = ServerProcess::start("http_hello", &args);
    let addr = server.addr();
    let connect = || {
        let stream = TcpStream::connect(addr).expect("accepting during the drain");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream
    };
    let mut stream = connect();
    let (mut requests, mut reconnects, mut retries) = (0, 0, 0);
    let mut signalled: Option<Instant> = None;
    // Requests keep flowing from before SIGTERM until well into the drain, as from a load
    // balancer that has not yet taken the server out.
    loop {
        let (body, close) = match get(&mut stream) {
            Ok(reply) => reply,
            // The standard retry of an idle keep-alive connection closed under the request,
            // on a new connection, which the draining server must serve.
            Err(true) => {
                retries += 1;
                stream = connect();
                get(&mut stream)
                    .unwrap_or_else(|_| panic!("request {requests} failed on a new connection"))
            }
            Err(false) => panic!("request {requests} failed"),
        };
        assert_eq!(body, "Hello, world");
        requests += 1;
        if close {
            reconnects += 1;
            stream = connect();
        }
        if requests == 20 {
            server.signal(Signal::SIGTERM);
            signalled = Some(Instant::now());
        }
        if signalled.is_some_and(|at| at.elapsed() > Duration::from_millis(1000)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        reconnects + retries >= 1,
        "keep-alive connections are told to close during the drain"
    );
    assert!(
        retries <= 1,
        "only the connection idle at SIGTERM may close under a request"
    );
    drop(stream);
    assert!(
        server.wait_for_stderr("draining for 1500ms", WAIT),
        "{}",
        server.stderr()
    );
    let status = server.wait_timeout(WAIT).expect("exit after the drain");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    // The port closed only after the drain delay.
    let waited = signalled.unwrap().elapsed();
    assert!(waited >= Duration::from_millis(1400), "{waited:?}");
    assert!(TcpStream::connect(addr).is_err());
}
