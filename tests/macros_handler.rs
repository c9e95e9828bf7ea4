//! `#[tcp_server]` at the crate root, as in a server binary: the generated `main` is
//! compiled, and linted by clippy, like any other code here (the test harness brings its
//! own entry point and leaves this `main` unused), and the handler is unit-tested as the
//! plain async function it remains.
#![deny(dead_code, unused_qualifications, clippy::all, clippy::pedantic)]

use std::net::SocketAddr;

use tcpserver::iostream::StreamOptions;
use tcpserver::{IoStream, tcp_server};
use tokio::net::TcpListener;

/// Greets every client with its address, then echoes one line.
#[tcp_server(
    port = 0,
    address = "127.0.0.1",
    family = "ipv4",
    max_buffer_size = "64KiB",
    read_chunk_size = "4KiB",
    shutdown_timeout = "1.5s",
    runtime = "current_thread"
)]
async fn greet(mut stream: IoStream, addr: SocketAddr) -> tcpserver::Result<()> {
    stream
        .write(format!("hello, {}\n", addr.ip()).as_bytes())
        .await?;
    let line = stream.read_until(b"\n", Some(1024)).await?;
    stream.write(&line).await
}

/// A connected pair: the client's end, and the server's end with the client's address.
async fn connection() -> (IoStream, IoStream, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = IoStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (tcp, addr) = listener.accept().await.unwrap();
    (client, IoStream::new(tcp, StreamOptions::new()), addr)
}

#[tokio::test]
async fn the_handler_is_callable_from_a_test() {
    let (mut client, server, addr) = connection().await;
    let handler = tokio::spawn(greet(server, addr));
    assert_eq!(
        client.read_until(b"\n", None).await.unwrap(),
        b"hello, 127.0.0.1\n"
    );
    client.write(b"ping\n").await.unwrap();
    assert_eq!(client.read_until(b"\n", None).await.unwrap(), b"ping\n");
    handler.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_handlers_error_reaches_the_test() {
    let (client, server, addr) = connection().await;
    drop(client);
    // The greeting may still fit in the socket buffer; the read cannot succeed.
    assert!(greet(server, addr).await.is_err());
}

#[test]
fn the_generated_main_returns_an_exit_code() {
    let _: fn() -> std::process::ExitCode = main;
}
