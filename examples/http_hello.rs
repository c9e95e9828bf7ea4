//! Tornado's "Hello, world" HTTP server: `cargo run --example http_hello -- --port 8080`.
//!
//! Every HTTP option is a flag (`--xheaders`, `--max-body-size 1MiB`, ...); see `--help`.

use std::process::ExitCode;

use http::{Request, Response};
use tcpserver::Launcher;
use tcpserver::httpserver::{Body, HttpOptions};

async fn hello(_request: Request<Body>) -> Response<String> {
    Response::new("Hello, world".to_owned())
}

fn main() -> ExitCode {
    Launcher::new(8080)
        .about("Hello, world over HTTP")
        .run_http(HttpOptions::new(), hello)
}
