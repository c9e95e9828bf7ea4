//! The HTTP examples run as a user would: the binary contract of DESIGN.md (listening
//! line, `--port 0`, exit 0 on SIGTERM) and the HTTP flags in `--help`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use tcpserver_tests::proc::{ServerProcess, example_path};

const ARGS: &[&str] = &["--port", "0", "--address", "127.0.0.1"];

/// One HTTP/1.0 exchange: the whole response.
fn get(addr: SocketAddr, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\n{headers}\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn http_hello_says_hello_and_exits_zero_on_sigterm() {
    let server = ServerProcess::start("http_hello", ARGS);
    assert!(server.addr().port() != 0);
    let response = get(server.addr(), "/", "");
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nHello, world"), "{response}");
    let bad = get(server.addr(), "/", "Host: foo bar\r\n");
    assert!(bad.starts_with("HTTP/1.0 400 Bad Request"), "{bad}");
    server.stop();
}

#[test]
fn http_hello_takes_http_flags() {
    let args = [ARGS, &["--max-header-size", "8k", "--no-keep-alive"]].concat();
    let server = ServerProcess::start("http_hello", &args);
    let big = format!("X-Filler: {}\r\n", "a".repeat(9000));
    let refused = get(server.addr(), "/", &big);
    assert!(refused.starts_with("HTTP/1.1 431"), "{refused}");
    server.stop();
}

#[test]
fn http_help_lists_the_http_flags_with_their_defaults() {
    let out = Command::new(example_path("http_hello"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--processes",
        "--no-keep-alive",
        "--xheaders",
        "--trusted-downstream",
        "--protocol",
        "--decompress-request",
        "--chunk-size",
        "--max-header-size",
        "--idle-connection-timeout",
        "--body-timeout",
        "--max-body-size",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(help.contains("[default: 8080]"), "{help}");
    // The handler's doc comment, through `#[http_server]`.
    assert!(help.contains("Hello, world over HTTP."), "{help}");
    assert!(help.contains("[default: 3600s]"), "{help}");
    assert!(help.contains("[default: 64KiB]"), "{help}");
    let bad = Command::new(example_path("http_hello"))
        .args(["--protocol", "gopher"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    // The attribute's rule: `trusted_downstream` means nothing without `xheaders`.
    let bad = Command::new(example_path("http_hello"))
        .args(["--trusted-downstream", "10.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--trusted-downstream is only used with --xheaders"),
        "{stderr}"
    );
}

/// `curl --cacert examples/certs/ca.pem https://localhost:PORT{path}` with extra args.
fn curl_https(port: u16, path: &str, extra: &[&str]) -> String {
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}{path}");
    let args = [
        &["--cacert", "examples/certs/ca.pem", "--resolve", &resolve][..],
        extra,
        &[&url],
    ];
    tcpserver_tests::curl(&args.concat())
}

#[test]
fn http_axum_serves_the_router_over_tls_from_worker_processes() {
    let args = [ARGS, &["--processes", "2", "--xheaders"]].concat();
    let server = ServerProcess::start("http_axum", &args);
    assert!(
        tcpserver_tests::wait_until(Duration::from_secs(20), || server.children().len() == 2),
        "{}",
        server.stderr()
    );
    let port = server.addr().port();
    assert_eq!(curl_https(port, "/", &[]), "Hello from axum");
    assert_eq!(curl_https(port, "/whoami", &[]), "127.0.0.1 https");
    assert_eq!(
        curl_https(port, "/whoami", &["-H", "X-Real-Ip: 4.4.4.4"]),
        "4.4.4.4 https"
    );
    assert_eq!(
        curl_https(port, "/echo", &["--data-binary", "posted"]),
        "posted"
    );
    server.stop();
}
