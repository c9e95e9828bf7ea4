//! HTTP upgrades over real sockets: every kind of handler (function, tower service,
//! Tornado-style delegate, and hyper's own `upgrade::on`) answers `101 Switching
//! Protocols` and takes the connection over as an `IoStream`, bytes sent behind the
//! request included; requests that do not upgrade stay HTTP.

mod http_support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, StatusCode, header};
use http_support::{serve, within};
use tcpserver::IoStream;
use tcpserver::httpserver::{
    BodyLimits, Delegate, HttpMessageDelegate, HttpOptions, HttpServerConnectionDelegate,
    RequestContext, upgrade,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The upgraded protocol: a greeting, then a line echo until the client leaves or the
/// server shuts down.
async fn line_echo(mut stream: IoStream) {
    let shutdown = stream.shutdown_signal();
    if stream.write(b"upgraded\n").await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            line = stream.read_until(b"\n", Some(1024)) => match line {
                Ok(line) => if stream.write(&line).await.is_err() { return },
                Err(_) => return,
            },
            () = shutdown.requested() => {
                let _ = stream.write(b"bye\n").await;
                return;
            }
        }
    }
}

fn switching<B: Default>() -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, "upgrade".parse().unwrap());
    headers.insert(header::UPGRADE, "echo".parse().unwrap());
    response
}

/// Takes over `request`'s connection in a task of its own, and answers 101.
fn take_over<B, R: Default>(request: &Request<B>) -> Response<R> {
    let connection = upgrade::on(request);
    tokio::spawn(async move { line_echo(connection.await.expect("upgraded")).await });
    switching()
}

const UPGRADE: &[u8] =
    b"GET /chat HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";

/// Sends the upgrade request with a first line behind it in the same write, and checks
/// the 101, the greeting, that line, and one more round trip.
async fn upgrades(addr: SocketAddr) -> BufReader<TcpStream> {
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    client
        .get_mut()
        .write_all(&[UPGRADE, b"first\n"].concat())
        .await
        .unwrap();
    let head = read_head(&mut client).await;
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert_eq!(read_line(&mut client).await, "upgraded\n");
    assert_eq!(read_line(&mut client).await, "first\n");
    client.get_mut().write_all(b"second\n").await.unwrap();
    assert_eq!(read_line(&mut client).await, "second\n");
    client
}

async fn read_head(client: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        let n = within(client.read_line(&mut head)).await.unwrap();
        assert!(n > 0, "connection closed after {head:?}");
    }
    head
}

async fn read_line(client: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    within(client.read_line(&mut line)).await.unwrap();
    line
}

#[tokio::test]
async fn a_function_handler_takes_the_connection_over() {
    let (server, addr) = serve(
        HttpOptions::new(),
        |request: Request<tcpserver::httpserver::Body>| async move { take_over::<_, String>(&request) },
    );
    let mut client = upgrades(addr).await;
    // The upgraded connection counts until its task lets go: the shutdown reaches it.
    within(server.shutdown(Duration::from_secs(10))).await;
    assert_eq!(read_line(&mut client).await, "bye\n");
    assert_eq!(read_line(&mut client).await, "");
}

#[tokio::test]
async fn a_tower_service_takes_the_connection_over() {
    let router = axum::Router::new().route(
        "/chat",
        axum::routing::get(|request: axum::extract::Request| async move {
            take_over::<_, axum::body::Body>(&request)
        }),
    );
    let (server, addr) = serve(HttpOptions::new(), router);
    drop(upgrades(addr).await);
    within(server.shutdown(Duration::from_secs(10))).await;
}

struct Upgrading;

impl HttpServerConnectionDelegate for Upgrading {
    type Message = UpgradeMessage;
    fn start_request(&self, _context: &RequestContext) -> UpgradeMessage {
        UpgradeMessage
    }
}

struct UpgradeMessage;

impl HttpMessageDelegate for UpgradeMessage {
    type Body = String;
    async fn headers_received(
        &mut self,
        head: &Parts,
        _limits: &mut BodyLimits,
    ) -> Option<Response<String>> {
        let connection = upgrade::on(head);
        tokio::spawn(async move { line_echo(connection.await.expect("upgraded")).await });
        Some(switching())
    }
    async fn data_received(&mut self, _chunk: Bytes) {}
    async fn finish(self) -> Response<String> {
        Response::new("not reached".into())
    }
}

#[tokio::test]
async fn a_delegate_takes_the_connection_over() {
    let (server, addr) = serve(HttpOptions::new(), Delegate(Upgrading));
    drop(upgrades(addr).await);
    within(server.shutdown(Duration::from_secs(10))).await;
}

/// hyper's own `upgrade::on` works as well (axum's `WebSocketUpgrade` relies on it).
#[tokio::test]
async fn hyper_upgrade_on_works_too() {
    let (server, addr) = serve(
        HttpOptions::new(),
        |mut request: Request<tcpserver::httpserver::Body>| async move {
            let connection = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                let upgraded = connection.await.expect("upgraded");
                let mut io = hyper_util::rt::TokioIo::new(upgraded);
                io.write_all(b"upgraded\n").await.unwrap();
                let mut buf = [0u8; 64];
                loop {
                    match io.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => io.write_all(&buf[..n]).await.unwrap(),
                    }
                }
            });
            switching::<String>()
        },
    );
    drop(upgrades(addr).await);
    within(server.shutdown(Duration::from_secs(10))).await;
}

/// No upgrade without both an `Upgrade` request and a 101 answer: the handler's future
/// fails, and the connection goes on serving HTTP.
#[tokio::test]
async fn requests_that_do_not_upgrade_stay_http() {
    let (tx, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
    let (server, addr) = serve(
        HttpOptions::new(),
        move |request: Request<tcpserver::httpserver::Body>| {
            let tx = tx.clone();
            async move {
                let connection = upgrade::on(&request);
                tokio::spawn(async move {
                    let _ = tx.send(connection.await.map(drop).map_err(|e| e.to_string()));
                });
                Response::new("plain\n".to_owned())
            }
        },
    );
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    let plain = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    for request in [&plain[..], UPGRADE, plain] {
        client.get_mut().write_all(request).await.unwrap();
        let head = read_head(&mut client).await;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(read_line(&mut client).await, "plain\n");
        let outcome = within(outcomes.recv()).await.unwrap();
        assert!(outcome.unwrap_err().starts_with("no upgrade"));
    }
    drop(client);
    within(server.shutdown(Duration::from_secs(10))).await;
}
