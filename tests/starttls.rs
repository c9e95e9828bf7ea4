//! STARTTLS and TLS clients over real sockets: the `starttls_echo` example against
//! Python's `ssl` (wrapping mid-connection, and a client that sends its ClientHello right
//! behind the command), plain text injected after STARTTLS, and `IoStream`'s own TLS
//! client (`connect_tls`, `start_tls_client`) with its hostname check.

mod tls_support;

use std::net::SocketAddr;
use std::process::Command;

use tcpserver::iostream::IoStream;
use tcpserver::tls::TlsConfig;
use tcpserver::{ErrorKind, TcpServer};
use tcpserver_tests::proc::ServerProcess;
use tls_support::{STEP, cert, client_config};

const CLIENT: &str = r#"
import socket, ssl, sys
port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
pending = b""

def line():
    global pending
    while b"\n" not in pending:
        data = s.recv(4096)
        if not data:
            raise SystemExit("closed before a line: %r" % pending)
        pending += data
    first, _, pending = pending.partition(b"\n")
    return first + b"\n"

context = ssl.create_default_context(cafile=ca)
s.sendall(b"hello\n")
assert line() == b"hello\n"
if mode == "wrap":
    s.sendall(b"STARTTLS\n")
    assert line() == b"OK begin TLS\n"
    assert pending == b""
    t = context.wrap_socket(s, server_hostname="localhost")
    t.sendall(b"secret\n")
    assert t.recv(64) == b"secret\n"
    print("ok", t.version())
elif mode == "pipelined":
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    # The command and the ClientHello in one write.
    s.sendall(b"STARTTLS\n" + outgoing.read())
    assert line() == b"OK begin TLS\n"
    incoming.write(pending)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            s.sendall(outgoing.read())
            incoming.write(s.recv(65536))
    s.sendall(outgoing.read())
    tls.write(b"secret\n")
    s.sendall(outgoing.read())
    got = b""
    while not got.endswith(b"\n"):
        try:
            got += tls.read(64)
        except ssl.SSLWantReadError:
            incoming.write(s.recv(65536))
    assert got == b"secret\n", got
    print("ok", tls.version())
elif mode == "inject":
    s.sendall(b"STARTTLS\nINJECTED\n")
    # The server waits for the rest of what it takes for a TLS record (until its handshake
    # deadline); whatever comes back meanwhile must not be an answer to INJECTED.
    s.settimeout(1)
    received = pending
    try:
        while True:
            data = s.recv(4096)
            if not data:
                break
            received += data
    except TimeoutError:
        pass
    print(repr(received))
"#;

fn python_client(port: u16, mode: &str) -> String {
    let output = Command::new("python3")
        .args(["-c", CLIENT, &port.to_string()])
        .arg(cert("ca.pem"))
        .arg(mode)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{mode}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn start() -> ServerProcess {
    let pem = cert("server.pem");
    ServerProcess::start(
        "starttls_echo",
        &[
            "--port",
            "0",
            "--address",
            "127.0.0.1",
            "--starttls-pem",
            pem.to_str().unwrap(),
        ],
    )
}

#[test]
fn python_wraps_the_socket_after_ok() {
    let server = start();
    let out = python_client(server.addr().port(), "wrap");
    assert_eq!(out, "ok TLSv1.3\n");
    server.stop();
}

/// The ClientHello arrives in the same packet as the command: the server has it in its
/// buffer when it starts TLS, and must hand it to the handshake.
#[test]
fn client_hello_right_behind_the_command() {
    let server = start();
    let out = python_client(server.addr().port(), "pipelined");
    assert_eq!(out, "ok TLSv1.3\n");
    server.stop();
}

/// Plain text sent after STARTTLS is never read as if it came over TLS (CVE-2011-0411):
/// it goes to the handshake, which never completes with it, and the server serves on.
#[test]
fn plain_text_after_starttls_is_not_obeyed() {
    let server = start();
    let out = python_client(server.addr().port(), "inject");
    assert!(out.starts_with("b'OK begin TLS\\n"), "{out}");
    assert!(!out.contains("INJECTED"), "{out}");
    assert_eq!(python_client(server.addr().port(), "wrap"), "ok TLSv1.3\n");
    let stderr = server.stop();
    assert!(!stderr.contains("panic"), "{stderr}");
}

/// `IoStream`'s client side of STARTTLS against the example.
#[tokio::test]
async fn start_tls_client_against_the_example() {
    let server = tokio::task::spawn_blocking(start).await.unwrap();
    let mut stream = IoStream::connect(server.addr()).await.unwrap();
    stream.write(b"STARTTLS\n").await.unwrap();
    assert_eq!(
        stream.read_until(b"\n", None).await.unwrap(),
        b"OK begin TLS\n"
    );
    let config = client_config(&cert("ca.pem"), None, &[]);
    let mut stream = stream.start_tls_client("localhost", config).await.unwrap();
    let info = stream.wait_for_handshake().unwrap().expect("TLS");
    assert_eq!(info.server_name(), Some("localhost"));
    assert!(!info.peer_certificates().is_empty());
    stream.write(b"over tls\n").await.unwrap();
    assert_eq!(stream.read_until(b"\n", None).await.unwrap(), b"over tls\n");
    // STARTTLS again, inside TLS, is just a line.
    stream.write(b"STARTTLS\n").await.unwrap();
    assert_eq!(stream.read_until(b"\n", None).await.unwrap(), b"STARTTLS\n");
    let err = stream
        .start_tls_client("localhost", client_config(&cert("ca.pem"), None, &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
}

async fn tls_echo_server() -> (TcpServer, SocketAddr) {
    async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
        loop {
            let line = stream.read_until(b"\n", Some(1024)).await?;
            stream.write(&line).await?;
        }
    }
    let tls = TlsConfig::from_pem(cert("server.pem")).unwrap();
    let server = TcpServer::builder().tls(tls).build(echo);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    (server, addr)
}

/// Tornado's `test_check_hostname` and `test_handshake_fail`, on `connect_tls`: the name
/// must match the certificate, and the certificate must chain to the client's roots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_tls_checks_the_server() {
    let (server, addr) = tls_echo_server().await;
    let config = client_config(&cert("ca.pem"), None, &[]);

    let mut stream = IoStream::connect_tls(addr, "localhost", config.clone())
        .await
        .unwrap();
    stream.write(b"hello\n").await.unwrap();
    assert_eq!(stream.read_until(b"\n", None).await.unwrap(), b"hello\n");
    let info = stream.wait_for_handshake().unwrap().unwrap();
    assert!(format!("{:?}", info.protocol_version()).starts_with("TLSv1_"));
    drop(stream);

    // The certificate is for localhost, 127.0.0.1 and ::1.
    let stream = IoStream::connect_tls(addr, "127.0.0.1", config.clone()).await;
    assert!(stream.is_ok(), "{stream:?}");
    drop(stream);
    let err = IoStream::connect_tls(addr, "example.com", config.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");

    // Roots that do not include the server's CA.
    let untrusted = client_config(&cert("untrusted-client.pem"), None, &[]);
    let err = IoStream::connect_tls(addr, "localhost", untrusted)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");

    let err = IoStream::connect_tls(addr, "not a name!", config.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls);
    assert!(err.to_string().contains("invalid server name"), "{err}");
    assert!(server.shutdown(STEP).await);
}
