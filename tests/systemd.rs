//! Run by a service manager: sockets handed over by `systemd-socket-activate` (systemd's
//! own tool, which sets `LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES` and execs the server on
//! the first connection) to `echo` and to `prefork` with two workers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tcpserver_tests::LineClient;
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

fn stop(mut server: ServerProcess) {
    server.signal(Signal::SIGTERM);
    let status = server.wait_timeout(WAIT).expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}

#[test]
fn echo_serves_the_socket_systemd_passes() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // The port flag loses to the inherited socket, and says so.
    let server = activate(&listen, &["--fdname=echo"], "echo", &["--port", "1"]);
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
            "serving the 1 socket(s) the service manager passed (LISTEN_FDS); ignoring --port"
        ),
        "{stderr}"
    );
    drop((client, second));
    stop(server);
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
    stop(server);
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
    stop(server);
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
