//! TcpServer over real sockets: Tornado's `tornado/test/tcpserver_test.py` `TCPServerTest`
//! (`test_handle_stream_coroutine_logging`, `test_handle_stream_native_coroutine`,
//! `test_stop_twice`, `test_stop_in_callback`; single process) and the bad-input cases:
//! panics, errors, stop and shutdown, connection caps, Unix sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tcpserver::netutil::{DEFAULT_BACKLOG, DEFAULT_UNIX_MODE, bind_unix_socket};
use tcpserver::{Error, IoStream, TcpServer};
use tcpserver_tests::logs::LogCapture;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(20), fut)
        .await
        .expect("timed out")
}

/// Polls `condition` without blocking the test's runtime, which also runs the server.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if condition() {
            return true;
        }
        sleep(Duration::from_millis(10)).await;
    }
    false
}

async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    loop {
        let line = stream.read_until(b"\n", None).await?;
        if line == b"panic\n" {
            panic!("asked to panic");
        }
        if line == b"fail\n" {
            return Err(Error::other("asked to fail"));
        }
        stream.write(&line).await?;
    }
}

async fn echo_server() -> (TcpServer, SocketAddr) {
    let server = TcpServer::new(echo);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    (server, addr)
}

/// A connected line client.
struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = within(TcpStream::connect(addr)).await.unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    async fn roundtrip(&mut self, line: &str) -> String {
        self.reader
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        let mut reply = String::new();
        within(self.reader.read_line(&mut reply)).await.unwrap();
        reply
    }

    async fn send(&mut self, line: &str) {
        let _ = self
            .reader
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .await;
    }

    /// Reads to the end of the stream; true if the server closed it.
    async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(
            timeout(Duration::from_secs(10), self.reader.read_to_end(&mut rest)).await,
            Ok(Ok(_)) | Ok(Err(_))
        )
    }
}

#[tokio::test]
async fn test_handle_stream_native_coroutine() {
    let server = TcpServer::new(|mut stream: IoStream, _addr: SocketAddr| async move {
        stream.write(b"data").await?;
        stream.close();
        Ok::<(), Error>(())
    });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let mut client = TcpStream::connect(addr).await.unwrap();
    let mut got = Vec::new();
    within(client.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"data");
}

#[tokio::test]
async fn test_handle_stream_coroutine_logging() {
    let logs = LogCapture::start();
    let server = TcpServer::new(|mut stream: IoStream, _addr: SocketAddr| async move {
        stream.read_bytes(5, false).await?;
        stream.close();
        Err::<(), _>(Error::other("division by zero"))
    });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"hello").await.unwrap();
    let mut rest = Vec::new();
    within(client.read_to_end(&mut rest)).await.unwrap();
    let peer = client.local_addr().unwrap().to_string();
    assert!(
        eventually(|| !logs.lines_with(&peer).is_empty()).await,
        "{}",
        logs.text()
    );
    let lines = logs.lines_with("division by zero");
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert!(
        lines[0].contains("ERROR") && lines[0].contains(&peer),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn test_stop_twice() {
    let (server, _addr) = echo_server().await;
    server.stop();
    server.stop();
    assert!(server.is_stopped());
}

#[tokio::test]
async fn test_stop_in_callback() {
    let logs = LogCapture::start();
    // The handler stops its own server (Tornado issue #2069: no EBADF from a removed socket).
    let slot: Arc<std::sync::OnceLock<TcpServer>> = Arc::default();
    let handler_slot = slot.clone();
    let server = TcpServer::new(move |_s: IoStream, _a: SocketAddr| {
        let slot = handler_slot.clone();
        async move {
            if let Some(server) = slot.get() {
                server.stop();
            }
        }
    });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    slot.set(server.clone()).unwrap();
    let attempts: Vec<_> = (0..40)
        .map(|_| tokio::spawn(TcpStream::connect(addr)))
        .collect();
    let mut connected = 0;
    for a in attempts {
        if within(a).await.unwrap().is_ok() {
            connected += 1;
        }
    }
    assert!(connected >= 1);
    sleep(Duration::from_millis(50)).await;
    assert!(server.is_stopped());
    assert!(TcpStream::connect(addr).await.is_err());
    assert!(
        logs.lines_with("accept failed").is_empty(),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn listen_several_ports() {
    let server = TcpServer::new(echo);
    let a = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let b = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    assert_ne!(a.port(), b.port());
    assert_eq!(Client::connect(a).await.roundtrip("a").await, "a\n");
    assert_eq!(Client::connect(b).await.roundtrip("b").await, "b\n");
    let mut addrs = server.local_addrs();
    addrs.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(addrs, want);
}

#[tokio::test]
async fn listen_localhost_shares_one_port() {
    let server = TcpServer::new(echo);
    let addrs = server.listen(0, Some("localhost")).unwrap();
    assert!(addrs.iter().all(|a| a.port() == addrs[0].port()));
    for addr in addrs {
        assert_eq!(Client::connect(addr).await.roundtrip("hi").await, "hi\n");
    }
}

#[tokio::test]
async fn add_socket_makes_a_blocking_socket_nonblocking() {
    let blocking = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = blocking.local_addr().unwrap();
    let server = TcpServer::new(echo);
    server.add_socket(blocking).unwrap();
    let mut clients = Vec::new();
    for i in 0..5 {
        let mut c = Client::connect(addr).await;
        assert_eq!(c.roundtrip(&format!("n{i}")).await, format!("n{i}\n"));
        clients.push(c);
    }
}

#[tokio::test]
async fn stop_refuses_new_connections_but_lets_current_ones_finish() {
    let (server, addr) = echo_server().await;
    let mut client = Client::connect(addr).await;
    assert_eq!(client.roundtrip("before").await, "before\n");
    server.stop();
    assert!(TcpStream::connect(addr).await.is_err());
    assert_eq!(client.roundtrip("after").await, "after\n");
    assert_eq!(server.connection_count(), 1);
}

#[tokio::test]
async fn shutdown_waits_for_connections_then_closes_the_rest() {
    let (server, addr) = echo_server().await;
    let mut finishing = Client::connect(addr).await;
    let mut lingering = Client::connect(addr).await;
    assert_eq!(finishing.roundtrip("x").await, "x\n");
    assert_eq!(lingering.roundtrip("y").await, "y\n");

    let shutdown = tokio::spawn({
        let server = server.clone();
        async move { server.shutdown(Duration::from_millis(600)).await }
    });
    sleep(Duration::from_millis(100)).await;
    // In flight during the grace period: still served.
    assert_eq!(finishing.roundtrip("still here").await, "still here\n");
    drop(finishing);
    let clean = within(shutdown).await.unwrap();
    assert!(!clean, "one connection outlived the deadline");
    assert!(lingering.closed().await);
    assert_eq!(server.connection_count(), 0);
}

#[tokio::test]
async fn shutdown_returns_early_when_everyone_leaves() {
    let (server, addr) = echo_server().await;
    let mut client = Client::connect(addr).await;
    assert_eq!(client.roundtrip("x").await, "x\n");
    let started = std::time::Instant::now();
    let shutdown = tokio::spawn({
        let server = server.clone();
        async move { server.shutdown(Duration::from_secs(30)).await }
    });
    sleep(Duration::from_millis(50)).await;
    drop(client);
    assert!(within(shutdown).await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn max_connections_makes_clients_wait_in_the_backlog() {
    let server = TcpServer::builder().max_connections(2).build(echo);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let mut a = Client::connect(addr).await;
    let mut b = Client::connect(addr).await;
    assert_eq!(a.roundtrip("a").await, "a\n");
    assert_eq!(b.roundtrip("b").await, "b\n");
    // The third connects (the kernel completes the handshake) but is not served...
    let mut c = Client::connect(addr).await;
    c.send("c").await;
    let mut line = String::new();
    let early = timeout(Duration::from_millis(300), c.reader.read_line(&mut line)).await;
    assert!(early.is_err(), "served beyond the cap: {line:?}");
    assert_eq!(server.connection_count(), 2);
    // ...until a slot frees up; nothing was dropped.
    drop(a);
    within(c.reader.read_line(&mut line)).await.unwrap();
    assert_eq!(line, "c\n");
    assert_eq!(b.roundtrip("b2").await, "b2\n");
}

#[tokio::test]
async fn a_panicking_handler_disturbs_no_other_connection() {
    let logs = LogCapture::start();
    let (server, addr) = echo_server().await;
    let mut clients = Vec::new();
    for _ in 0..100 {
        clients.push(Client::connect(addr).await);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(
            c.roundtrip(&format!("hello {i}")).await,
            format!("hello {i}\n")
        );
    }
    let mut victim = Client::connect(addr).await;
    let victim_addr = victim.reader.get_ref().local_addr().unwrap().to_string();
    victim.send("panic").await;
    assert!(victim.closed().await);
    for round in 0..3 {
        for (i, c) in clients.iter_mut().enumerate() {
            let msg = format!("round {round} client {i}");
            assert_eq!(c.roundtrip(&msg).await, format!("{msg}\n"));
        }
    }
    let panics = logs.lines_with("panicked");
    assert_eq!(panics.len(), 1, "{}", logs.text());
    assert!(panics[0].contains("ERROR") && panics[0].contains(&victim_addr));
    assert!(panics[0].contains("asked to panic"));
    // And the server still accepts.
    assert_eq!(Client::connect(addr).await.roundtrip("new").await, "new\n");
    assert_eq!(server.connection_count(), 101);
}

#[tokio::test]
async fn handler_errors_are_logged_with_the_peer_and_peer_exits_are_not_errors() {
    let logs = LogCapture::start();
    let (_server, addr) = echo_server().await;
    let mut failing = Client::connect(addr).await;
    let failing_addr = failing.reader.get_ref().local_addr().unwrap().to_string();
    failing.send("fail").await;
    assert!(failing.closed().await);

    let mut leaving = Client::connect(addr).await;
    let leaving_addr = leaving.reader.get_ref().local_addr().unwrap().to_string();
    assert_eq!(leaving.roundtrip("bye").await, "bye\n");
    drop(leaving);
    assert!(eventually(|| !logs.lines_with(&leaving_addr).is_empty()).await);

    let failed = logs.lines_with(&failing_addr);
    assert_eq!(failed.len(), 1, "{}", logs.text());
    assert!(failed[0].contains("ERROR") && failed[0].contains("asked to fail"));
    let left = logs.lines_with(&leaving_addr);
    assert!(left.iter().all(|l| l.contains("DEBUG")), "{left:?}");
}

#[tokio::test]
async fn stop_during_a_burst_of_connects() {
    let logs = LogCapture::start();
    let (server, addr) = echo_server().await;
    let served = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let served = served.clone();
        tasks.push(tokio::spawn(async move {
            let Ok(stream) = TcpStream::connect(addr).await else {
                return;
            };
            let mut c = Client {
                reader: BufReader::new(stream),
            };
            c.send(&format!("burst {i}")).await;
            let mut line = String::new();
            if let Ok(Ok(n)) = timeout(Duration::from_secs(10), c.reader.read_line(&mut line)).await
                && n > 0
            {
                assert_eq!(line, format!("burst {i}\n"));
                served.fetch_add(1, Ordering::Relaxed);
            }
        }));
        if i == 100 {
            // Half the burst is in; stop while the rest keeps coming.
            sleep(Duration::from_millis(50)).await;
            server.stop();
        }
    }
    for t in tasks {
        within(t).await.unwrap();
    }
    assert!(served.load(Ordering::Relaxed) >= 1);
    assert!(TcpStream::connect(addr).await.is_err());
    assert!(logs.lines_with("ERROR").is_empty(), "{}", logs.text());
}

#[tokio::test]
async fn serves_unix_sockets() {
    let dir = std::env::temp_dir().join(format!("tcpserver-test-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let listener = bind_unix_socket(&path, DEFAULT_UNIX_MODE, DEFAULT_BACKLOG).unwrap();
    let server = TcpServer::new(|mut stream: IoStream, addr: SocketAddr| async move {
        // A Unix peer has no IP address.
        assert!(addr.ip().is_unspecified() && addr.port() == 0);
        let kind = stream.peer_addr().unwrap_err().kind();
        let line = stream.read_until(b"\n", None).await?;
        stream.write(format!("{kind:?} ").as_bytes()).await?;
        stream.write(&line).await
    });
    server.add_socket(listener).unwrap();
    let mut client = tokio::net::UnixStream::connect(&path).await.unwrap();
    client.write_all(b"over unix\n").await.unwrap();
    let mut reply = String::new();
    within(BufReader::new(&mut client).read_line(&mut reply))
        .await
        .unwrap();
    assert_eq!(reply, "Unsupported over unix\n");
    server.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn stream_options_reach_the_handler() {
    let server = TcpServer::builder()
        .max_buffer_size(1000)
        .read_chunk_size(4096)
        .build(|mut stream: IoStream, _addr: SocketAddr| async move {
            let o = stream.options();
            let msg = format!("{} {}\n", o.get_max_buffer_size(), o.get_read_chunk_size());
            stream.write(msg.as_bytes()).await
        });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let mut client = TcpStream::connect(addr).await.unwrap();
    let mut got = String::new();
    within(client.read_to_string(&mut got)).await.unwrap();
    assert_eq!(got, "1000 500\n");
}

#[tokio::test]
async fn an_oversize_line_closes_only_its_connection() {
    let logs = LogCapture::start();
    let server = TcpServer::builder().max_buffer_size(4096).build(echo);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let mut good = Client::connect(addr).await;
    let mut bad = Client::connect(addr).await;
    let bad_addr = bad.reader.get_ref().local_addr().unwrap().to_string();
    let _ = bad
        .reader
        .get_mut()
        .write_all(&vec![b'x'; 100 * 1024])
        .await;
    assert!(bad.closed().await);
    assert_eq!(good.roundtrip("fine").await, "fine\n");
    assert!(eventually(|| !logs.lines_with(&bad_addr).is_empty()).await);
    // The client's fault: logged at info, not as a server error.
    assert!(logs.lines_with("ERROR").is_empty(), "{}", logs.text());
}

#[tokio::test]
async fn a_struct_implements_stream_handler() {
    struct Greeter {
        visits: AtomicUsize,
    }
    impl tcpserver::StreamHandler for Greeter {
        type Output = tcpserver::Result<()>;

        async fn handle_stream(
            &self,
            mut stream: IoStream,
            _addr: SocketAddr,
        ) -> tcpserver::Result<()> {
            let n = self.visits.fetch_add(1, Ordering::Relaxed);
            stream.write(format!("visitor {n}\n").as_bytes()).await
        }
    }
    let server = TcpServer::new(Greeter {
        visits: AtomicUsize::new(0),
    });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    for i in 0..3 {
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut got = String::new();
        within(c.read_to_string(&mut got)).await.unwrap();
        assert_eq!(got, format!("visitor {i}\n"));
    }
}

#[tokio::test]
async fn shutdown_signal_reaches_every_connection() {
    let server = TcpServer::new(|mut stream: IoStream, _addr: SocketAddr| async move {
        let shutdown = stream.shutdown_signal();
        loop {
            let line = tokio::select! {
                line = stream.read_until(b"\n", None) => line?,
                () = shutdown.requested() => {
                    // Two waiters on one signal both wake.
                    shutdown.requested().await;
                    return stream.write(b"server going away\n").await;
                }
            };
            stream.write(&line).await?;
        }
    });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut c = Client::connect(addr).await;
        assert_eq!(c.roundtrip(&format!("c{i}")).await, format!("c{i}\n"));
        clients.push(c);
    }
    let started = std::time::Instant::now();
    assert!(within(server.shutdown(Duration::from_secs(30))).await);
    assert!(started.elapsed() < Duration::from_secs(5));
    for c in &mut clients {
        let mut line = String::new();
        within(c.reader.read_line(&mut line)).await.unwrap();
        assert_eq!(line, "server going away\n");
    }
}

/// A handler's error is logged with its cause on the same line: a reset peer shows as
/// "stream is closed: Connection reset by peer", at debug level.
#[tokio::test]
async fn a_reset_peer_is_logged_at_debug_with_its_cause() {
    let logs = LogCapture::start();
    let (_server, addr) = echo_server().await;
    let mut client = Client::connect(addr).await;
    let peer = client.reader.get_ref().local_addr().unwrap().to_string();
    assert_eq!(client.roundtrip("hi").await, "hi\n");
    let stream = client.reader.into_inner();
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream); // RST while the handler waits for the next line
    assert!(
        eventually(|| !logs.lines_with(&peer).is_empty()).await,
        "{}",
        logs.text()
    );
    let lines = logs.lines_with(&peer);
    assert_eq!(lines.len(), 1, "{}", logs.text());
    assert!(
        lines[0].contains("DEBUG")
            && lines[0].contains("closed: stream is closed: Connection reset by peer"),
        "{}",
        lines[0]
    );
}
