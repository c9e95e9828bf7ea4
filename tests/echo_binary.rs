//! The `echo` example run as a user would: the binary contract of DESIGN.md (listening
//! line, start-up errors, graceful SIGTERM/SIGINT) and accept-loop behaviour under
//! descriptor exhaustion, in a real child process.

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tcpserver_tests::LineClient;
use tcpserver_tests::proc::{ServerProcess, cpu_time, example_path};

const ARGS: &[&str] = &["--port", "0", "--address", "127.0.0.1"];

#[test]
fn listens_echoes_and_exits_zero_on_sigterm() {
    let mut server = ServerProcess::start("echo", ARGS);
    assert_eq!(server.addrs.len(), 1);
    assert!(server.addr().ip().is_loopback() && server.addr().port() != 0);
    let mut client = LineClient::connect(server.addr()).unwrap();
    assert_eq!(client.roundtrip("hello").unwrap(), "hello");
    drop(client);
    server.signal(Signal::SIGTERM);
    let status = server
        .wait_timeout(Duration::from_secs(10))
        .expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}

#[test]
fn help_lists_every_flag_with_its_default() {
    let out = Command::new(example_path("echo"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--address",
        "--family",
        "--backlog",
        "--reuse-port",
        "--processes",
        "--max-restarts",
        "--tls ",
        "--tls-cert",
        "--tls-key",
        "--tls-client-ca",
        "--max-buffer-size",
        "--read-chunk-size",
        "--max-connections",
        "--shutdown-timeout",
        "--runtime",
        "--worker-threads",
        "--tls-alpn",
        "--tls-sni",
        "--handshake-timeout",
        "--max-handshakes",
        "--proxy-protocol",
        "--proxy-trusted",
        "--proxy-timeout",
        "--unix <PATH>",
        "--unix-mode <MODE>",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(help.contains("[default: 8888]"), "{help}");
    assert!(help.contains("[default: 30s]"), "{help}");
    assert!(help.contains("[default: 0600]"), "{help}");
}

#[test]
fn bad_usage_exits_two() {
    for args in [
        &["--no-such-flag"][..],
        &["--port", "70000"],
        &["--max-buffer-size", "lots"],
        &["--tls-cert", "cert.pem"],
        &["--tls", "both.pem", "--tls-key", "key.pem"],
        &["--worker-threads", "0"],
        &["--port", "1", "--port", "2"],
        &["8888"],
        &["--proxy-protocol", "v3"],
        &["--proxy-protocol", "any", "--proxy-trusted", "10.0.0.1/8"],
        &["--proxy-trusted", "10.0.0.0/8"],
        &["--unix", ""],
        &["--unix", "/tmp/x.sock", "--unix-mode", "rw-rw----"],
        &["--unix", "/tmp/x.sock", "--unix-mode", "1777"],
    ] {
        let out = Command::new(example_path("echo"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

/// The attribute's cross-key rules hold for flags too: each breach is one line naming the
/// flags, and exit status 2.
#[test]
fn flags_are_checked_against_each_other() {
    for (args, message) in [
        (
            &["--max-buffer-size", "64KiB", "--read-chunk-size", "64KiB"][..],
            "--read-chunk-size (64KiB) must be at most half of --max-buffer-size (64KiB); give --read-chunk-size 32KiB or less",
        ),
        (
            &["--runtime", "current-thread", "--worker-threads", "2"],
            "--worker-threads (2) needs the multi-thread runtime",
        ),
        (
            &["--tls-cert", "cert.pem"],
            "--tls-cert needs its private key",
        ),
        (
            &["--tls-client-ca", "ca.pem"],
            "--tls-client-ca needs a server certificate",
        ),
        (
            &["--tls-alpn", "h2"],
            "--tls-alpn needs a server certificate",
        ),
        (
            &["--unix-mode", "600"],
            "--unix-mode is the mode of the Unix socket file, and there is no --unix",
        ),
    ] {
        let out = Command::new(example_path("echo"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // A size left at its default is clamped, as Tornado does, not refused.
    let mut server =
        ServerProcess::start("echo", &[ARGS, &["--max-buffer-size", "64KiB"]].concat());
    let mut client = LineClient::connect(server.addr()).unwrap();
    assert_eq!(client.roundtrip("small buffer").unwrap(), "small buffer");
    drop(client);
    server.signal(Signal::SIGTERM);
    assert_eq!(
        server.wait_timeout(Duration::from_secs(10)).unwrap().code(),
        Some(0)
    );
}

#[test]
fn port_in_use_is_one_line_and_exit_one() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(example_path("echo"))
        .args(["--port", &port, "--address", "127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn sigterm_lets_an_exchange_in_progress_finish() {
    let mut server = ServerProcess::start("echo", ARGS);
    let mut client = LineClient::connect(server.addr()).unwrap();
    assert_eq!(client.roundtrip("first").unwrap(), "first");
    server.signal(Signal::SIGTERM);
    assert!(server.wait_for_stderr("received SIGTERM", Duration::from_secs(5)));
    // New connections are refused, the one in progress goes on.
    assert!(TcpStream::connect_timeout(&server.addr(), Duration::from_secs(2)).is_err());
    assert_eq!(client.roundtrip("second").unwrap(), "second");
    assert!(
        server.try_wait().is_none(),
        "exited while a client was connected"
    );
    drop(client);
    let status = server.wait_timeout(Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}

#[test]
fn shutdown_timeout_closes_idle_connections() {
    let mut args = ARGS.to_vec();
    args.extend(["--shutdown-timeout", "500ms"]);
    let mut server = ServerProcess::start("echo", &args);
    let mut client = LineClient::connect(server.addr()).unwrap();
    assert_eq!(client.roundtrip("x").unwrap(), "x");
    let started = Instant::now();
    server.signal(Signal::SIGTERM);
    let status = server.wait_timeout(Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(0));
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(client.closed_within(Duration::from_secs(5)));
}

#[test]
fn second_sigint_exits_at_once() {
    let mut server = ServerProcess::start("echo", ARGS);
    let _client = LineClient::connect(server.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.signal(Signal::SIGINT);
    assert!(server.wait_for_stderr("received SIGINT", Duration::from_secs(5)));
    server.signal(Signal::SIGINT);
    let status = server
        .wait_timeout(Duration::from_secs(5))
        .expect("immediate exit");
    assert_eq!(status.code(), Some(130));
}

#[test]
fn emfile_pauses_accepting_without_spinning_and_recovers() {
    let exe = example_path("echo");
    let server = ServerProcess::spawn_command(
        Command::new("prlimit")
            .arg("--nofile=40:40")
            .arg(&exe)
            .args(ARGS)
            .env("RUST_LOG", "info"),
    );
    assert!(
        server.wait_for_stderr("listening on", Duration::from_secs(30)),
        "{}",
        server.stderr()
    );
    let addr = tcpserver_tests::proc::listening_addrs(&server.stderr())[0];

    // More clients than descriptors: the server accepts until EMFILE, the rest wait.
    let mut clients: Vec<LineClient> = (0..60)
        .map(|_| LineClient::connect(addr).unwrap())
        .collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&format!("client {i}")).unwrap();
    }
    assert!(
        server.wait_for_stderr("pausing accepts", Duration::from_secs(10)),
        "{}",
        server.stderr()
    );

    // Saturated: measure the server's CPU over two seconds.
    let before = cpu_time(server.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_time(server.pid()) - before;
    assert!(
        used < Duration::from_millis(200),
        "server used {used:?} of CPU in 2 s while saturated"
    );

    // Served clients have answered; the others wait in the backlog.
    let mut served = Vec::new();
    let mut waiting = Vec::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        c.stream()
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        match c.recv() {
            Ok(Some(line)) => {
                assert_eq!(line, format!("client {i}"));
                served.push(c);
            }
            _ => waiting.push((i, c)),
        }
    }
    assert!(
        !served.is_empty() && !waiting.is_empty(),
        "{} served",
        served.len()
    );
    // Each descriptor freed lets a waiting client in: all are served, in turn.
    drop(served);
    for (i, mut c) in waiting {
        c.stream()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(
            c.recv().unwrap().as_deref(),
            Some(format!("client {i}").as_str())
        );
    }
    let mut fresh = LineClient::connect(addr).unwrap();
    assert_eq!(fresh.roundtrip("after").unwrap(), "after");
    let pauses = server.stderr().matches("pausing accepts").count();
    assert!(
        pauses <= 2,
        "log flood: {pauses} pause lines\n{}",
        server.stderr()
    );
    let _ = std::io::stderr().flush();
}

#[test]
fn an_unwritable_pid_file_is_one_line_and_exit_one() {
    let out = Command::new(example_path("echo"))
        .args(["--port", "0", "--address", "127.0.0.1"])
        .args(["--pid-file", "/nonexistent-directory/echo.pid"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot write the pid file /nonexistent-directory/echo.pid"),
        "{stderr}"
    );
}
