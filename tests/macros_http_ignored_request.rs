//! An `#[http_server]` handler that ignores its request lets go of it when it is called,
//! as a closure's `async move` block does, not when its future completes (an `async fn`
//! keeps every argument in its future): hyper reads ahead while a request is in flight,
//! and a request still held keeps the bytes of hyper's read buffer that its head points
//! into, so the read needs a fresh buffer.
#![deny(dead_code)]

use std::sync::Arc;

use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

#[http_server(port = 0, address = "127.0.0.1", runtime = "current_thread")]
async fn hello(_request: Request<Body>) -> Response<String> {
    Response::new("Hello, world".to_owned())
}

#[tokio::test]
async fn an_ignored_request_is_dropped_when_the_handler_is_called() {
    let held = Arc::new(());
    let mut request = Request::new(Body::from(""));
    request.extensions_mut().insert(held.clone());
    let future = hello(request);
    assert_eq!(Arc::strong_count(&held), 1, "the future holds the request");
    assert_eq!(future.await.body(), "Hello, world");
}

#[test]
fn the_generated_main_returns_an_exit_code() {
    let _: fn() -> std::process::ExitCode = main;
}
