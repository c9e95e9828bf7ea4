//! An axum `Router`, unchanged, served by tcpserver's HTTP server with one worker process
//! per CPU: `cargo run --example http_axum -- --port 8080`.
//!
//! Routes: `GET /` (hello), `GET /whoami` (the client address and protocol, as
//! `--xheaders` sees them), `POST /echo` (the request body back).

use std::process::ExitCode;

use axum::Router;
use axum::extract::Extension;
use axum::routing::{get, post};
use bytes::Bytes;
use tcpserver::Launcher;
use tcpserver::httpserver::{HttpOptions, RequestContext};

async fn hello() -> &'static str {
    "Hello from axum"
}

async fn whoami(Extension(ctx): Extension<RequestContext>) -> String {
    format!("{} {}", ctx.remote_ip(), ctx.protocol())
}

async fn echo(body: Bytes) -> Bytes {
    body
}

fn main() -> ExitCode {
    let app = Router::new()
        .route("/", get(hello))
        .route("/whoami", get(whoami))
        .route("/echo", post(echo));
    Launcher::new(8080)
        .processes(0)
        .about("An axum Router on tcpserver, one worker per CPU")
        .run_http(HttpOptions::new(), app)
}
