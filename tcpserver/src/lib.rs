//! Tornado's server stack for tokio: [`TcpServer`], [`netutil::bind_sockets`],
//! [`process::fork_processes`], [`IoStream`] and an HTTP server on hyper, behind one
//! attribute that turns an async function into a whole server binary.
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use tcpserver::{tcp_server, IoStream};
//!
//! #[tcp_server(port = 8888)]
//! async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
//!     loop {
//!         let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
//!         stream.write(&line).await?;
//!     }
//! }
//! ```
//!
//! [`tcp_server`](macro@tcp_server) documents every key of the attribute. Its HTTP twin,
//! [`http_server`](macro@http_server), does the same for an async request handler, with
//! Tornado's `HTTPServer` options as further keys (with the `http` feature):
//!
//! ```no_run
//! # #[cfg(feature = "http")]
//! # mod doc {
//! use http::{Request, Response};
//! use tcpserver::http_server;
//! use tcpserver::httpserver::Body;
//!
//! #[http_server(port = 8080, xheaders = true)]
//! async fn hello(_request: Request<Body>) -> Response<String> {
//!     Response::new("Hello, world".to_owned())
//! }
//! # }
//! ```
//!
//! The default build is the TCP stack; the `tls`, `http`, `regex` and `proxy` features (or
//! `full`) add TLS, the HTTP server, `read_until_regex` and the PROXY protocol.
//!
//! Modules follow Tornado's, so a Tornado user finds things where they expect them:
//! [`netutil`], [`process`], [`iostream`], [`tcpserver`](mod@tcpserver), `tls` (feature
//! `tls`), `httpserver` (feature `http`); and `proxy` (feature `proxy`), the PROXY protocol
//! that Tornado lacks. [`launch`] holds what the attribute expands to: the whole `main` of
//! a server binary, as a builder.
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

// One clear error instead of a page of missing `nix` items (README, "Platforms").
#[cfg(not(target_os = "linux"))]
compile_error!(
    "tcpserver builds only on Linux: its supervisor uses signalfd and prctl, and it reads /proc \
     (see the README's Platforms section)"
);

#[cfg(feature = "codec")]
pub mod codec;
pub mod error;
#[cfg(feature = "http")]
pub mod httpserver;
pub mod iostream;
pub mod launch;
pub mod metrics;
pub mod netutil;
pub mod process;
#[cfg(feature = "proxy")]
pub mod proxy;
pub mod tcpserver;
#[cfg(feature = "tls")]
pub mod tls;

/// clap, for the application's flags ([`Launcher::state_with`], `args = ...` in the
/// attribute): derive `clap::Args` through this re-export (`use tcpserver::clap;`) so that
/// its version is always tcpserver's.
#[cfg(feature = "args")]
pub use clap;
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "http")]
pub use httpserver::HttpServer;
pub use iostream::IoStream;
pub use launch::Launcher;
pub use tcpserver::{HandlerResult, ShutdownSignal, StreamHandler, TcpServer};
/// Without the `http` feature the attribute is still here, so that using it is a compile
/// error that names the feature.
#[doc(inline)]
pub use tcpserver_macros::http_server;
#[doc(inline)]
pub use tcpserver_macros::tcp_server;
