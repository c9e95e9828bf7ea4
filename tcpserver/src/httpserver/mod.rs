//! Tornado's `HTTPServer` on hyper: a [`TcpServer`] whose connections speak HTTP/1.x.
//!
//! A handler is any of (see [`IntoHttpHandler`]):
//! - an async function from [`http::Request<Body>`] to [`http::Response<B>`] (or to
//!   `Result<Response<B>, E>`);
//! - a tower service, such as an axum `Router`, or a hyper service;
//! - a streaming [`HttpServerConnectionDelegate`] (Tornado's delegate interface), wrapped in
//!   [`Delegate`].
//!
//! A whole server binary around a handler is one attribute,
//! [`#[http_server(...)]`](macro@crate::http_server), on an async function, or
//! [`Launcher::run_http`](crate::Launcher::run_http) for any handler.
//!
//! Every request carries a [`RequestContext`] extension: the client's address and the
//! protocol, after [`xheaders`](HttpOptions::xheaders). Its [`Body`] applies the body
//! options as it is read.
//!
//! The options are Tornado's ([`HttpOptions`]); what the server answers by itself:
//!
//! | condition | answer |
//! |---|---|
//! | malformed request line, header, chunk framing, `Content-Length`, or gzip data | `400`, then close |
//! | missing, repeated or invalid `Host` (HTTP/1.1) | `400`, then close |
//! | a `Transfer-Encoding` other than exactly `chunked` | `400`, then close |
//! | request head over `max_header_size`, or over 100 header lines | `431`, then close |
//! | body over `max_body_size` (before or after decompression) | `413`, then close |
//! | no complete head within `idle_connection_timeout` | close, no response |
//! | body not read within `body_timeout` | close, no response |
//! | the handler returns an error | `500`, then close |
//! | the handler's `Content-Length` is not a number, or not its body's length | close, nothing sent (a stream: cut where it goes past the length or ends short of it); logged |
//!
//! The stream option `max_buffer_size` (of the [`TcpServer`] or
//! [`Launcher`](crate::Launcher)) is the default `max_body_size`, as in Tornado; hyper's
//! own read buffer is bounded by `max_header_size` (at least 8 KiB).
//!
//! Graceful shutdown ([`TcpServer::shutdown`]): idle keep-alive connections close at once;
//! a request in progress finishes and its response carries `Connection: close`; the
//! deadline applies to the rest.
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use http::{Request, Response};
//! use tcpserver::httpserver::{Body, HttpServer, RequestExt};
//!
//! async fn hello(request: Request<Body>) -> Response<String> {
//!     let ip = request.remote_ip().unwrap();
//!     Response::new(format!("Hello, {ip}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = HttpServer::new(hello);
//! let addr = server.listen(0, Some("127.0.0.1"))?[0];
//!
//! let response = tokio::task::spawn_blocking(move || {
//!     let mut client = std::net::TcpStream::connect(addr)?;
//!     client.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
//!     let mut response = String::new();
//!     client.read_to_string(&mut response)?;
//!     Ok::<_, std::io::Error>(response)
//! })
//! .await??;
//! assert!(response.ends_with("Hello, 127.0.0.1"));
//! server.shutdown(std::time::Duration::from_secs(1)).await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod body;
mod connection;
mod context;
mod decompress;
mod delegate;
mod handler;
mod idle;
mod length;
mod options;
pub mod upgrade;
mod xheaders;

use std::fmt;
use std::ops::Deref;

pub use body::{Body, BodyError, BodyLimits};
use connection::HttpStreamHandler;
pub use context::{Protocol, RequestContext, RequestExt};
pub use delegate::{Delegate, HttpMessageDelegate, HttpServerConnectionDelegate};
pub use handler::{
    BoxError, FnFuture, FnHandler, Handler, HandlerResponse, HyperFuture, HyperHandler,
    IntoHttpHandler, TowerFuture, TowerHandler, marker,
};
pub use options::{
    DEFAULT_CHUNK_SIZE, DEFAULT_IDLE_CONNECTION_TIMEOUT, DEFAULT_MAX_HEADER_SIZE, HttpOptions,
};

use crate::tcpserver::{Builder as TcpBuilder, TcpServer};

/// Tornado's `HTTPServer`: a [`TcpServer`] that serves HTTP/1.x with a handler (see the
/// [module documentation](self)).
///
/// It dereferences to its [`TcpServer`], as Tornado's `HTTPServer` is a `TCPServer`, so
/// `listen`, `bind`/`start`/`serve`, `add_sockets`, `stop` and `shutdown` work as there.
///
/// # Examples
///
/// See the [module documentation](self); Tornado's other start-up patterns work as for
/// [`TcpServer`].
#[derive(Clone)]
pub struct HttpServer {
    server: TcpServer,
}

impl fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HttpServer").field(&self.server).finish()
    }
}

impl HttpServer {
    /// A server with Tornado's defaults around `handler`.
    pub fn new<M>(handler: impl IntoHttpHandler<M>) -> Self {
        Builder::default().build(handler)
    }

    /// Options beyond the defaults; see [`Builder`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The underlying [`TcpServer`].
    pub fn into_tcp_server(self) -> TcpServer {
        self.server
    }
}

impl Deref for HttpServer {
    type Target = TcpServer;

    fn deref(&self) -> &TcpServer {
        &self.server
    }
}

/// Builds an [`HttpServer`]: HTTP options and the options of the underlying
/// [`TcpServer`].
///
/// # Examples
///
/// ```
/// use tcpserver::TcpServer;
/// use tcpserver::httpserver::{Body, HttpOptions, HttpServer};
///
/// async fn ok(_: http::Request<Body>) -> http::Response<String> {
///     http::Response::new(String::new())
/// }
///
/// let server = HttpServer::builder()
///     .options(HttpOptions::new().no_keep_alive(true).max_body_size(1 << 20))
///     .tcp(TcpServer::builder().max_buffer_size(8 << 20).max_connections(10_000))
///     .build(ok);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    options: HttpOptions,
    tcp: TcpBuilder,
}

impl Builder {
    /// The HTTP options (default: Tornado's, [`HttpOptions::new`]).
    pub fn options(mut self, options: HttpOptions) -> Self {
        self.options = options;
        self
    }

    /// The options of the underlying [`TcpServer`] (buffer size, connection cap, TLS;
    /// default: [`TcpServer::builder`]'s). Its `max_buffer_size` is the default
    /// `max_body_size`, as in Tornado.
    pub fn tcp(mut self, builder: TcpBuilder) -> Self {
        self.tcp = builder;
        self
    }

    /// Builds the server around `handler`. It listens on nothing yet.
    pub fn build<M>(self, handler: impl IntoHttpHandler<M>) -> HttpServer {
        let max_buffer_size = self.tcp.stream_options().get_max_buffer_size();
        let handler = HttpStreamHandler::new(handler, self.options, max_buffer_size);
        HttpServer {
            server: self.tcp.build(handler),
        }
    }
}
