//! The admin listener of a generated binary (`--admin-address`): `/livez`, `/readyz` and
//! `/metrics` answered by whichever worker accepts, with the totals of all of them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tcpserver_tests::admin::{Scrape, admin_addr, get};
use tcpserver_tests::proc::ServerProcess;
use tcpserver_tests::{LineClient, wait_until};

const WAIT: Duration = Duration::from_secs(10);

/// A server on a free port of 127.0.0.1, its admin listener on `admin`.
fn local(admin: &str) -> [&str; 6] {
    [
        "--port",
        "0",
        "--address",
        "127.0.0.1",
        "--admin-address",
        admin,
    ]
}

fn prefork(extra: &[&str]) -> (ServerProcess, SocketAddr) {
    let mut args = local("127.0.0.1:0").to_vec();
    args.extend_from_slice(&["--processes", "2"]);
    args.extend_from_slice(extra);
    let server = ServerProcess::start("prefork", &args);
    let admin = admin_addr(&server);
    assert!(
        wait_until(WAIT, || get(admin, "/readyz").0 == 200),
        "never ready: {:?}\n{}",
        get(admin, "/readyz"),
        server.stderr()
    );
    (server, admin)
}

/// One prefork connection: greeting, one line echoed, closed by the client. Returns the
/// worker's task id and the bytes the server sent.
fn one_exchange(addr: SocketAddr) -> (String, u64) {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    (&stream).write_all(b"ping\n").unwrap();
    let mut echo = String::new();
    reader.read_line(&mut echo).unwrap();
    assert_eq!(echo, "ping\n");
    let task = greeting.split(' ').nth(1).unwrap().to_owned();
    (task, (greeting.len() + echo.len()) as u64)
}

#[test]
fn livez_readyz_and_unknown_paths() {
    let (server, admin) = prefork(&[]);
    assert_eq!(get(admin, "/livez"), (200, "ok\n".to_owned()));
    assert_eq!(get(admin, "/readyz"), (200, "ready\n".to_owned()));
    assert_eq!(get(admin, "/nothing").0, 404);
    let mut stream = TcpStream::connect(admin).unwrap();
    stream.write_all(b"POST /livez HTTP/1.1\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
    assert!(response.contains("Allow: GET, HEAD\r\n"), "{response}");
    // Garbage on the admin port closes that connection, nothing else.
    let mut garbage = TcpStream::connect(admin).unwrap();
    garbage.write_all(&[0xff; 9000]).unwrap();
    let mut response = String::new();
    let _ = garbage.read_to_string(&mut response);
    assert_eq!(get(admin, "/livez").0, 200);
    let mut client = LineClient::connect(server.addr()).unwrap();
    client.recv().unwrap();
    assert_eq!(client.roundtrip("still serving").unwrap(), "still serving");
    drop(client);
    server.stop();
}

#[test]
fn counters_are_exact_across_workers_and_survive_a_restart() {
    const CONNECTIONS: u64 = 1000;
    let (server, admin) = prefork(&[]);
    let addr = server.addr();
    let mut per_task: HashMap<String, u64> = HashMap::new();
    let mut sent = 0;
    for _ in 0..CONNECTIONS {
        let (task, bytes) = one_exchange(addr);
        *per_task.entry(task).or_default() += 1;
        sent += bytes;
    }
    assert_eq!(per_task.len(), 2, "both workers served: {per_task:?}");
    // A connection is counted closed once its worker saw the client's end.
    let closed = "tcpserver_connections_closed_total{reason=\"peer_closed\"}";
    assert!(
        wait_until(WAIT, || Scrape::take(admin).get(closed) == CONNECTIONS),
        "{:?}",
        Scrape::take(admin)
    );
    // Every scrape, whichever worker answers it, shows the same totals.
    for _ in 0..10 {
        let samples = Scrape::take(admin);
        assert_eq!(
            samples.get("tcpserver_connections_accepted_total"),
            CONNECTIONS
        );
        assert_eq!(samples.get(closed), CONNECTIONS);
        assert_eq!(
            samples.get("tcpserver_received_bytes_total"),
            5 * CONNECTIONS
        );
        assert_eq!(samples.get("tcpserver_sent_bytes_total"), sent);
        assert_eq!(samples.get("prefork_lines_total"), CONNECTIONS);
        assert_eq!(samples.per_worker_sum("tcpserver_connections_active", 2), 0);
        assert_eq!(samples.get("tcpserver_worker_restarts_total"), 0);
    }

    // Kill a worker that holds a connection: the supervisor restarts it; nothing counted
    // so far goes back.
    let mut held = LineClient::connect(addr).unwrap();
    let greeting = held.recv().unwrap().unwrap();
    let pid: i32 = greeting.rsplit(' ').next().unwrap().trim().parse().unwrap();
    let before = server.children();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    assert!(
        wait_until(WAIT, || {
            let now = server.children();
            now.len() == 2 && now != before
        }),
        "the killed worker was not replaced: {}",
        server.stderr()
    );
    assert!(wait_until(WAIT, || get(admin, "/readyz").0 == 200));
    let samples = Scrape::take(admin);
    assert_eq!(samples.get("tcpserver_worker_restarts_total"), 1);
    assert_eq!(
        samples.get("tcpserver_connections_accepted_total"),
        CONNECTIONS + 1
    );
    assert_eq!(samples.get("prefork_lines_total"), CONNECTIONS);
    assert_eq!(
        samples.per_worker_sum("tcpserver_connections_active", 2),
        0,
        "the killed worker's connection is no longer active"
    );

    // The restarted worker counts on from its predecessor's totals.
    let mut served_after = HashMap::<String, u64>::new();
    for _ in 0..100 {
        *served_after.entry(one_exchange(addr).0).or_default() += 1;
    }
    assert_eq!(served_after.len(), 2, "{served_after:?}");
    assert!(wait_until(WAIT, || {
        Scrape::take(admin).get(closed) == CONNECTIONS + 100
    }));
    let samples = Scrape::take(admin);
    assert_eq!(
        samples.get("tcpserver_connections_accepted_total"),
        CONNECTIONS + 101
    );
    assert_eq!(samples.get("prefork_lines_total"), CONNECTIONS + 100);
    assert_eq!(
        samples.get("tcpserver_received_bytes_total"),
        5 * (CONNECTIONS + 100)
    );
    server.stop();
}

#[test]
fn readyz_turns_503_at_sigterm_while_the_port_still_accepts() {
    let (mut server, admin) = prefork(&["--drain-delay", "2"]);
    let addr = server.addr();
    server.signal(Signal::SIGTERM);
    assert!(
        wait_until(WAIT, || get(admin, "/readyz").0 == 503),
        "{}",
        server.stderr()
    );
    assert_eq!(get(admin, "/readyz").1, "not ready: draining\n");
    assert_eq!(Scrape::take(admin).get("tcpserver_draining"), 1);
    // Still alive, and still serving new connections during the drain delay.
    assert_eq!(get(admin, "/livez").0, 200);
    let mut client = LineClient::connect(addr).unwrap();
    client.recv().unwrap();
    assert_eq!(
        client.roundtrip("during the drain").unwrap(),
        "during the drain"
    );
    drop(client);
    let status = server.wait_timeout(WAIT).expect("exit after the drain");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(
        TcpStream::connect(admin).is_err(),
        "the admin listener closed at exit"
    );
}

#[test]
fn one_process_counts_too() {
    let server = ServerProcess::start("echo", &local("127.0.0.1:0"));
    let admin = admin_addr(&server);
    assert!(wait_until(WAIT, || get(admin, "/readyz").0 == 200));
    for i in 0..10 {
        let mut client = LineClient::connect(server.addr()).unwrap();
        assert_eq!(
            client.roundtrip(&format!("line {i}")).unwrap(),
            format!("line {i}")
        );
    }
    let closed = "tcpserver_connections_closed_total{reason=\"peer_closed\"}";
    assert!(wait_until(WAIT, || Scrape::take(admin).get(closed) == 10));
    let samples = Scrape::take(admin);
    assert_eq!(samples.get("tcpserver_connections_accepted_total"), 10);
    assert_eq!(samples.get("tcpserver_worker_ready{worker=\"0\"}"), 1);
    server.stop();
}

#[test]
fn a_bad_admin_address_is_a_usage_error() {
    for (value, says) in [
        ("127.0.0.1", "has no port"),
        ("localhost:9100", "is not an address and port"),
    ] {
        let mut server = ServerProcess::spawn("echo", &["--admin-address", value]);
        let status = server.wait_timeout(WAIT).expect("exits");
        assert_eq!(status.code(), Some(2), "{}", server.stderr());
        let stderr = server.stderr();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--admin-address") && stderr.contains(says),
            "{stderr}"
        );
    }
}

#[test]
fn an_admin_address_in_use_is_one_startup_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let mut server = ServerProcess::spawn("echo", &local(&taken));
    let status = server.wait_timeout(WAIT).expect("exits");
    assert_eq!(status.code(), Some(1), "{}", server.stderr());
    let stderr = server.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("admin listener") && errors[0].contains(&taken),
        "{stderr}"
    );
}

#[test]
fn http_responses_are_counted_by_class_with_their_durations() {
    let server = ServerProcess::start("http_hello", &local("[::1]:0"));
    let admin = admin_addr(&server);
    assert!(admin.is_ipv6());
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for _ in 0..20 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .unwrap();
        let mut line = String::new();
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
    }
    // A request head past the limit is answered 431 by the server itself.
    let mut big = TcpStream::connect(server.addr()).unwrap();
    big.set_read_timeout(Some(WAIT)).unwrap();
    let header = "x".repeat(128 * 1024);
    let _ = write!(
        big,
        "GET / HTTP/1.1\r\nHost: test\r\nX-Big: {header}\r\n\r\n"
    );
    let mut response = String::new();
    let _ = big.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    let samples = Scrape::take(admin);
    assert_eq!(
        samples.get("tcpserver_http_requests_total{class=\"2xx\"}"),
        20
    );
    assert_eq!(
        samples.get("tcpserver_http_requests_total{class=\"4xx\"}"),
        1
    );
    assert_eq!(
        samples.get("tcpserver_http_request_duration_seconds_count"),
        20
    );
    assert_eq!(
        samples.get("tcpserver_http_request_duration_seconds_bucket{le=\"+Inf\"}"),
        20
    );
    assert_eq!(samples.get("tcpserver_connections_accepted_total"), 2);
    drop(reader);
    drop(stream);
    server.stop();
}
