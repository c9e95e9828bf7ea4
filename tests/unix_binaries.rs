//! Unix sockets from the command line and the environment (`--unix PATH`, `--unix-mode`,
//! `TCPSERVER_UNIX`), run as a user would: real `curl --unix-socket` against `http_hello`,
//! line echoes against `echo` and `prefork` (every worker serves the socket), Tornado's
//! `bind_unix_socket` rules (a stale socket file replaced, any other file refused with one
//! line), and a Linux abstract name. Their usage errors are checked in `echo_binary.rs`
//! and `environment.rs`, with every other flag's.

use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tcpserver_tests::proc::{ServerProcess, example_path};
use tcpserver_tests::{LineClient, TempDir};

const TCP: &[&str] = &["--port", "0", "--address", "127.0.0.1"];

/// `example` with `args` and `vars`, and no other `TCPSERVER_` variable of the test's own
/// environment.
fn command(example: &str, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(example_path(example));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TCPSERVER_") {
            command.env_remove(name);
        }
    }
    command.args(args).envs(vars.iter().copied());
    command
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `echo` with `args` fails to start: exit status 1 and one error line, returned.
fn fails_to_start(args: &[&str]) -> String {
    let out = command("echo", &[TCP, args].concat(), &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
    errors[0].to_owned()
}

#[test]
fn curl_over_the_unix_socket_of_http_hello_beside_its_port() {
    let dir = TempDir::new("unix-http");
    let path = dir.path().join("http.sock");
    let args = [TCP, &["--unix", path.to_str().unwrap()]].concat();
    let server = ServerProcess::start("http_hello", &args);
    assert!(
        server.wait_for_stderr(
            &format!("listening on unix:{}", path.display()),
            Duration::from_secs(10)
        ),
        "{}",
        server.stderr()
    );
    let socket = path.to_str().unwrap();
    let hello = tcpserver_tests::curl(&["--unix-socket", socket, "http://x/"]);
    assert_eq!(hello, "Hello, world");
    // Tornado's default mode: the owner only.
    assert_eq!(mode(&path), 0o600);
    // The TCP port serves too.
    let mut tcp = std::net::TcpStream::connect(server.addr()).unwrap();
    std::io::Write::write_all(&mut tcp, b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut tcp, &mut response).unwrap();
    assert!(response.ends_with("Hello, world"), "{response}");
    server.stop();
    // Left for the next start to replace (an upgrade's new process serves the same one).
    assert!(std::fs::metadata(&path).unwrap().file_type().is_socket());
}

#[test]
fn echo_over_a_unix_socket_named_by_the_environment_replacing_a_stale_one() {
    let dir = TempDir::new("unix-echo");
    let path = dir.path().join("echo.sock");
    // A socket file left by an earlier run: nothing listens on it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let vars = [
        ("TCPSERVER_UNIX", path.to_str().unwrap()),
        ("TCPSERVER_UNIX_MODE", "660"),
    ];
    let server = ServerProcess::start_command("echo", &mut command("echo", TCP, &vars));
    let mut client = LineClient::connect_unix(&path).unwrap();
    assert_eq!(client.roundtrip("over unix").unwrap(), "over unix");
    assert_eq!(client.roundtrip("and again").unwrap(), "and again");
    assert_eq!(mode(&path), 0o660);
    drop(client);
    server.stop();
}

#[test]
fn an_abstract_unix_socket_has_no_file() {
    let name = format!("@tcpserver-echo-{}", std::process::id());
    let server = ServerProcess::start("echo", &[TCP, &["--unix", &name]].concat());
    assert!(
        server.wait_for_stderr(
            &format!("listening on unix:{name}"),
            Duration::from_secs(10)
        ),
        "{}",
        server.stderr()
    );
    let mut client = LineClient::connect_unix(Path::new(&name)).unwrap();
    assert_eq!(client.roundtrip("abstract").unwrap(), "abstract");
    drop(client);
    server.stop();
}

#[test]
fn every_worker_serves_the_unix_socket() {
    let dir = TempDir::new("unix-prefork");
    let path = dir.path().join("prefork.sock");
    for reuse_port in [false, true] {
        let mut args = [TCP, &["--processes", "2", "--unix", path.to_str().unwrap()]].concat();
        if reuse_port {
            args.push("--reuse-port");
        }
        let server = ServerProcess::start("prefork", &args);
        let mut tasks = HashSet::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while tasks.len() < 2 && Instant::now() < deadline {
            let mut client = LineClient::connect_unix(&path).unwrap();
            let greeting = client.recv().unwrap().expect("greeting");
            tasks.insert(greeting.split_whitespace().nth(1).unwrap().to_owned());
            assert_eq!(client.roundtrip("echo").unwrap(), "echo");
        }
        assert_eq!(tasks.len(), 2, "{tasks:?}\n{}", server.stderr());
        server.stop();
    }
}

#[test]
fn a_file_that_is_not_a_socket_is_refused_with_one_line() {
    let dir = TempDir::new("unix-refused");
    let precious = dir.write("data.txt", b"precious");
    let error = fails_to_start(&["--unix", precious.to_str().unwrap()]);
    let expected = format!("File {} exists and is not a socket", precious.display());
    assert!(error.ends_with(&expected), "{error}");
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious");
    // A directory that does not exist.
    let missing = dir.path().join("no/such/dir.sock");
    let error = fails_to_start(&["--unix", missing.to_str().unwrap()]);
    let expected = format!("error: cannot bind {}: ", missing.display());
    assert!(error.contains(&expected), "{error}");
}
