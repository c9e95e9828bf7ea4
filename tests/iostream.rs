//! IoStream over real sockets: the rows of Tornado's `tornado/test/iostream_test.py`
//! `TestReadWriteMixin` and `TestIOStreamMixin` (each `test_*` below has the name of the
//! Tornado test it ports), plus the bad-input cases of our own. As in Tornado, the whole
//! read/write suite runs twice: over plain TCP (`plain::`) and over TLS (`tls::`, the
//! server side made by `start_tls`, the client rustls).

mod tls_support;

use std::time::Duration;

use regex::bytes::Regex;
use tcpserver::iostream::{IoStream, StreamOptions};
use tcpserver::{Error, ErrorKind};
use tcpserver_tests::logs::LogCapture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep, timeout};

/// Bounds every test: a hang is a failure, not a stuck CI run.
async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(20), fut)
        .await
        .expect("timed out")
}

/// The client end of a test connection: plain TCP or rustls over TCP.
trait Client: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    fn tcp(&self) -> &TcpStream;

    /// Closes with a reset (`SO_LINGER` 0), as a crashed peer does.
    fn reset(self)
    where
        Self: Sized,
    {
        socket2::SockRef::from(self.tcp())
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    }
}

impl Client for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Client for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (server, client)
}

mod plain_transport {
    use super::*;

    /// A server-side IoStream and the raw client socket that drives it.
    pub(super) async fn pair(options: StreamOptions) -> (IoStream, TcpStream) {
        let (server, client) = tcp_pair().await;
        (IoStream::new(server, options), client)
    }
}

mod tls_transport {
    use super::*;
    use tcpserver::tls::TlsConfig;
    use tls_support::{cert, client_config, rustls_handshake};

    /// A server-side IoStream over TLS and the rustls client that drives it.
    pub(super) async fn pair(
        options: StreamOptions,
    ) -> (IoStream, tokio_rustls::client::TlsStream<TcpStream>) {
        let (server, client) = tcp_pair().await;
        // No TLS 1.3 session tickets: a client that closes with them unread would close
        // with a reset, not the FIN the close tests expect.
        let mut server_config = (*TlsConfig::from_pem(cert("server.pem"))
            .unwrap()
            .server_config())
        .clone();
        server_config.send_tls13_tickets = 0;
        let config = TlsConfig::from_server_config(std::sync::Arc::new(server_config));
        let server = IoStream::new(server, options);
        let (server, client) = tokio::join!(
            server.start_tls(&config),
            rustls_handshake(client, client_config(&cert("ca.pem"), None, &[]))
        );
        (server.unwrap(), client.unwrap())
    }
}

/// The read/write suite, as module `$suite`, over `$transport::pair`.
macro_rules! suite {
    ($suite:ident over $transport:ident) => {
        mod $suite {
            use super::*;

            async fn pair(options: StreamOptions) -> (IoStream, impl Client) {
                super::$transport::pair(options).await
            }

            async fn default_pair() -> (IoStream, impl Client) {
                pair(StreamOptions::new()).await
            }

            #[tokio::test]
            async fn test_write_zero_bytes() {
                let (mut stream, _client) = default_pair().await;
                within(stream.write(b"")).await.unwrap();
            }

            #[tokio::test]
            async fn test_read_zero_bytes() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"HTTP/1.1 200 OK").await.unwrap();
                assert_eq!(
                    within(stream.read_bytes(9, false)).await.unwrap(),
                    b"HTTP/1.1 "
                );
                assert_eq!(within(stream.read_bytes(0, false)).await.unwrap(), b"");
                assert_eq!(within(stream.read_bytes(3, false)).await.unwrap(), b"200");
            }

            #[tokio::test]
            async fn test_future_delayed_close_callback() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"12").await.unwrap();
                assert_eq!(within(stream.read_bytes(1, false)).await.unwrap(), b"1");
                drop(client);
                assert_eq!(within(stream.read_bytes(1, false)).await.unwrap(), b"2");
                let err = within(stream.read_bytes(1, false)).await.unwrap_err();
                assert!(err.is_closed(), "{err}");
                assert!(stream.closed());
            }

            #[tokio::test]
            async fn test_close_buffered_data() {
                let (mut stream, mut client) =
                    pair(StreamOptions::new().read_chunk_size(256)).await;
                client.write_all(&[b'A'; 512]).await.unwrap();
                assert_eq!(
                    within(stream.read_bytes(256, false)).await.unwrap(),
                    [b'A'; 256]
                );
                drop(client);
                sleep(Duration::from_millis(10)).await;
                assert_eq!(
                    within(stream.read_bytes(256, false)).await.unwrap(),
                    [b'A'; 256]
                );
            }

            #[tokio::test]
            async fn test_read_until_close_after_close() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"1234").await.unwrap();
                assert_eq!(within(stream.read_bytes(1, false)).await.unwrap(), b"1");
                drop(client);
                assert_eq!(within(stream.read_until_close()).await.unwrap(), b"234");
                // Already closed: what is buffered (nothing) and no error.
                assert_eq!(within(stream.read_until_close()).await.unwrap(), b"");
            }

            #[tokio::test]
            async fn test_large_read_until() {
                let (mut stream, mut client) = default_pair().await;
                let writer = tokio::spawn(async move {
                    let chunk = vec![b'x'; 1024];
                    for _ in 0..4096 {
                        client.write_all(&chunk).await.unwrap();
                    }
                    client.write_all(b"\r\n").await.unwrap();
                    client
                });
                let started = std::time::Instant::now();
                let line = within(stream.read_until(b"\r\n", None)).await.unwrap();
                assert_eq!(line.len(), 4096 * 1024 + 2);
                assert!(line.ends_with(b"x\r\n"));
                // Linear: even a debug build reads 4 MiB in well under the bound.
                assert!(started.elapsed() < Duration::from_secs(10));
                writer.await.unwrap();
            }

            #[tokio::test]
            async fn test_large_read_until_regex_is_linear() {
                let (mut stream, mut client) = default_pair().await;
                let writer = tokio::spawn(async move {
                    let chunk = vec![b'x'; 1024];
                    for _ in 0..4096 {
                        client.write_all(&chunk).await.unwrap();
                    }
                    client.write_all(b"\r\n\r\n").await.unwrap();
                    client
                });
                let re = Regex::new(r"\r?\n\r?\n").unwrap();
                let head = within(stream.read_until_regex(&re, None)).await.unwrap();
                assert_eq!(head.len(), 4096 * 1024 + 4);
                writer.await.unwrap();
            }

            #[tokio::test]
            async fn test_read_until_with_close_after_second_packet() {
                let (mut stream, mut client) = default_pair().await;
                let read = tokio::spawn(async move { stream.read_until(b"done", None).await });
                client.write_all(&[b'x'; 2048]).await.unwrap();
                sleep(Duration::from_millis(10)).await;
                client.write_all(b"done").await.unwrap();
                drop(client);
                let data = within(read).await.unwrap().unwrap();
                assert_eq!(data.len(), 2052);
                assert!(data.ends_with(b"done"));
            }

            #[tokio::test]
            async fn test_read_until_regex_with_close_after_second_packet() {
                let (mut stream, mut client) = default_pair().await;
                let re = Regex::new("do+ne").unwrap();
                let read = tokio::spawn(async move { stream.read_until_regex(&re, None).await });
                client.write_all(&[b'x'; 2048]).await.unwrap();
                sleep(Duration::from_millis(10)).await;
                client.write_all(b"done").await.unwrap();
                drop(client);
                assert_eq!(within(read).await.unwrap().unwrap().len(), 2052);
            }

            #[tokio::test]
            async fn test_read_until_unsatisfied_after_close() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(&[b'x'; 2048]).await.unwrap();
                client.write_all(b"foo").await.unwrap();
                drop(client);
                let err = within(stream.read_until(b"done", None)).await.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::StreamClosed);
                // What arrived stays readable.
                assert_eq!(stream.buffered(), 2051);
                assert_eq!(within(stream.read_until_close()).await.unwrap().len(), 2051);
            }

            #[tokio::test]
            async fn test_read_bytes_partial() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"hello").await.unwrap();
                assert_eq!(within(stream.read_bytes(50, true)).await.unwrap(), b"hello");
                client.write_all(b"world").await.unwrap();
                assert_eq!(within(stream.read_bytes(3, true)).await.unwrap(), b"wor");
                assert_eq!(within(stream.read_bytes(0, true)).await.unwrap(), b"");
                assert_eq!(within(stream.read_bytes(5, true)).await.unwrap(), b"ld");
            }

            #[tokio::test]
            async fn test_read_until_max_bytes() {
                let logs = LogCapture::start();
                let (mut stream, mut client) = default_pair().await;
                // Plenty of room: fine.
                client.write_all(b"abcdef").await.unwrap();
                assert_eq!(
                    within(stream.read_until(b"def", Some(50))).await.unwrap(),
                    b"abcdef"
                );
                // An exact fit: fine.
                client.write_all(b"abcdef").await.unwrap();
                assert_eq!(
                    within(stream.read_until(b"def", Some(6))).await.unwrap(),
                    b"abcdef"
                );
                // Not enough room: the read fails and the stream closes.
                let read = within(async {
                    let pending = stream.read_until(b"def", Some(5));
                    client.write_all(b"123456").await.unwrap();
                    pending.await
                });
                let err = read.await.unwrap_err();
                assert!(err.is_unsatisfiable_read() && err.is_closed(), "{err}");
                assert!(stream.closed());
                assert_eq!(
                    logs.lines_with("Unsatisfiable read").len(),
                    1,
                    "{}",
                    logs.text()
                );
            }

            #[tokio::test]
            async fn test_read_until_max_bytes_inline() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"x123456").await.unwrap();
                // The bytes are buffered before the read starts.
                assert_eq!(within(stream.read_bytes(1, false)).await.unwrap(), b"x");
                assert_eq!(stream.buffered(), 6);
                let err = within(stream.read_until(b"def", Some(5)))
                    .await
                    .unwrap_err();
                assert!(err.is_unsatisfiable_read() && err.is_closed());
                assert!(stream.closed());
            }

            #[tokio::test]
            async fn test_read_until_max_bytes_ignores_extra() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"abcdef").await.unwrap();
                // The delimiter arrived, but it ends past max_bytes.
                let err = within(stream.read_until(b"def", Some(5)))
                    .await
                    .unwrap_err();
                assert!(err.is_unsatisfiable_read() && err.is_closed());
                assert!(stream.closed());
            }

            #[tokio::test]
            async fn test_read_until_regex_max_bytes() {
                let re = Regex::new("def").unwrap();
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"abcdef").await.unwrap();
                assert_eq!(
                    within(stream.read_until_regex(&re, Some(50)))
                        .await
                        .unwrap(),
                    b"abcdef"
                );
                client.write_all(b"abcdef").await.unwrap();
                assert_eq!(
                    within(stream.read_until_regex(&re, Some(6))).await.unwrap(),
                    b"abcdef"
                );
                client.write_all(b"123456").await.unwrap();
                let err = within(stream.read_until_regex(&re, Some(5)))
                    .await
                    .unwrap_err();
                assert!(err.is_unsatisfiable_read() && err.is_closed());
                assert!(stream.closed());
            }

            #[tokio::test]
            async fn test_read_until_regex_max_bytes_inline_and_ignores_extra() {
                let re = Regex::new("def").unwrap();
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"abcdef").await.unwrap();
                sleep(Duration::from_millis(20)).await;
                let err = within(stream.read_until_regex(&re, Some(5)))
                    .await
                    .unwrap_err();
                assert!(err.is_unsatisfiable_read() && err.is_closed());
                assert!(stream.closed());
            }

            #[tokio::test]
            async fn test_small_reads_from_large_buffer() {
                let opts = StreamOptions::new().max_buffer_size(10 * 1024);
                let (mut stream, mut client) = pair(opts).await;
                let writer = tokio::spawn(async move {
                    client.write_all(&vec![b'a'; 100 * 1024]).await.unwrap();
                    client
                });
                for _ in 0..100 {
                    assert_eq!(
                        within(stream.read_bytes(1024, false)).await.unwrap(),
                        [b'a'; 1024]
                    );
                }
                writer.await.unwrap();
            }

            #[tokio::test]
            async fn test_small_read_untils_from_large_buffer() {
                let opts = StreamOptions::new().max_buffer_size(10 * 1024);
                let (mut stream, mut client) = pair(opts).await;
                let writer = tokio::spawn(async move {
                    let mut line = vec![b'a'; 1023];
                    line.push(b'\n');
                    for _ in 0..100 {
                        client.write_all(&line).await.unwrap();
                    }
                    client
                });
                for _ in 0..100 {
                    let line = within(stream.read_until(b"\n", Some(4096))).await.unwrap();
                    assert_eq!(line.len(), 1024);
                }
                writer.await.unwrap();
            }

            #[tokio::test]
            async fn test_flow_control() {
                // A 10 MiB stream through a 5 MiB buffer: the stream never reads ahead of its caller.
                let opts = StreamOptions::new().max_buffer_size(5 * 1024 * 1024);
                let (mut stream, mut client) = pair(opts).await;
                let writer = tokio::spawn(async move {
                    client
                        .write_all(&vec![b'z'; 10 * 1024 * 1024])
                        .await
                        .unwrap();
                    client
                });
                for _ in 0..10 {
                    sleep(Duration::from_millis(20)).await;
                    assert_eq!(
                        within(stream.read_bytes(1024 * 1024, false))
                            .await
                            .unwrap()
                            .len(),
                        1024 * 1024
                    );
                    assert!(stream.buffered() <= stream.options().get_read_chunk_size());
                }
                writer.await.unwrap();
            }

            #[tokio::test]
            async fn test_read_into() {
                let (mut stream, mut client) = default_pair().await;
                let mut buf = [0u8; 10];
                client.write_all(b"hello").await.unwrap();
                let read = async {
                    let n = stream.read_into(&mut buf, false).await;
                    (n, buf)
                };
                let (n, buf) = within(async {
                    let pending = tokio::spawn(async move {
                        sleep(Duration::from_millis(10)).await;
                        client.write_all(b"world!!").await.unwrap();
                        client
                    });
                    let r = read.await;
                    (r, pending.await.unwrap())
                })
                .await
                .0;
                assert_eq!(n.unwrap(), 10);
                assert_eq!(&buf, b"helloworld");
                // No read-ahead: the extra bytes were left in the socket for the next read.
                let mut small = [0u8; 2];
                assert_eq!(
                    within(stream.read_into(&mut small, false)).await.unwrap(),
                    2
                );
                assert_eq!(&small, b"!!");
            }

            #[tokio::test]
            async fn test_read_into_partial() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"hello").await.unwrap();
                let mut buf = [0u8; 10];
                assert_eq!(within(stream.read_into(&mut buf, true)).await.unwrap(), 5);
                assert_eq!(&buf, b"hello\0\0\0\0\0");
                client.write_all(b"1234567890123").await.unwrap();
                sleep(Duration::from_millis(10)).await;
                let mut buf = [0u8; 10];
                assert_eq!(within(stream.read_into(&mut buf, true)).await.unwrap(), 10);
                assert_eq!(&buf, b"1234567890");
                let mut buf = [0u8; 10];
                assert_eq!(within(stream.read_into(&mut buf, true)).await.unwrap(), 3);
                assert_eq!(&buf[..3], b"123");
            }

            #[tokio::test]
            async fn test_read_into_zero_bytes() {
                let (mut stream, _client) = default_pair().await;
                assert_eq!(stream.read_into(&mut [], false).await.unwrap(), 0);
            }

            #[tokio::test]
            async fn test_read_into_keeps_bytes_when_closed_early() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"abc").await.unwrap();
                drop(client);
                let mut buf = [0u8; 10];
                let err = within(stream.read_into(&mut buf, false)).await.unwrap_err();
                assert!(err.is_closed());
                assert_eq!(within(stream.read_until_close()).await.unwrap(), b"abc");
            }

            #[tokio::test]
            async fn test_many_mixed_reads() {
                // Deterministic pseudo-random sizes (xorshift), as Tornado's test uses random ones.
                let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
                let mut next = move || {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state
                };
                let data: Vec<u8> = (0..1_000_000).map(|_| next() as u8).collect();
                let (mut stream, mut client) = default_pair().await;
                let expected = data.clone();
                let writer = tokio::spawn(async move {
                    client.write_all(&data).await.unwrap();
                    client
                });
                let mut got = Vec::with_capacity(expected.len());
                while got.len() < expected.len() {
                    let want = ((next() % 1000) as usize + 1).min(expected.len() - got.len());
                    if next() % 2 == 0 {
                        got.extend(within(stream.read_bytes(want, false)).await.unwrap());
                    } else {
                        let mut buf = vec![0u8; want];
                        let n = within(stream.read_into(&mut buf, false)).await.unwrap();
                        got.extend_from_slice(&buf[..n]);
                    }
                }
                assert!(
                    got == expected,
                    "the bytes read differ from the bytes written"
                );
                writer.await.unwrap();
            }

            #[tokio::test]
            async fn test_future_write() {
                // Many writes, each resolving once handed to the kernel, against a slow reader.
                let (mut stream, mut client) = default_pair().await;
                let reader = tokio::spawn(async move {
                    let mut total = 0;
                    let mut buf = vec![0u8; 64 * 1024];
                    while total < 1000 * 5000 {
                        let n = client.read(&mut buf).await.unwrap();
                        assert!(n > 0);
                        total += n;
                    }
                    total
                });
                let chunk = vec![b'w'; 5000];
                for _ in 0..1000 {
                    within(stream.write(&chunk)).await.unwrap();
                }
                assert_eq!(within(reader).await.unwrap(), 5_000_000);
            }

            #[tokio::test]
            async fn test_future_close_while_reading() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"some bytes").await.unwrap();
                drop(client);
                let err = within(stream.read_bytes(1024 * 1024, false))
                    .await
                    .unwrap_err();
                assert!(err.is_closed());
            }

            #[tokio::test]
            async fn test_future_read_until_close() {
                let (mut stream, mut client) = default_pair().await;
                client
                    .write_all(b"HTTP/1.1 200 OK\r\n\r\nHello")
                    .await
                    .unwrap();
                drop(client);
                assert_eq!(
                    within(stream.read_until(b"\r\n\r\n", None)).await.unwrap(),
                    b"HTTP/1.1 200 OK\r\n\r\n"
                );
                assert_eq!(within(stream.read_until_close()).await.unwrap(), b"Hello");
                assert!(
                    within(stream.read_bytes(1, false))
                        .await
                        .unwrap_err()
                        .is_closed()
                );
            }

            // ----- beyond Tornado's suite -----

            #[tokio::test]
            async fn idle_stream_holds_no_read_buffer() {
                let (mut stream, mut client) = default_pair().await;
                assert_eq!(stream.buffer_capacity(), 0);
                client.write_all(b"one\ntwo").await.unwrap();
                assert_eq!(
                    within(stream.read_until(b"\n", None)).await.unwrap(),
                    b"one\n"
                );
                // The partial line is kept...
                assert!(stream.buffer_capacity() > 0);
                client.write_all(b"\n").await.unwrap();
                assert_eq!(
                    within(stream.read_until(b"\n", None)).await.unwrap(),
                    b"two\n"
                );
                // ...and once it is consumed the memory is released.
                assert_eq!(stream.buffer_capacity(), 0);
            }

            #[tokio::test]
            async fn reads_are_cancel_safe() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"part").await.unwrap();
                let r = timeout(Duration::from_millis(50), stream.read_until(b"\n", None)).await;
                assert!(r.is_err(), "the read must still be waiting");
                client.write_all(b"ial line\n").await.unwrap();
                assert_eq!(
                    within(stream.read_until(b"\n", None)).await.unwrap(),
                    b"partial line\n"
                );
            }

            #[tokio::test]
            async fn write_after_peer_half_close() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"ping\n").await.unwrap();
                client.shutdown().await.unwrap();
                assert_eq!(
                    within(stream.read_until(b"\n", None)).await.unwrap(),
                    b"ping\n"
                );
                assert!(
                    within(stream.read_until(b"\n", None))
                        .await
                        .unwrap_err()
                        .is_closed()
                );
                // The peer can still receive: TCP half-close.
                within(stream.write(b"pong\n")).await.unwrap();
                stream.close();
                let mut reply = Vec::new();
                within(client.read_to_end(&mut reply)).await.unwrap();
                assert_eq!(reply, b"pong\n");
            }

            #[tokio::test]
            async fn peer_reset_mid_read() {
                let (mut stream, client) = default_pair().await;
                let read = tokio::spawn(async move {
                    let r = stream.read_until(b"\n", None).await;
                    (r, stream)
                });
                sleep(Duration::from_millis(20)).await;
                client.reset(); // RST
                let (result, stream) = within(read).await.unwrap();
                let err = result.unwrap_err();
                assert!(err.is_closed(), "{err}");
                assert!(stream.closed());
            }

            #[tokio::test]
            async fn oversize_line_without_max_bytes_hits_buffer_limit() {
                let logs = LogCapture::start();
                let (mut stream, mut client) =
                    pair(StreamOptions::new().max_buffer_size(4096)).await;
                let writer = tokio::spawn(async move {
                    let _ = client.write_all(&[b'x'; 64 * 1024]).await;
                    client
                });
                let err = within(stream.read_until(b"\n", None)).await.unwrap_err();
                assert!(err.is_buffer_full() && err.is_closed(), "{err}");
                assert!(stream.closed());
                assert!(within(stream.write(b"x")).await.unwrap_err().is_closed());
                assert_eq!(logs.lines_with("maximum read buffer size").len(), 1);
                drop(writer);
            }

            #[tokio::test]
            async fn read_bytes_beyond_buffer_limit_fails_at_once() {
                let (mut stream, _client) = pair(StreamOptions::new().max_buffer_size(1000)).await;
                let err = within(stream.read_bytes(1001, false)).await.unwrap_err();
                assert!(err.is_buffer_full() && err.is_closed());
                assert!(stream.closed());
            }

            #[tokio::test]
            async fn async_read_sees_buffered_bytes_first() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"head\nbody-bytes").await.unwrap();
                drop(client);
                assert_eq!(
                    within(stream.read_until(b"\n", None)).await.unwrap(),
                    b"head\n"
                );
                let mut rest = Vec::new();
                within(stream.read_to_end(&mut rest)).await.unwrap();
                assert_eq!(rest, b"body-bytes");
            }

            #[tokio::test]
            async fn async_write_and_addresses() {
                let (mut stream, mut client) = default_pair().await;
                stream.set_nodelay(true).unwrap();
                assert_eq!(
                    stream.peer_addr().unwrap(),
                    client.tcp().local_addr().unwrap()
                );
                assert_eq!(
                    stream.local_addr().unwrap(),
                    client.tcp().peer_addr().unwrap()
                );
                stream.write_all(b"via AsyncWrite").await.unwrap();
                stream.flush().await.unwrap();
                let mut buf = [0u8; 14];
                within(client.read_exact(&mut buf)).await.unwrap();
                assert_eq!(&buf, b"via AsyncWrite");
            }

            #[tokio::test]
            async fn write_after_close_is_a_closed_error() {
                let (mut stream, _client) = default_pair().await;
                stream.close();
                stream.close();
                let err: Error = stream.write(b"x").await.unwrap_err();
                assert!(err.is_closed());
                assert!(stream.closed());
            }

            #[tokio::test]
            async fn unbounded_regex_still_finds_late_matches() {
                let (mut stream, mut client) = default_pair().await;
                let re = Regex::new(r"begin.*end").unwrap();
                let read = tokio::spawn(async move {
                    let r = stream.read_until_regex(&re, None).await;
                    (r, stream)
                });
                client.write_all(b"xx begin ").await.unwrap();
                sleep(Duration::from_millis(10)).await;
                client.write_all(&[b'-'; 100_000]).await.unwrap();
                sleep(Duration::from_millis(10)).await;
                client.write_all(b" end tail").await.unwrap();
                let (result, stream) = within(read).await.unwrap();
                let data = result.unwrap();
                assert!(data.starts_with(b"xx begin") && data.ends_with(b" end"));
                assert_eq!(stream.buffered(), 5);
            }

            /// Tornado 6.6.1: overflowing the buffer during `read_until_close` fails, with the real
            /// error, rather than returning a truncated result.
            #[tokio::test]
            async fn test_read_until_close_with_buffer_overflow() {
                let logs = LogCapture::start();
                let (mut stream, mut client) =
                    pair(StreamOptions::new().max_buffer_size(1024)).await;
                let writer = tokio::spawn(async move {
                    let _ = client.write_all(&[b'a'; 4096]).await;
                    client
                });
                let err = within(stream.read_until_close()).await.unwrap_err();
                assert!(err.is_closed() && err.is_buffer_full(), "{err}");
                assert!(stream.closed());
                assert_eq!(logs.lines_with("maximum read buffer size").len(), 1);
                drop(writer);
            }

            /// Tornado 6.6.1: a reset is a normal end for `read_until_close`, which returns what was
            /// buffered (a peer that closes cleanly may be reported as a reset).
            #[tokio::test]
            async fn test_read_until_close_after_connection_reset() {
                let (mut stream, mut client) = default_pair().await;
                client.write_all(b"1234").await.unwrap();
                assert_eq!(within(stream.read_bytes(1, false)).await.unwrap(), b"1");
                client.reset(); // RST
                assert_eq!(within(stream.read_until_close()).await.unwrap(), b"234");
            }

            #[tokio::test]
            async fn read_until_into_appends_lines_without_buffering() {
                let (mut stream, mut client) = default_pair().await;
                let mut out = b"kept:".to_vec();
                // One line per read: the fast path, which leaves the stream's buffer empty.
                client.write_all(b"one\n").await.unwrap();
                let n = within(stream.read_until_into(b"\n", Some(4), &mut out))
                    .await
                    .unwrap();
                assert_eq!((n, &out[..]), (4, &b"kept:one\n"[..]));
                assert_eq!((stream.buffered(), stream.buffer_capacity()), (0, 0));
                // Two lines in one read, then a line in two reads.
                client.write_all(b"two\nthree\nfo").await.unwrap();
                out.clear();
                assert_eq!(
                    within(stream.read_until_into(b"\n", None, &mut out))
                        .await
                        .unwrap(),
                    4
                );
                assert_eq!(
                    within(stream.read_until_into(b"\n", None, &mut out))
                        .await
                        .unwrap(),
                    6
                );
                assert_eq!(out, b"two\nthree\n");
                let read = async {
                    let mut line = Vec::new();
                    stream
                        .read_until_into(b"\n", None, &mut line)
                        .await
                        .map(|_| line)
                };
                let (line, ()) = tokio::join!(read, async {
                    sleep(Duration::from_millis(20)).await;
                    client.write_all(b"ur\n").await.unwrap();
                });
                assert_eq!(line.unwrap(), b"four\n");
                // A two-byte delimiter that arrives split across reads.
                client.write_all(b"five\r").await.unwrap();
                let read = async {
                    let mut line = Vec::new();
                    stream
                        .read_until_into(b"\r\n", None, &mut line)
                        .await
                        .map(|_| line)
                };
                let (line, ()) = tokio::join!(read, async {
                    sleep(Duration::from_millis(20)).await;
                    client.write_all(b"\n").await.unwrap();
                });
                assert_eq!(line.unwrap(), b"five\r\n");
            }

            #[tokio::test]
            async fn read_until_into_keeps_the_max_bytes_rule() {
                let (mut stream, mut client) = default_pair().await;
                let mut out = Vec::new();
                // An exact fit succeeds, on the fast path as in the buffer.
                client.write_all(b"abcdef").await.unwrap();
                within(stream.read_until_into(b"def", Some(6), &mut out))
                    .await
                    .unwrap();
                assert_eq!(out, b"abcdef");
                // One byte over fails, closes the stream, and leaves `out` alone.
                let logs = LogCapture::start();
                client.write_all(b"1234567\n").await.unwrap();
                let err = within(stream.read_until_into(b"\n", Some(7), &mut out))
                    .await
                    .unwrap_err();
                assert!(err.is_unsatisfiable_read() && err.is_closed(), "{err}");
                assert_eq!(out, b"abcdef");
                assert!(stream.closed());
                assert_eq!(logs.lines_with("Unsatisfiable read").len(), 1);
            }

            #[tokio::test]
            async fn read_until_into_is_cancel_safe_and_keeps_data_at_close() {
                let (mut stream, mut client) = default_pair().await;
                let mut out = Vec::new();
                client.write_all(b"part").await.unwrap();
                let cancelled = timeout(
                    Duration::from_millis(50),
                    stream.read_until_into(b"\n", None, &mut out),
                )
                .await;
                assert!(cancelled.is_err());
                assert!(out.is_empty());
                client.write_all(b"ial\nrest").await.unwrap();
                within(stream.read_until_into(b"\n", None, &mut out))
                    .await
                    .unwrap();
                assert_eq!(out, b"partial\n");
                drop(client);
                let err = within(stream.read_until_into(b"\n", None, &mut out))
                    .await
                    .unwrap_err();
                assert!(err.is_closed());
                assert_eq!(out, b"partial\n");
                assert_eq!(within(stream.read_until_close()).await.unwrap(), b"rest");
            }
        }
    };
}

suite!(plain over plain_transport);
suite!(tls over tls_transport);

#[tokio::test]
async fn test_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = IoStream::connect(("127.0.0.1", port)).await.unwrap_err();
    assert_eq!(
        err.io_error().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
}

#[tokio::test]
async fn chunk_size_is_clamped_to_half_the_buffer() {
    let opts = StreamOptions::new()
        .max_buffer_size(1000)
        .read_chunk_size(4096);
    assert_eq!(opts.get_read_chunk_size(), 500);
    assert_eq!(
        StreamOptions::new()
            .max_buffer_size(0)
            .get_max_buffer_size(),
        100 << 20
    );
}
