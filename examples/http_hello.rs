//! Tornado's "Hello, world" HTTP server: `cargo run --example http_hello -- --port 8080`.
//!
//! Every key of the attribute, and every HTTP option, is also a flag (`--xheaders`,
//! `--max-body-size 1MiB`, ...); see `--help`. `examples/http_axum.rs` shows the same
//! server stack without the attribute, for a handler that is not a function.

use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

/// Hello, world over HTTP.
#[http_server(port = 8080)]
async fn hello(_request: Request<Body>) -> Response<String> {
    Response::new("Hello, world".to_owned())
}
