//! The `tls_echo` example run as a user would: the binary contract over TLS (listening
//! line, echo over TLS 1.2 and 1.3, SIGTERM), the certificate flags, start-up errors that
//! name the file, SIGHUP reload (one process and several), and the log lines of failed
//! handshakes.

mod tls_support;

use std::net::TcpStream as StdTcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use tcpserver_tests::admin::{Scrape, admin_addr};
use tcpserver_tests::proc::{ServerProcess, example_path, listening_addrs};
use tls_support::*;

const ARGS: &[&str] = &["--port", "0", "--address", "127.0.0.1"];
const WAIT: Duration = Duration::from_secs(30);

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    ARGS.iter().chain(extra).copied().collect()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// With no TLS flag the compiled-in `examples/certs/server.pem` is served (relative to the
/// working directory, the package root here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_shipped_certificate_and_exits_zero_on_sigterm() {
    let server = ServerProcess::start("tls_echo", ARGS);
    assert_eq!(server.addrs.len(), 1);
    let port = server.addr().port();
    assert_ne!(port, 0);
    let ca = p(&example_cert("ca.pem"));

    for version in ["1.2", "1.3"] {
        let facts = python(port, &["--ca", &ca, "--tls", version, "--send", "hello"]).await;
        assert_eq!(
            facts.get("echo").map(Vec::as_slice),
            Some(&["hello".to_owned()][..]),
            "{facts:?}"
        );
        assert_eq!(
            fact(&facts, "version"),
            Some(format!("TLSv{version}").as_str())
        );
    }
    for flag in ["-tls1_2", "-tls1_3"] {
        let (echo, stderr) = s_client_echo(port, &[flag, "-CAfile", &ca], "hi").await;
        assert_eq!(echo.as_deref(), Some("hi"), "{stderr}");
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_and_key_files_with_required_client_certificates() {
    let cert_file = p(&cert("server.crt"));
    let key_file = p(&cert("server.key"));
    let ca = p(&cert("ca.pem"));
    let extra = [
        "--tls-cert",
        &cert_file,
        "--tls-key",
        &key_file,
        "--tls-client-ca",
        &ca,
    ];
    let server = ServerProcess::start("tls_echo", &args(&extra));
    let port = server.addr().port();

    let facts = python(port, &["--ca", &ca, "--send", "anonymous"]).await;
    assert!(
        !facts.contains_key("echo"),
        "served without a certificate: {facts:?}"
    );

    let client = p(&cert("client.pem"));
    let facts = python(port, &["--ca", &ca, "--cert", &client, "--send", "known"]).await;
    assert_eq!(
        facts.get("echo").map(Vec::as_slice),
        Some(&["known".to_owned()][..]),
        "{facts:?}"
    );
    assert_eq!(fact(&facts, "serial"), Some("1001"));

    let (echo, stderr) = s_client_echo(port, &["-CAfile", &ca, "-cert", &client], "x").await;
    assert_eq!(echo.as_deref(), Some("x"), "{stderr}");
    server.stop();
}

/// A bad certificate is a start-up failure: exit status 1 and one line naming the file.
/// The settings of `TcpServer::builder()` and `TlsConfig::builder()` that flags reach in a
/// generated binary: ALPN, certificates by SNI name, the handshake deadline and cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_sni_and_handshake_flags() {
    let (server_pem, sni_pem, ca) = (
        p(&cert("server.pem")),
        p(&cert("sni.pem")),
        p(&cert("ca.pem")),
    );
    let sni = format!("other.test={sni_pem}");
    let extra = [
        "--tls",
        &server_pem,
        "--tls-alpn",
        "h2,http/1.1",
        "--tls-sni",
        &sni,
        "--handshake-timeout",
        "500ms",
        "--max-handshakes",
        "4",
    ];
    let server = ServerProcess::start("tls_echo", &args(&extra));
    let port = server.addr().port();

    // ALPN: the server's first preference that the client offers too.
    let facts = python(
        port,
        &[
            "--ca", &ca, "--alpn", "http/1.1", "--alpn", "h2", "--send", "a",
        ],
    )
    .await;
    assert_eq!(fact(&facts, "alpn"), Some("h2"), "{facts:?}");
    let facts = python(port, &["--ca", &ca, "--alpn", "http/1.1"]).await;
    assert_eq!(fact(&facts, "alpn"), Some("http/1.1"), "{facts:?}");
    // SNI: `other.test` gets its own certificate (serial 1003), other names the default.
    let facts = python(port, &["--ca", &ca, "--sni", "other.test", "--send", "b"]).await;
    assert_eq!(fact(&facts, "serial"), Some("1003"), "{facts:?}");
    let facts = python(port, &["--ca", &ca]).await;
    assert!(
        fact(&facts, "serial").is_some_and(|s| s != "1003"),
        "{facts:?}"
    );

    // A client that never speaks is closed at the handshake deadline, not kept.
    let started = std::time::Instant::now();
    let mut silent = StdTcpStream::connect(server.addr()).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let end = std::io::Read::read(&mut silent, &mut [0; 16]);
    let waited = started.elapsed();
    assert!(matches!(end, Ok(0) | Err(_)), "{end:?}");
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    server.stop();
}

#[test]
fn certificate_problems_exit_1_with_one_line_naming_the_file() {
    let dir = TempDir::new("tls-startup");
    let mismatched = dir.write(
        "mismatched.pem",
        &[read(&cert("server.crt")), read(&cert("client.pem"))].concat(),
    );
    let missing = dir.path().join("missing.pem");
    let certs_dir = cert("");
    let server_pem = p(&cert("server.pem"));
    let cases: Vec<(Vec<String>, String, &str)> = vec![
        (
            vec!["--tls".into(), p(&missing)],
            p(&missing),
            "No such file",
        ),
        (
            vec!["--tls".into(), p(&certs_dir)],
            p(&certs_dir),
            "Is a directory",
        ),
        (
            vec!["--tls".into(), p(&cert("server.crt"))],
            p(&cert("server.crt")),
            "no private key",
        ),
        (
            vec!["--tls".into(), p(&cert("server.key"))],
            p(&cert("server.key")),
            "no certificate",
        ),
        (
            vec!["--tls".into(), p(&mismatched)],
            p(&mismatched),
            "does not match",
        ),
        (
            vec![
                "--tls-cert".into(),
                p(&cert("server.crt")),
                "--tls-key".into(),
                p(&cert("client.pem")),
            ],
            p(&cert("client.pem")),
            "does not match the certificate",
        ),
        (
            vec![
                "--tls".into(),
                server_pem.clone(),
                "--tls-client-ca".into(),
                p(&cert("server.key")),
            ],
            p(&cert("server.key")),
            "no certificate in TLS client CA file",
        ),
    ];
    for (flags, file, problem) in cases {
        let out = Command::new(example_path("tls_echo"))
            .args(ARGS)
            .args(&flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{flags:?}: one line expected: {stderr}");
        assert!(lines[0].starts_with("tls_echo: error: "), "{}", lines[0]);
        assert!(lines[0].contains(&format!("\"{file}\"")), "{}", lines[0]);
        assert!(lines[0].contains(problem), "{}", lines[0]);
    }
}

/// SIGHUP: new connections get the new certificate, an open connection keeps working, and
/// a broken file is logged while the certificate in use stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_certificate() {
    let dir = TempDir::new("tls-sighup");
    let pem = dir.write("server.pem", &read(&cert("server.pem")));
    let server = ServerProcess::start("tls_echo", &args(&["--tls", &p(&pem)]));
    let port = server.addr().port();
    let ca = p(&cert("ca.pem"));

    let mut old = SClient::start(port, &["-CAfile", &ca]).await;
    assert_eq!(old.echo("one").await.as_deref(), Some("one"));
    let facts = python(port, &["--ca", &ca]).await;
    assert_eq!(fact(&facts, "serial"), Some("1001"), "{facts:?}");

    dir.write("server.pem", &read(&cert("server2.pem")));
    server.signal(Signal::SIGHUP);
    assert!(
        server.wait_for_stderr("reloaded TLS certificates", WAIT),
        "{}",
        server.stderr()
    );
    let facts = python(port, &["--ca", &ca, "--send", "new"]).await;
    assert_eq!(fact(&facts, "serial"), Some("1002"), "{facts:?}");
    assert_eq!(old.echo("two").await.as_deref(), Some("two"));

    dir.write("server.pem", b"not a certificate\n");
    server.signal(Signal::SIGHUP);
    assert!(
        server.wait_for_stderr("TLS reload failed", WAIT),
        "{}",
        server.stderr()
    );
    let failure = server
        .stderr()
        .lines()
        .find(|l| l.contains("TLS reload failed"))
        .unwrap()
        .to_owned();
    assert!(failure.contains(&format!("\"{}\"", p(&pem))), "{failure}");
    let facts = python(port, &["--ca", &ca, "--send", "kept"]).await;
    assert_eq!(fact(&facts, "serial"), Some("1002"), "{facts:?}");
    assert_eq!(old.echo("three").await.as_deref(), Some("three"));

    old.finish().await;
    server.stop();
}

/// With several processes, the supervisor passes SIGHUP on and every worker reloads; a
/// worker restarted after that serves the reloaded certificate too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_every_worker() {
    let dir = TempDir::new("tls-sighup-workers");
    let pem = dir.write("server.pem", &read(&cert("server.pem")));
    let server = ServerProcess::start("tls_echo", &args(&["--tls", &p(&pem), "--processes", "2"]));
    let port = server.addr().port();
    let ca = p(&cert("ca.pem"));
    let facts = python(port, &["--ca", &ca, "--send", "x"]).await;
    assert_eq!(fact(&facts, "serial"), Some("1001"), "{facts:?}");

    dir.write("server.pem", &read(&cert("server2.pem")));
    let workers = workers_catching_sighup(&server, 2);
    server.signal(Signal::SIGHUP);
    assert!(
        tcpserver_tests::wait_until(WAIT, || {
            server.stderr().matches("reloaded TLS certificates").count() == 2
        }),
        "{}",
        server.stderr()
    );
    for _ in 0..4 {
        let facts = python(port, &["--ca", &ca, "--send", "y"]).await;
        assert_eq!(fact(&facts, "serial"), Some("1002"), "{facts:?}");
    }

    // Workers that die are restarted from the supervisor, which read the files before the
    // reload: the new workers read them again.
    for &pid in &workers {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    assert!(tcpserver_tests::wait_until(WAIT, || {
        let now = server.children();
        !workers.iter().any(|pid| now.contains(pid))
    }));
    workers_catching_sighup(&server, 2);
    for _ in 0..6 {
        let facts = python(port, &["--ca", &ca, "--send", "z"]).await;
        assert_eq!(fact(&facts, "serial"), Some("1002"), "{facts:?}");
    }
    server.stop();
}

/// Waits until `n` workers run and each has installed its SIGHUP handler (`SigCgt` in
/// `/proc/<pid>/status`), so that a SIGHUP passed on reaches a handler; returns their pids.
fn workers_catching_sighup(server: &ServerProcess, n: usize) -> Vec<u32> {
    let catches_sighup = |pid: u32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (nix::libc::SIGHUP - 1)) != 0)
    };
    let mut workers = Vec::new();
    let ready = tcpserver_tests::wait_until(WAIT, || {
        workers = server.children();
        workers.len() == n && workers.iter().all(|&pid| catches_sighup(pid))
    });
    assert!(ready, "{n} workers catching SIGHUP: {}", server.stderr());
    workers
}

/// Each failed handshake is logged once, at debug or info level, without a trace; the
/// server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshakes_are_logged_once_without_error_or_trace() {
    let mut command = Command::new(example_path("tls_echo"));
    command
        .args(args(&["--admin-address", "127.0.0.1:0"]))
        .env("RUST_LOG", "debug");
    let mut server = ServerProcess::spawn_command(&mut command);
    assert!(
        server.wait_for_stderr("listening on", WAIT),
        "{}",
        server.stderr()
    );
    server.addrs = listening_addrs(&server.stderr());
    let addr = server.addr();
    let ca = p(&example_cert("ca.pem"));

    // Plain text; a client that closes at once; one that resets mid-handshake; one that
    // does not trust the certificate (it aborts the handshake with an alert).
    use std::io::{Read, Write};
    let mut plain = StdTcpStream::connect(addr).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    plain.set_read_timeout(Some(WAIT)).unwrap();
    let _ = plain.read_to_end(&mut Vec::new());
    let quitter = StdTcpStream::connect(addr).unwrap();
    let mut resetter = StdTcpStream::connect(addr).unwrap();
    resetter.write_all(&[0x16, 0x03, 0x01, 0x00]).unwrap();
    socket2::SockRef::from(&resetter)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    let ports = [&plain, &quitter, &resetter].map(|s| s.local_addr().unwrap().port());
    drop((quitter, resetter));
    let facts = python(addr.port(), &["--send", "x"]).await; // the system's CAs only
    assert!(fact(&facts, "error").is_some(), "{facts:?}");

    let facts = python(addr.port(), &["--ca", &ca, "--send", "still fine"]).await;
    assert_eq!(fact(&facts, "error"), None, "{facts:?}");
    drop(plain);
    assert!(
        tcpserver_tests::wait_until(WAIT, || {
            server.stderr().matches("TLS handshake with").count() >= 4
        }),
        "{}",
        server.stderr()
    );
    // The metrics say the same: four failed handshakes refused, one served.
    let admin = admin_addr(&server);
    let handshakes =
        |result: &str| format!("tcpserver_tls_handshakes_total{{result=\"{result}\"}}");
    let ended = |reason: &str| format!("tcpserver_connections_closed_total{{reason=\"{reason}\"}}");
    assert!(tcpserver_tests::wait_until(WAIT, || {
        Scrape::take(admin).get(&ended("peer_closed")) == 1
    }));
    let samples = Scrape::take(admin);
    assert_eq!(samples.get(&handshakes("ok")), 1);
    assert_eq!(samples.get(&handshakes("failed")), 4);
    assert_eq!(samples.get(&handshakes("timeout")), 0);
    assert_eq!(
        samples.get("tcpserver_tls_handshake_duration_seconds_count"),
        5
    );
    assert_eq!(samples.get(&ended("refused")), 4);
    assert_eq!(samples.get("tcpserver_connections_accepted_total"), 5);
    let log = server.stop();
    eprintln!("{log}");
    for port in ports {
        let lines = log
            .lines()
            .filter(|l| l.contains(&format!("TLS handshake with 127.0.0.1:{port} ")))
            .count();
        assert_eq!(lines, 1, "client port {port}: {log}");
    }
    assert_eq!(log.matches("TLS handshake with").count(), 4, "{log}");
    assert!(log.contains("plain text sent to a TLS port"), "{log}");
    for bad in [" ERROR ", " WARN ", "panicked", "backtrace", "stack"] {
        assert!(!log.contains(bad), "{bad:?} in the log: {log}");
    }
}
