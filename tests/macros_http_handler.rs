//! `#[http_server]` at the crate root, as in a server binary: the generated `main` is
//! compiled, and linted by clippy, like any other code here (the test harness brings its
//! own entry point and leaves this `main` unused), and the request handler is unit-tested
//! as the plain async function it remains.
#![deny(dead_code, unused_qualifications, clippy::all, clippy::pedantic)]

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tcpserver::http_server;
use tcpserver::httpserver::{Body, BodyError, Protocol, RequestContext, RequestExt};

/// Greets the client by address, and counts the bytes it sent.
#[http_server(
    port = 0,
    address = "127.0.0.1",
    runtime = "current_thread",
    shutdown_timeout = "1.5s",
    no_keep_alive = true,
    xheaders = true,
    trusted_downstream = ["127.0.0.1", "::1", "fd00::1:2"],
    protocol = "http",
    decompress_request = true,
    chunk_size = "16KiB",
    max_header_size = 8192,
    idle_connection_timeout = "75s",
    body_timeout = 0.5,
    max_body_size = "1MiB"
)]
async fn greet(request: Request<Body>) -> Result<Response<String>, BodyError> {
    let ip = request.remote_ip();
    let body = request.into_body().collect().await?.to_bytes();
    let mut response = Response::new(format!("hello, {ip:?}: {} bytes", body.len()));
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

fn request(body: &'static str) -> Request<Body> {
    let mut request = Request::new(Body::from(body));
    let client = RequestContext::new("192.0.2.7:5000".parse().unwrap(), Protocol::Http);
    let _ = request.extensions_mut().insert(client);
    request
}

#[tokio::test]
async fn the_handler_is_callable_from_a_test() {
    let response = greet(request("ping")).await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.body(), "hello, Some(192.0.2.7): 4 bytes");
}

#[test]
fn the_generated_main_returns_an_exit_code() {
    let _: fn() -> std::process::ExitCode = main;
}
