//! `IoStream::split` and `into_split` over real sockets, plain and TLS: reading and
//! writing at the same time, from two tasks, with every read rule kept, and halves that
//! reunite.

mod tls_support;

use std::net::SocketAddr;
use std::time::Duration;

use tcpserver::iostream::{IoStream, StreamOptions};
use tcpserver::tls::TlsConfig;
use tcpserver::{Result, TcpServer};
use tls_support::{STEP, cert, client_config, rustls_connect};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

async fn pair(options: StreamOptions) -> (IoStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (IoStream::new(server, options), client)
}

async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    timeout(STEP, fut).await.expect("timed out")
}

/// A write blocked on a peer that does not read does not stall reading.
#[tokio::test]
async fn a_blocked_write_does_not_stall_reading() {
    let (mut stream, client) = pair(StreamOptions::new()).await;
    let (mut reader, mut writer) = stream.split();
    let (client_read, mut client_write) = client.into_split();
    let big = vec![b'x'; 16 << 20]; // far more than the socket buffers hold
    let upload = writer.write(&big);
    let commands = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        client_write.write_all(b"status\n").await.unwrap();
        let line = reader.read_until(b"\n", Some(64)).await.unwrap();
        // Only now does the client start reading, which lets the upload finish.
        let drain = tokio::spawn(async move {
            let mut sink = Vec::new();
            let mut client_read = client_read;
            client_read.read_to_end(&mut sink).await.unwrap();
            sink.len()
        });
        (line, drain)
    };
    let (sent, (line, drain)) = within(async { tokio::join!(upload, commands) }).await;
    sent.unwrap();
    assert_eq!(line, b"status\n");
    drop((reader, writer));
    stream.close();
    assert_eq!(within(drain).await.unwrap(), big.len());
}

/// The read half keeps the stream's rules: over `max_bytes` the read fails and the whole
/// stream closes, so the write half's next write fails too.
#[tokio::test]
async fn read_rules_hold_on_the_read_half() {
    let (stream, mut client) = pair(StreamOptions::new().max_buffer_size(1024)).await;
    let (mut reader, mut writer) = stream.into_split();
    client.write_all(b"abc\n123456").await.unwrap();
    assert_eq!(
        within(reader.read_until(b"\n", Some(5))).await.unwrap(),
        b"abc\n"
    );
    let err = within(reader.read_until(b"\n", Some(5))).await.unwrap_err();
    assert!(err.is_unsatisfiable_read() && err.is_closed(), "{err}");
    assert!(writer.closed());
    assert!(within(writer.write(b"x")).await.unwrap_err().is_closed());

    let (stream, client) = pair(StreamOptions::new().max_buffer_size(1024)).await;
    let (mut reader, _writer) = stream.into_split();
    let flood = tokio::spawn(async move {
        let mut client = client;
        let _ = client.write_all(&[b'y'; 8192]).await;
        client
    });
    let err = within(reader.read_until(b"\n", None)).await.unwrap_err();
    assert!(err.is_buffer_full() && err.is_closed(), "{err}");
    drop(flood);
}

#[tokio::test]
async fn every_read_method_on_a_read_half() {
    let (stream, mut client) = pair(StreamOptions::new()).await;
    let (mut reader, _writer) = stream.into_split();
    client
        .write_all(b"line\r\nHEAD\r\n\r\n12345678rest")
        .await
        .unwrap();
    assert_eq!(
        within(reader.read_until(b"\r\n", None)).await.unwrap(),
        b"line\r\n"
    );
    let blank = regex::bytes::Regex::new(r"\r?\n\r?\n").unwrap();
    assert_eq!(
        within(reader.read_until_regex(&blank, Some(100)))
            .await
            .unwrap(),
        b"HEAD\r\n\r\n"
    );
    assert_eq!(within(reader.read_bytes(4, false)).await.unwrap(), b"1234");
    let mut four = [0u8; 4];
    assert_eq!(within(reader.read_into(&mut four, false)).await.unwrap(), 4);
    assert_eq!(&four, b"5678");
    drop(client);
    assert_eq!(within(reader.read_until_close()).await.unwrap(), b"rest");
    assert!(within(reader.peer_closed()).await.is_closed());
    assert!(reader.close_signal().is_closed());
}

#[tokio::test]
async fn owned_halves_in_two_tasks_then_reunited() {
    let (stream, client) = pair(StreamOptions::new()).await;
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    // The writer task sends what the reader task hands it, upper-cased.
    let writing = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            writer.write(&line.to_ascii_uppercase()).await?;
        }
        Ok::<_, tcpserver::Error>(writer)
    });
    let reading = tokio::spawn(async move {
        loop {
            let line = reader.read_until(b"\n", Some(1024)).await?;
            if line == b"quit\n" {
                return Ok::<_, tcpserver::Error>(reader);
            }
            tx.send(line).await.unwrap();
        }
    });
    let mut client = BufReader::new(client);
    for word in ["one", "two", "three"] {
        client
            .get_mut()
            .write_all(format!("{word}\n").as_bytes())
            .await
            .unwrap();
        let mut echoed = String::new();
        within(client.read_line(&mut echoed)).await.unwrap();
        assert_eq!(echoed, format!("{}\n", word.to_uppercase()));
    }
    client.get_mut().write_all(b"quit\nafter\n").await.unwrap();
    let reader = within(reading).await.unwrap().unwrap();
    let writer = within(writing).await.unwrap().unwrap();
    let mut stream = reader.reunite(writer).unwrap();
    // The whole stream again, with what the read half had buffered.
    assert_eq!(
        within(stream.read_until(b"\n", None)).await.unwrap(),
        b"after\n"
    );
    stream.write(b"bye\n").await.unwrap();
    let mut bye = String::new();
    within(client.read_line(&mut bye)).await.unwrap();
    assert_eq!(bye, "bye\n");
}

#[tokio::test]
async fn halves_of_different_streams_do_not_reunite() {
    let (a, _ca) = pair(StreamOptions::new()).await;
    let (b, _cb) = pair(StreamOptions::new()).await;
    let (a_reader, a_writer) = a.into_split();
    let (b_reader, b_writer) = b.into_split();
    let err = a_reader.reunite(b_writer).unwrap_err();
    assert!(err.to_string().contains("not from the same stream"));
    let (a_reader, b_writer) = (err.0, err.1);
    assert!(a_reader.reunite(a_writer).is_ok());
    assert!(b_writer.reunite(b_reader).is_ok());
}

/// The halves are `AsyncRead` and `AsyncWrite`: tokio's `copy` echoes through them.
#[tokio::test]
async fn tokio_copy_between_the_halves() {
    let (mut stream, mut client) = pair(StreamOptions::new()).await;
    let echo = tokio::spawn(async move {
        let (mut reader, mut writer) = stream.split();
        tokio::io::copy(&mut reader, &mut writer).await
    });
    client
        .write_all(b"through tokio::io::copy\n")
        .await
        .unwrap();
    let mut got = vec![0u8; 24];
    within(client.read_exact(&mut got)).await.unwrap();
    assert_eq!(got, b"through tokio::io::copy\n");
    client.shutdown().await.unwrap();
    assert_eq!(within(echo).await.unwrap().unwrap(), 24);
}

/// Over TLS: a server handler splits its stream, reads in one task and writes from
/// another, while the client sends and receives at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_over_tls() {
    async fn handler(stream: IoStream, _addr: SocketAddr) -> Result<()> {
        assert!(stream.wait_for_handshake()?.is_some());
        let (mut reader, mut writer) = stream.into_split();
        let ticker = tokio::spawn(async move {
            for i in 0..20 {
                writer.write(format!("tick {i}\n").as_bytes()).await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok::<_, tcpserver::Error>(writer)
        });
        let mut lines = 0;
        while reader.read_until(b"\n", Some(1024)).await?.ends_with(b"\n") {
            lines += 1;
            if lines == 20 {
                break;
            }
        }
        let mut writer = ticker.await.unwrap()?;
        writer.write(format!("read {lines}\n").as_bytes()).await
    }
    let tls = TlsConfig::from_pem(cert("server.pem")).unwrap();
    let server = TcpServer::builder().tls(tls).build(handler);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let client = rustls_connect(addr, client_config(&cert("ca.pem"), None, &[]))
        .await
        .unwrap();
    let (client_read, mut client_write) = tokio::io::split(client);
    let sending = tokio::spawn(async move {
        for i in 0..20 {
            client_write
                .write_all(format!("line {i}\n").as_bytes())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        client_write
    });
    let mut lines = BufReader::new(client_read).lines();
    for i in 0..20 {
        assert_eq!(
            within(lines.next_line()).await.unwrap().unwrap(),
            format!("tick {i}")
        );
    }
    assert_eq!(within(lines.next_line()).await.unwrap().unwrap(), "read 20");
    drop(within(sending).await.unwrap());
    assert!(server.shutdown(STEP).await);
}
