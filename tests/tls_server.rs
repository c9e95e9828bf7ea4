//! `TcpServer` over TLS against real clients (`openssl s_client`, Python's `ssl` module,
//! rustls) on 127.0.0.1: echo over TLS 1.2 and 1.3, client certificates, ALPN, SNI, clients
//! that never finish their handshake, plain text on the TLS port, reload.

mod tls_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tcpserver::tcpserver::Builder;
use tcpserver::tls::rustls::ProtocolVersion;
use tcpserver::tls::{ClientAuth, TlsConfig, TlsInfo};
use tcpserver::{IoStream, StreamHandler, TcpServer};
use tls_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

type Reports = mpsc::UnboundedReceiver<Option<TlsInfo>>;

/// An echo handler that first reports what `wait_for_handshake` says; a `close` line gets
/// `bye` and a `close()`.
fn reporting_echo(tx: mpsc::UnboundedSender<Option<TlsInfo>>) -> impl StreamHandler {
    move |mut stream: IoStream, _addr: SocketAddr| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(stream.wait_for_handshake()?.cloned());
            loop {
                let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
                if line == b"close\n" {
                    stream.write(b"bye\n").await?;
                    stream.close();
                    return Ok::<(), tcpserver::Error>(());
                }
                stream.write(&line).await?;
            }
        }
    }
}

async fn start(builder: Builder) -> (TcpServer, SocketAddr, Reports) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = builder.build(reporting_echo(tx));
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    (server, addr, rx)
}

fn tls(config: TlsConfig) -> Builder {
    TcpServer::builder().tls(config)
}

fn server_pem() -> TlsConfig {
    TlsConfig::from_pem(cert("server.pem")).unwrap()
}

/// The next handler call's report: `Some(info)` for a TLS stream.
async fn next_report(reports: &mut Reports) -> Option<TlsInfo> {
    tokio::time::timeout(STEP, reports.recv())
        .await
        .expect("the handler was called")
        .expect("the server is alive")
}

fn path(p: std::path::PathBuf) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_echo_over_tls12_and_tls13() {
    let (server, addr, mut reports) = start(tls(server_pem())).await;
    let ca = path(cert("ca.pem"));
    for (flag, version) in [
        ("-tls1_2", ProtocolVersion::TLSv1_2),
        ("-tls1_3", ProtocolVersion::TLSv1_3),
    ] {
        let args = [flag, "-CAfile", &ca, "-servername", "localhost"];
        let (echo, stderr) = s_client_echo(addr.port(), &args, "hello").await;
        assert_eq!(echo.as_deref(), Some("hello"), "s_client {flag}: {stderr}");
        let info = next_report(&mut reports).await.expect("a TLS stream");
        assert_eq!(info.protocol_version(), version);
        assert_eq!(info.server_name(), Some("localhost"));
        assert!(info.peer_certificates().is_empty());
        assert_eq!(info.alpn_protocol(), None);
    }
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_echo_over_tls12_and_tls13() {
    let (server, addr, mut reports) = start(tls(server_pem())).await;
    let ca = path(cert("ca.pem"));
    for (version, expected, suite_prefix) in [
        ("1.2", "TLSv1.2", "TLS_ECDHE_ECDSA_"),
        ("1.3", "TLSv1.3", "TLS13_"),
    ] {
        let args = [
            "--ca", &ca, "--tls", version, "--send", "hello", "--send", "again",
        ];
        let facts = python(addr.port(), &args).await;
        assert_eq!(fact(&facts, "error"), None, "{facts:?}");
        assert_eq!(fact(&facts, "version"), Some(expected));
        assert_eq!(fact(&facts, "serial"), Some("1001"));
        assert_eq!(facts["echo"], ["hello", "again"]);
        let info = next_report(&mut reports).await.expect("a TLS stream");
        let suite = format!("{:?}", info.cipher_suite());
        assert!(suite.starts_with(suite_prefix), "{suite}");
    }
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_certificate() {
    let config = TlsConfig::builder()
        .pem(cert("server.pem"))
        .client_ca(cert("ca.pem"), ClientAuth::Required)
        .build()
        .unwrap();
    let (server, addr, mut reports) = start(tls(config)).await;
    let port = addr.port();
    let ca = path(cert("ca.pem"));
    let client = path(cert("client.pem"));

    // With a certificate: served, and the handler sees the certificate.
    let facts = python(port, &["--ca", &ca, "--cert", &client, "--send", "hi"]).await;
    assert_eq!(
        facts.get("echo").map(Vec::as_slice),
        Some(&["hi".to_owned()][..]),
        "{facts:?}"
    );
    let info = next_report(&mut reports).await.expect("a TLS stream");
    assert_eq!(
        info.peer_certificate(),
        Some(&first_cert_der(&cert("client.pem")))
    );

    let args = ["-CAfile", &ca, "-cert", &client];
    let (echo, stderr) = s_client_echo(port, &args, "hello").await;
    assert_eq!(echo.as_deref(), Some("hello"), "{stderr}");
    let info = next_report(&mut reports).await.expect("a TLS stream");
    assert_eq!(
        info.peer_certificate(),
        Some(&first_cert_der(&cert("client.pem")))
    );

    // Without one, or with one the server does not trust, or an expired one: refused,
    // over TLS 1.3 (where the client learns it after its handshake) and TLS 1.2.
    for tls_version in ["1.3", "1.2"] {
        for cert_args in [
            vec![],
            vec!["--cert".to_owned(), path(cert("untrusted-client.pem"))],
            vec!["--cert".to_owned(), path(cert("expired.pem"))],
        ] {
            let mut args = vec!["--ca", &ca, "--tls", tls_version, "--send", "hi"];
            args.extend(cert_args.iter().map(String::as_str));
            let facts = python(port, &args).await;
            assert!(
                !facts.contains_key("echo"),
                "{args:?} was served: {facts:?}"
            );
            assert!(fact(&facts, "error").is_some(), "{facts:?}");
        }
    }
    let (echo, _) = s_client_echo(port, &["-CAfile", &ca], "hello").await;
    assert_eq!(echo, None);

    // Refused clients never reached the handler.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(reports.try_recv().is_err());
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificate() {
    let config = TlsConfig::builder()
        .pem(cert("server.pem"))
        .client_ca(cert("ca.pem"), ClientAuth::Optional)
        .build()
        .unwrap();
    let (server, addr, mut reports) = start(tls(config)).await;
    let ca = path(cert("ca.pem"));

    let facts = python(addr.port(), &["--ca", &ca, "--send", "anonymous"]).await;
    assert_eq!(facts["echo"], ["anonymous"], "{facts:?}");
    let info = next_report(&mut reports).await.expect("a TLS stream");
    assert!(info.peer_certificates().is_empty());

    let client = path(cert("client.pem"));
    let facts = python(
        addr.port(),
        &["--ca", &ca, "--cert", &client, "--send", "known"],
    )
    .await;
    assert_eq!(facts["echo"], ["known"], "{facts:?}");
    let info = next_report(&mut reports).await.expect("a TLS stream");
    assert_eq!(
        info.peer_certificate(),
        Some(&first_cert_der(&cert("client.pem")))
    );

    // A certificate that is offered must still be valid.
    let untrusted = path(cert("untrusted-client.pem"));
    let facts = python(
        addr.port(),
        &["--ca", &ca, "--cert", &untrusted, "--send", "x"],
    )
    .await;
    assert!(!facts.contains_key("echo"), "{facts:?}");
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_is_negotiated() {
    let config = TlsConfig::builder()
        .pem(cert("server.pem"))
        .alpn_protocols(["h2", "http/1.1"])
        .build()
        .unwrap();
    let (server, addr, mut reports) = start(tls(config)).await;
    let ca = path(cert("ca.pem"));

    let args = [
        "--ca", &ca, "--alpn", "http/1.1", "--alpn", "spdy/1", "--send", "x",
    ];
    let facts = python(addr.port(), &args).await;
    assert_eq!(fact(&facts, "alpn"), Some("http/1.1"), "{facts:?}");
    let info = next_report(&mut reports).await.expect("a TLS stream");
    assert_eq!(info.alpn_protocol(), Some(&b"http/1.1"[..]));

    let args = ["-CAfile", &ca, "-alpn", "http/1.1,h2"];
    let (echo, stderr) = s_client_echo(addr.port(), &args, "y").await;
    assert_eq!(echo.as_deref(), Some("y"), "{stderr}");
    let info = next_report(&mut reports).await.expect("a TLS stream");
    assert_eq!(
        info.alpn_protocol(),
        Some(&b"h2"[..]),
        "the server's preference wins"
    );

    let facts = python(addr.port(), &["--ca", &ca, "--send", "z"]).await;
    assert_eq!(fact(&facts, "alpn"), Some("None"));
    assert_eq!(
        next_report(&mut reports).await.unwrap().alpn_protocol(),
        None
    );
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_chosen_by_sni() {
    let config = TlsConfig::builder()
        .pem(cert("server.pem"))
        .sni_pem("other.test", cert("sni.pem"))
        .build()
        .unwrap();
    let (server, addr, mut reports) = start(tls(config)).await;
    let ca = path(cert("ca.pem"));
    for (sni, serial) in [
        ("other.test", "1003"),
        ("OTHER.test", "1003"),
        ("localhost", "1001"),
    ] {
        let facts = python(addr.port(), &["--ca", &ca, "--sni", sni, "--send", "x"]).await;
        assert_eq!(fact(&facts, "serial"), Some(serial), "{sni}: {facts:?}");
        let info = next_report(&mut reports).await.expect("a TLS stream");
        assert_eq!(info.server_name(), Some(sni.to_ascii_lowercase().as_str()));
    }
    // No SNI at all (an IP address): the default certificate.
    let facts = python(
        addr.port(),
        &["--ca", &ca, "--sni", "127.0.0.1", "--send", "x"],
    )
    .await;
    assert_eq!(fact(&facts, "serial"), Some("1001"), "{facts:?}");
    assert_eq!(next_report(&mut reports).await.unwrap().server_name(), None);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

/// 200 clients that connect and never send a ClientHello neither keep a new client from
/// being served nor take a handshake slot, and are closed at the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_do_not_block_and_are_closed_at_the_deadline() {
    const SILENT: usize = 200;
    let deadline = Duration::from_secs(3);
    let builder = tls(server_pem())
        .handshake_timeout(deadline)
        .max_handshakes(8);
    let (server, addr, mut reports) = start(builder).await;

    let started = Instant::now();
    let mut silent = Vec::with_capacity(SILENT);
    for _ in 0..SILENT {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    wait_until(|| server.connection_count() >= SILENT).await;

    let config = client_config(&cert("ca.pem"), None, &[]);
    let mut client = rustls_connect(addr, config.clone()).await.unwrap();
    assert_eq!(echo(&mut client, "served").await.unwrap(), "served");

    assert!(next_report(&mut reports).await.is_some());
    // Served while every silent client was still waiting for its deadline.
    assert!(
        server.connection_count() > SILENT,
        "silent clients were closed before the new client was served ({:?} after they connected)",
        started.elapsed()
    );

    // Each silent client is closed by the server, not before the deadline.
    let mut buf = [0; 64];
    for mut socket in silent {
        let read = tokio::time::timeout(deadline + STEP, socket.read(&mut buf)).await;
        match read.expect("closed by the server") {
            Ok(0) => {}
            Ok(n) => panic!("a silent client received {n} bytes"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        }
    }
    let closed_after = started.elapsed();
    assert!(closed_after >= deadline, "closed after {closed_after:?}");

    // The served client is still fine, and none of the silent ones reached the handler.
    assert_eq!(echo(&mut client, "still here").await.unwrap(), "still here");
    wait_until(|| server.connection_count() == 1).await;
    assert!(reports.try_recv().is_err());
    drop(client);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

/// Over the handshake cap, a client waits for a slot instead of being refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_the_handshake_cap_waits_for_a_slot() {
    let (server, addr, _reports) = start(tls(server_pem()).max_handshakes(1)).await;

    // A client that starts a ClientHello and stalls holds the only slot...
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    wait_until(|| server.connection_count() == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // ...so the next one waits...
    let config = client_config(&cert("ca.pem"), None, &[]);
    let waiting = tokio::spawn(rustls_connect(addr, config));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.is_finished(), "the handshake cap was not applied");

    // ...until the slot is free.
    drop(stalled);
    let mut client = tokio::time::timeout(STEP, waiting)
        .await
        .expect("served once the slot was free")
        .unwrap()
        .unwrap();
    assert_eq!(echo(&mut client, "finally").await.unwrap(), "finally");
    drop(client);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_to_the_tls_port_is_closed_and_the_server_is_fine() {
    let (server, addr, mut reports) = start(tls(server_pem())).await;

    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(STEP, plain.read_to_end(&mut reply))
        .await
        .expect("the server closed the connection");
    if let Ok(n) = read {
        // At most a TLS alert record: content type 21.
        assert!(n == 0 || reply[0] == 0x15, "{reply:?}");
    }

    let config = client_config(&cert("ca.pem"), None, &[]);
    let mut client = rustls_connect(addr, config).await.unwrap();
    assert_eq!(echo(&mut client, "fine").await.unwrap(), "fine");
    assert!(next_report(&mut reports).await.is_some());
    assert!(
        reports.try_recv().is_err(),
        "the plain-text client reached the handler"
    );
    drop(client);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_leave_mid_handshake_are_released() {
    let (server, addr, mut reports) = start(tls(server_pem())).await;

    // Connects and closes at once; sends part of a ClientHello and closes; the same with
    // a reset.
    drop(TcpStream::connect(addr).await.unwrap());
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x00, 0xff, 0x01])
        .await
        .unwrap();
    drop(half);
    let mut reset = TcpStream::connect(addr).await.unwrap();
    reset.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    // SO_LINGER 0: the close sends a reset.
    socket2::SockRef::from(&reset)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(reset);

    wait_until(|| server.connection_count() == 0).await;
    let config = client_config(&cert("ca.pem"), None, &[]);
    let mut client = rustls_connect(addr, config).await.unwrap();
    assert_eq!(echo(&mut client, "fine").await.unwrap(), "fine");
    assert!(next_report(&mut reports).await.is_some());
    assert!(reports.try_recv().is_err());
    drop(client);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

/// `reload_tls`: new connections get the new certificate, an open one keeps working, a
/// broken file is reported and the certificate in use stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_gives_new_connections_the_new_certificate() {
    let dir = TempDir::new("tls-reload");
    let pem = dir.write("server.pem", &read(&cert("server.pem")));
    let (server, addr, _reports) = start(tls(TlsConfig::from_pem(&pem).unwrap())).await;
    let config = client_config(&cert("ca.pem"), None, &[]);
    let first = first_cert_der(&cert("server.pem"));
    let second = first_cert_der(&cert("server2.pem"));

    let mut old = rustls_connect(addr, config.clone()).await.unwrap();
    assert_eq!(old.get_ref().1.peer_certificates().unwrap()[0], first);
    assert_eq!(echo(&mut old, "before").await.unwrap(), "before");

    dir.write("server.pem", &read(&cert("server2.pem")));
    server.reload_tls().unwrap();
    let mut new = rustls_connect(addr, config.clone()).await.unwrap();
    assert_eq!(new.get_ref().1.peer_certificates().unwrap()[0], second);
    assert_eq!(echo(&mut new, "new").await.unwrap(), "new");
    let ca = path(cert("ca.pem"));
    let facts = python(addr.port(), &["--ca", &ca, "--send", "x"]).await;
    assert_eq!(fact(&facts, "serial"), Some("1002"), "{facts:?}");
    assert_eq!(echo(&mut old, "after").await.unwrap(), "after");

    // A broken file: reported with its name, and the certificate in use stays.
    dir.write("server.pem", b"-----BEGIN CERTIFICATE-----\nbroken\n");
    let err = server.reload_tls().unwrap_err();
    assert!(
        err.to_string().contains(&pem.display().to_string()),
        "{err}"
    );
    let mut later = rustls_connect(addr, config).await.unwrap();
    assert_eq!(later.get_ref().1.peer_certificates().unwrap()[0], second);
    assert_eq!(echo(&mut later, "later").await.unwrap(), "later");
    assert_eq!(echo(&mut old, "still").await.unwrap(), "still");
    drop((old, new, later));
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

/// `close()` ends a TLS stream with a `close_notify`: a rustls client sees a clean end of
/// stream, not a truncation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_sends_close_notify() {
    let (server, addr, _reports) = start(tls(server_pem())).await;
    let config = client_config(&cert("ca.pem"), None, &[]);
    let mut client = rustls_connect(addr, config).await.unwrap();
    client.write_all(b"close\n").await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(STEP, client.read_to_end(&mut rest))
        .await
        .expect("the server closed")
        .expect("a clean TLS close, with close_notify");
    assert_eq!(rest, b"bye\n");
    drop(client);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_streams_have_no_handshake_info() {
    let (server, addr, mut reports) = start(TcpServer::builder()).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    assert_eq!(echo(&mut client, "plain").await.unwrap(), "plain");
    assert!(next_report(&mut reports).await.is_none());
    drop(client);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_over_a_unix_socket() {
    let dir = TempDir::new("tls-unix");
    let socket_path = dir.path().join("tls.sock");
    let (tx, mut reports) = mpsc::unbounded_channel();
    let server = tls(server_pem()).build(reporting_echo(tx));
    server
        .add_socket(std::os::unix::net::UnixListener::bind(&socket_path).unwrap())
        .unwrap();

    let unix = tokio::net::UnixStream::connect(&socket_path).await.unwrap();
    let name = tcpserver::tls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let config = client_config(&cert("ca.pem"), None, &[]);
    let mut client = tokio_rustls::TlsConnector::from(config)
        .connect(name, unix)
        .await
        .unwrap();
    assert_eq!(echo(&mut client, "unix").await.unwrap(), "unix");
    let info = next_report(&mut reports).await.expect("a TLS stream");
    assert_eq!(info.protocol_version(), ProtocolVersion::TLSv1_3);
    drop(client);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

/// A ready rustls `ServerConfig` is used as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_server_config() {
    let inner = TlsConfig::builder()
        .pem(cert("server.pem"))
        .alpn_protocols(["echo"])
        .build()
        .unwrap()
        .server_config();
    let config = TlsConfig::from_server_config(Arc::clone(&inner));
    assert!(Arc::ptr_eq(&config.server_config(), &inner));
    config.reload().unwrap(); // nothing to re-read
    assert!(Arc::ptr_eq(&config.server_config(), &inner));

    let (server, addr, mut reports) = start(tls(config)).await;
    let client = client_config(&cert("ca.pem"), None, &["echo"]);
    let mut stream = rustls_connect(addr, client).await.unwrap();
    assert_eq!(echo(&mut stream, "ready").await.unwrap(), "ready");
    let info = next_report(&mut reports).await.unwrap();
    assert_eq!(info.alpn_protocol(), Some(&b"echo"[..]));
    drop(stream);
    assert!(server.shutdown(STEP).await, "connections left at shutdown");
}

/// Polls `condition` every 20 ms for up to [`STEP`].
async fn wait_until(condition: impl Fn() -> bool) {
    let until = Instant::now() + STEP;
    while !condition() {
        assert!(
            Instant::now() < until,
            "condition not reached within {STEP:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A graceful shutdown gives handshakes in progress a one-second grace, then ends them,
/// instead of waiting for their deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_handshakes_in_progress() {
    let (server, addr, mut reports) = start(tls(server_pem())).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    wait_until(|| server.connection_count() == 2).await;

    let started = Instant::now();
    assert!(
        server.shutdown(STEP).await,
        "handshakes were aborted, not finished"
    );
    assert!(
        started.elapsed() < tcpserver::tls::DEFAULT_HANDSHAKE_TIMEOUT / 2,
        "shutdown waited {:?}",
        started.elapsed()
    );
    for socket in [&mut silent, &mut stalled] {
        let read = tokio::time::timeout(STEP, socket.read(&mut [0; 16])).await;
        assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
    }
    assert!(reports.try_recv().is_err());
}
