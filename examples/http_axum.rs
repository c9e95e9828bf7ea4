//! An axum `Router`, unchanged, served by tcpserver's HTTP server over TLS with one worker
//! process per CPU:
//!
//! ```sh
//! cargo run --example http_axum                # https://localhost:8443, examples/certs/server.pem
//! curl --cacert examples/certs/ca.pem https://localhost:8443/whoami
//! ```
//!
//! Routes: `GET /` (hello), `GET /whoami` (the client address and protocol, as
//! `--xheaders` sees them), `POST /echo` (the request body back).
//!
//! The certificates under `examples/certs/` are for trying things out only: their private
//! keys are public.

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
    Launcher::new(8443)
        .processes(0)
        .tls("examples/certs/server.pem")
        .about("An axum Router on tcpserver, over TLS, one worker per CPU")
        .run_http(HttpOptions::new(), app)
}
