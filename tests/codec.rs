//! Codec handlers (`tcpserver::codec`) over real sockets: pipelined requests answered in
//! order, answers before a waiting handler written first, closes asked by the handler, a
//! last request without its delimiter, and bad input (a line over the codec's limit, a
//! request over `max_buffer_size`, a handler's error) closing only that connection.

use std::net::SocketAddr;
use std::time::Duration;

use tcpserver::TcpServer;
use tcpserver::codec::{Context, LinesCodec, serve_frames};
use tcpserver_tests::logs::LogCapture;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(20), fut)
        .await
        .expect("timed out")
}

/// `upper` answers in capitals, `slow` after 300 ms, `quiet` not at all, `quit` with
/// `bye` and a close, `fail` with an error.
async fn answer(line: String, ctx: &mut Context) -> Result<Option<String>, String> {
    match line.as_str() {
        "quiet" => Ok(None),
        "quit" => {
            ctx.close();
            Ok(Some("bye".to_owned()))
        }
        "fail" => Err("asked to fail".to_owned()),
        "slow" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(Some("SLOW".to_owned()))
        }
        _ => Ok(Some(format!(
            "{} from {}",
            line.to_uppercase(),
            ctx.peer_addr().ip()
        ))),
    }
}

/// A server of `answer` with lines of at most 64 bytes and `max_buffer_size` 4 KiB.
fn server() -> (TcpServer, SocketAddr) {
    let server =
        TcpServer::builder()
            .max_buffer_size(4096)
            .build(|stream, peer: SocketAddr| async move {
                serve_frames(stream, peer, LinesCodec::new_with_max_length(64), &answer).await
            });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    (server, addr)
}

async fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    within(reader.read_line(&mut line)).await.unwrap();
    line
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (server, addr) = server();
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let batch: String = (0..100).map(|i| format!("line {i}\nquiet\n")).collect();
    client.get_mut().write_all(batch.as_bytes()).await.unwrap();
    for i in 0..100 {
        assert_eq!(
            read_line(&mut client).await,
            format!("LINE {i} from 127.0.0.1\n")
        );
    }
    // The last request may come without its delimiter: answered at the end of the stream.
    client.get_mut().write_all(b"one more").await.unwrap();
    client.get_mut().shutdown().await.unwrap();
    assert_eq!(read_line(&mut client).await, "ONE MORE from 127.0.0.1\n");
    assert_eq!(
        read_line(&mut client).await,
        "",
        "closed after the last answer"
    );
    server.stop();
}

#[tokio::test]
async fn answers_before_a_waiting_handler_are_written_first() {
    let (server, addr) = server();
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    client
        .get_mut()
        .write_all(b"first\nslow\nlast\n")
        .await
        .unwrap();
    // `first` arrives while `slow` still waits, not 300 ms later with it.
    let started = std::time::Instant::now();
    assert_eq!(read_line(&mut client).await, "FIRST from 127.0.0.1\n");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(read_line(&mut client).await, "SLOW\n");
    assert_eq!(read_line(&mut client).await, "LAST from 127.0.0.1\n");
    server.stop();
}

#[tokio::test]
async fn the_handler_closes_after_its_answer() {
    let (server, addr) = server();
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    // `after` is never handled: the close comes first.
    client
        .get_mut()
        .write_all(b"hello\nquit\nafter\n")
        .await
        .unwrap();
    assert_eq!(read_line(&mut client).await, "HELLO from 127.0.0.1\n");
    assert_eq!(read_line(&mut client).await, "bye\n");
    let mut rest = Vec::new();
    within(client.read_to_end(&mut rest)).await.unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    server.stop();
}

#[tokio::test]
async fn bad_input_closes_only_its_connection() {
    let logs = LogCapture::start();
    let (server, addr) = server();
    let mut good = BufReader::new(TcpStream::connect(addr).await.unwrap());
    good.get_mut().write_all(b"before\n").await.unwrap();
    assert_eq!(read_line(&mut good).await, "BEFORE from 127.0.0.1\n");
    for (input, logged) in [
        // Over LinesCodec's 64 bytes: answered so far, then closed.
        (
            format!("ok\n{}\n", "x".repeat(100)),
            "closing connection from 127.0.0.1",
        ),
        // The handler's error.
        ("ok\nfail\n".to_owned(), "asked to fail"),
    ] {
        let mut bad = BufReader::new(TcpStream::connect(addr).await.unwrap());
        bad.get_mut().write_all(input.as_bytes()).await.unwrap();
        assert_eq!(read_line(&mut bad).await, "OK from 127.0.0.1\n");
        let mut rest = Vec::new();
        let _ = within(bad.read_to_end(&mut rest)).await;
        assert!(rest.is_empty(), "{rest:?}");
        assert!(
            within(async {
                loop {
                    if logs.text().contains(logged) {
                        break true;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await
        );
    }
    // The good connection never noticed.
    good.get_mut().write_all(b"after\n").await.unwrap();
    assert_eq!(read_line(&mut good).await, "AFTER from 127.0.0.1\n");
    server.stop();
}

#[tokio::test]
async fn a_request_over_max_buffer_size_closes_the_connection() {
    let logs = LogCapture::start();
    // No line limit in the codec: `max_buffer_size` (4 KiB) still bounds the buffer.
    let server =
        TcpServer::builder()
            .max_buffer_size(4096)
            .build(|stream, peer: SocketAddr| async move {
                serve_frames(stream, peer, LinesCodec::new(), &answer).await
            });
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let mut client = TcpStream::connect(addr).await.unwrap();
    let _ = client.write_all(&vec![b'y'; 64 * 1024]).await;
    let mut rest = Vec::new();
    let _ = within(client.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
    within(async {
        while !logs
            .text()
            .contains("larger than max_buffer_size (4096 bytes)")
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    server.stop();
}

/// The `echo_codec` example as a user runs it: every line back, pipelined or not, and a
/// line over its 64 KiB limit closing only that connection.
#[test]
fn the_echo_codec_binary_echoes_pipelined_lines() {
    use std::io::{BufRead, Read, Write};
    use tcpserver_tests::proc::ServerProcess;

    let mut server = ServerProcess::start("echo_codec", &["--port", "0", "--address", "127.0.0.1"]);
    let mut client = std::net::TcpStream::connect(server.addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let batch: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    client.write_all(batch.as_bytes()).unwrap();
    let mut reader = std::io::BufReader::new(client.try_clone().unwrap());
    for i in 0..1000 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, format!("line {i}\n"));
    }
    let mut long = std::net::TcpStream::connect(server.addr()).unwrap();
    long.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = long.write_all(&vec![b'z'; 70 * 1024]);
    let mut rest = Vec::new();
    let _ = long.read_to_end(&mut rest);
    assert!(rest.is_empty());
    client.write_all(b"still here\n").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "still here\n");
    server.signal(nix::sys::signal::Signal::SIGTERM);
    drop((client, reader));
    let status = server.wait_timeout(Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}
