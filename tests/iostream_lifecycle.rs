//! The life of an IoStream beyond reads and writes, over real sockets: close notification
//! (Tornado's `set_close_callback`, here `close_signal` and `peer_closed`), socket options
//! and access, and handing the connection back with `into_inner`.

use std::time::Duration;

use tcpserver::iostream::{IoStream, Socket, StreamOptions, TcpKeepalive};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::time::{sleep, timeout};

async fn pair() -> (IoStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (IoStream::new(server, StreamOptions::new()), client)
}

/// Bounds every test: a hang is a failure, not a stuck CI run.
async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(20), fut)
        .await
        .expect("timed out")
}

/// True if `fut` is still pending after a short while.
async fn stays_pending<T>(fut: impl std::future::Future<Output = T>) -> bool {
    timeout(Duration::from_millis(100), fut).await.is_err()
}

#[tokio::test]
async fn test_close_callback_with_pending_read() {
    let (mut stream, client) = pair().await;
    let signal = stream.close_signal();
    let read = tokio::spawn(async move { stream.read_until(b"\r\n", None).await });
    sleep(Duration::from_millis(20)).await;
    assert!(!signal.is_closed());
    drop(client);
    within(signal.closed()).await;
    assert!(within(read).await.unwrap().unwrap_err().is_closed());
}

#[tokio::test]
async fn test_future_close_callback() {
    let (mut stream, mut client) = pair().await;
    let signal = stream.close_signal();
    client.write_all(b"ping\n").await.unwrap();
    assert_eq!(
        within(stream.read_until(b"\n", None)).await.unwrap(),
        b"ping\n"
    );
    within(stream.write(b"pong\n")).await.unwrap();
    assert!(stays_pending(signal.closed()).await);
    drop(client);
    // Noticed by the next read, which fails, and not before: nobody watches the socket.
    assert!(!signal.is_closed());
    assert!(
        within(stream.read_bytes(1, false))
            .await
            .unwrap_err()
            .is_closed()
    );
    within(signal.closed()).await;
    // A signal taken from a closed stream has already fired.
    assert!(stream.close_signal().is_closed());
}

#[tokio::test]
async fn close_signal_fires_on_close_drop_and_overlong_reads() {
    let (mut stream, _client) = pair().await;
    let signal = stream.close_signal();
    stream.close();
    within(signal.closed()).await;

    let (mut stream, _client) = pair().await;
    let signal = stream.close_signal();
    let waiter = tokio::spawn({
        let signal = signal.clone();
        async move { signal.closed().await }
    });
    drop(stream);
    within(waiter).await.unwrap();

    let (mut stream, mut client) = pair().await;
    let signal = stream.close_signal();
    client.write_all(b"123456").await.unwrap();
    let err = within(stream.read_until(b"\n", Some(5))).await.unwrap_err();
    assert!(err.is_unsatisfiable_read() && err.is_closed());
    assert!(signal.is_closed());
}

#[tokio::test]
async fn peer_closed_keeps_the_input_it_reads() {
    let (mut stream, mut client) = pair().await;
    client.write_all(b"hello\nwor").await.unwrap();
    // Data arriving is not a close: the wait goes on, and the data stays.
    assert!(stays_pending(stream.peer_closed()).await);
    client.write_all(b"ld\n").await.unwrap();
    drop(client);
    let gone = within(stream.peer_closed()).await;
    assert!(gone.is_closed() && gone.io_error().is_none(), "{gone}");
    assert_eq!(
        within(stream.read_until(b"\n", None)).await.unwrap(),
        b"hello\n"
    );
    assert_eq!(
        within(stream.read_until(b"\n", None)).await.unwrap(),
        b"world\n"
    );
    assert!(
        within(stream.read_bytes(1, false))
            .await
            .unwrap_err()
            .is_closed()
    );
}

#[tokio::test]
async fn peer_closed_in_a_select_beside_other_work() {
    let (mut stream, client) = pair().await;
    let (tx, mut updates) = tokio::sync::mpsc::channel::<&'static [u8]>(4);
    let server = tokio::spawn(async move {
        let mut sent = 0;
        loop {
            tokio::select! {
                Some(update) = updates.recv() => {
                    stream.write(update).await.unwrap();
                    sent += 1;
                }
                _gone = stream.peer_closed() => return sent,
            }
        }
    });
    let mut client = client;
    tx.send(b"one\n").await.unwrap();
    tx.send(b"two\n").await.unwrap();
    let mut got = [0u8; 8];
    within(client.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"one\ntwo\n");
    drop(client);
    assert_eq!(within(server).await.unwrap(), 2);
}

#[tokio::test]
async fn peer_closed_reports_a_reset() {
    let (mut stream, client) = pair().await;
    let signal = stream.close_signal();
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client); // RST
    let gone = within(stream.peer_closed()).await;
    assert!(gone.is_closed());
    assert_eq!(
        gone.io_error().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionReset),
        "{gone:?}"
    );
    assert!(signal.is_closed());
}

/// The documented limit: a half-closed peer looks gone, but still reads what we write.
#[tokio::test]
async fn a_half_closed_peer_looks_gone_and_still_reads() {
    let (mut stream, mut client) = pair().await;
    client.shutdown().await.unwrap();
    within(stream.peer_closed()).await;
    within(stream.write(b"still here\n")).await.unwrap();
    let mut got = Vec::new();
    stream.close();
    within(client.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"still here\n");
}

#[tokio::test]
async fn keepalive_and_linger_reach_the_socket() {
    let (stream, mut client) = pair().await;
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10))
        .with_retries(5);
    stream.set_keepalive(Some(&keepalive)).unwrap();
    let fd = stream.as_fd().unwrap();
    let socket = socket2::SockRef::from(&fd);
    assert!(socket.keepalive().unwrap());
    assert_eq!(
        socket.tcp_keepalive_time().unwrap(),
        Duration::from_secs(60)
    );
    assert_eq!(
        socket.tcp_keepalive_interval().unwrap(),
        Duration::from_secs(10)
    );
    assert_eq!(socket.tcp_keepalive_retries().unwrap(), 5);
    stream.set_keepalive(None).unwrap();
    assert!(!socket.keepalive().unwrap());

    stream.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(socket.linger().unwrap(), Some(Duration::ZERO));
    drop(stream); // with a zero linger, the close is a reset
    let err = within(client.read(&mut [0; 8])).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn socket_access_on_unix_and_closed_streams() {
    let (a, _b) = UnixStream::pair().unwrap();
    let mut stream = IoStream::from(a);
    assert!(stream.as_fd().is_some());
    // TCP options are no-ops where there is no TCP.
    stream.set_keepalive(Some(&TcpKeepalive::new())).unwrap();
    stream.set_linger(None).unwrap();
    stream.close();
    assert!(stream.as_fd().is_none());
    stream.set_nodelay(true).unwrap();
    assert!(stream.into_inner().unwrap_err().is_closed());
}

#[tokio::test]
async fn into_inner_hands_back_the_socket_and_the_buffered_bytes() {
    let (mut stream, mut client) = pair().await;
    let signal = stream.close_signal();
    client.write_all(b"abc\ndefgh").await.unwrap();
    assert_eq!(
        within(stream.read_until(b"\n", None)).await.unwrap(),
        b"abc\n"
    );
    let (socket, buffered) = stream.into_inner().unwrap();
    assert!(signal.is_closed());
    let Socket::Tcp(mut tcp) = socket else {
        panic!("a TCP stream gives back TCP: {socket:?}");
    };
    // What the stream had buffered comes first; the socket has the rest.
    client.write_all(b"ij").await.unwrap();
    drop(client);
    let mut rest = Vec::new();
    within(tcp.read_to_end(&mut rest)).await.unwrap();
    assert_eq!([buffered, rest].concat(), b"defghij");
}
