//! The `kv` example (a Redis-protocol server on `codec =` and `state =`) with real clients
//! from Debian's `redis-tools`: `redis-cli` for each command, and `redis-benchmark` with
//! pipelining, which must complete without an error.

use std::process::Command;
use std::time::Duration;

use tcpserver_tests::proc::ServerProcess;

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian's redis-tools) is installed by the test command");
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

#[test]
fn redis_cli_runs_every_command() {
    let server = ServerProcess::start("kv", &["--port", "0", "--address", "127.0.0.1"]);
    let port = server.addr().port();
    let cli = |args: &[&str]| redis_cli(port, args);
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["ping", "hello there"]), "hello there");
    assert_eq!(cli(&["ECHO", "echoed"]), "echoed");
    assert_eq!(cli(&["GET", "missing"]), "");
    assert_eq!(cli(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(cli(&["GET", "greeting"]), "hello");
    assert_eq!(cli(&["INCR", "counter"]), "1");
    assert_eq!(cli(&["INCR", "counter"]), "2");
    assert_eq!(
        cli(&["INCR", "greeting"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(cli(&["EXISTS", "greeting", "counter", "missing"]), "2");
    assert_eq!(cli(&["DEL", "greeting", "missing"]), "1");
    assert_eq!(cli(&["EXISTS", "greeting"]), "0");
    assert_eq!(cli(&["SET", "short", "lived", "EX", "1"]), "OK");
    assert_eq!(cli(&["GET", "short"]), "lived");
    assert_eq!(
        cli(&["SET", "k", "v", "EX", "0"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(cli(&["SET", "k", "v", "PX"]), "ERR syntax error");
    assert_eq!(cli(&["FLUSHALL", "now"]), "ERR unknown command 'FLUSHALL'");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(cli(&["GET", "short"]), "", "expired");
    assert_eq!(cli(&["EXISTS", "short"]), "0");
    server.stop();
}

#[test]
fn redis_benchmark_completes_without_errors() {
    let server = ServerProcess::start("kv", &["--port", "0", "--address", "127.0.0.1"]);
    let port = server.addr().port().to_string();
    for pipeline in ["16", "1"] {
        let out = Command::new("redis-benchmark")
            .args(["-h", "127.0.0.1", "-p", &port, "-t", "ping,set,get"])
            .args(["-n", "20000", "-P", pipeline, "-q", "--csv"])
            .output()
            .expect("redis-benchmark (Debian's redis-tools) is installed by the test command");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "-P {pipeline}: {stdout}{stderr}");
        assert!(
            !stderr.contains("Error") && !stdout.contains("Error"),
            "{stdout}{stderr}"
        );
        // One CSV row per test, each with its requests per second.
        for test in ["PING_INLINE", "PING_MBULK", "SET", "GET"] {
            let row = stdout
                .lines()
                .find(|l| l.starts_with(&format!("\"{test}\"")))
                .unwrap_or_else(|| panic!("-P {pipeline}: no {test} row: {stdout}"));
            let rps: f64 = row
                .split(',')
                .nth(1)
                .unwrap()
                .trim_matches('"')
                .parse()
                .unwrap();
            assert!(rps > 0.0, "{row}");
        }
    }
    assert!(
        !server.stderr().contains("closing connection"),
        "{}",
        server.stderr()
    );
    server.stop();
}

#[test]
fn bad_input_closes_only_its_connection() {
    use std::io::{Read, Write};
    let server = ServerProcess::start("kv", &["--port", "0", "--address", "127.0.0.1"]);
    let port = server.addr().port();
    assert_eq!(redis_cli(port, &["SET", "kept", "yes"]), "OK");
    let mut bad = std::net::TcpStream::connect(server.addr()).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    bad.write_all(b"*2\r\n$3\r\nGET\r\n:x\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = bad.read_to_end(&mut rest);
    assert!(
        server.wait_for_stderr("bad request", Duration::from_secs(10)),
        "{}",
        server.stderr()
    );
    assert_eq!(redis_cli(port, &["GET", "kept"]), "yes");
    server.stop();
}
