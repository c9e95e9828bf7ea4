//! [`HttpOptions`]: Tornado's `HTTPServer` keyword arguments, with Tornado's defaults.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Protocol;

/// Tornado's default `chunk_size`: 64 KiB.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;

/// Tornado's default `max_header_size`: 64 KiB.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 64 * 1024;

/// Tornado's default `idle_connection_timeout`: one hour.
pub const DEFAULT_IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// The HTTP options of an [`HttpServer`](super::HttpServer), named and defaulted as
/// Tornado's `HTTPServer` arguments (the stream options `max_buffer_size` and TLS belong
/// to the underlying [`TcpServer`](crate::TcpServer) or [`Launcher`](crate::Launcher)).
///
/// Each setter documents its default. A [`Launcher`](crate::Launcher) binary exposes every
/// option as a `--kebab-case` flag whose default is the value set here.
///
/// # Examples
///
/// Behind a TLS-terminating proxy on the same machine:
///
/// ```
/// use std::time::Duration;
/// use tcpserver::httpserver::{
///     DEFAULT_CHUNK_SIZE, DEFAULT_IDLE_CONNECTION_TIMEOUT, DEFAULT_MAX_HEADER_SIZE,
///     HttpOptions, Protocol,
/// };
///
/// let options = HttpOptions::new()
///     .xheaders(true)
///     .trusted_downstream(["10.0.0.2".parse().unwrap()])
///     .protocol(Protocol::Https)
///     .decompress_request(true)
///     .max_body_size(10 << 20)
///     .body_timeout(Duration::from_secs(60))
///     .idle_connection_timeout(Duration::from_secs(75));
/// assert!(options.get_xheaders());
/// assert_eq!(options.get_max_body_size(), Some(10 << 20));
///
/// // Tornado's defaults:
/// let defaults = HttpOptions::new();
/// assert!(!defaults.get_no_keep_alive());
/// assert!(!defaults.get_xheaders());
/// assert!(defaults.get_trusted_downstream().is_empty());
/// assert_eq!(defaults.get_protocol(), None); // from the stream
/// assert!(!defaults.get_decompress_request());
/// assert_eq!(defaults.get_chunk_size(), DEFAULT_CHUNK_SIZE);
/// assert_eq!(defaults.get_max_header_size(), DEFAULT_MAX_HEADER_SIZE);
/// assert_eq!(defaults.get_idle_connection_timeout(), DEFAULT_IDLE_CONNECTION_TIMEOUT);
/// assert_eq!(defaults.get_body_timeout(), None); // no limit
/// assert_eq!(defaults.get_max_body_size(), None); // the server's max_buffer_size
/// assert_eq!((DEFAULT_CHUNK_SIZE, DEFAULT_MAX_HEADER_SIZE), (64 * 1024, 64 * 1024));
/// assert_eq!(DEFAULT_IDLE_CONNECTION_TIMEOUT, Duration::from_secs(3600));
/// ```
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub(crate) no_keep_alive: bool,
    pub(crate) xheaders: bool,
    pub(crate) trusted_downstream: Arc<[IpAddr]>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) decompress_request: bool,
    pub(crate) chunk_size: usize,
    pub(crate) max_header_size: usize,
    pub(crate) idle_connection_timeout: Duration,
    pub(crate) body_timeout: Option<Duration>,
    pub(crate) max_body_size: Option<usize>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions::new()
    }
}

impl HttpOptions {
    /// Tornado's defaults; each setter names its own.
    pub fn new() -> Self {
        HttpOptions {
            no_keep_alive: false,
            xheaders: false,
            trusted_downstream: Arc::from(Vec::new()),
            protocol: None,
            decompress_request: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            idle_connection_timeout: DEFAULT_IDLE_CONNECTION_TIMEOUT,
            body_timeout: None,
            max_body_size: None,
        }
    }

    /// Close the connection after every response (default false). An HTTP/1.1 response
    /// then carries `Connection: close`.
    pub fn no_keep_alive(mut self, yes: bool) -> Self {
        self.no_keep_alive = yes;
        self
    }

    /// Trust `X-Real-Ip`/`X-Forwarded-For` for the client address and
    /// `X-Scheme`/`X-Forwarded-Proto` for the protocol (default false). Use it only behind
    /// a reverse proxy that sets them. The headers are read anew for every request: what
    /// one request claims never carries over to the next on the same connection.
    pub fn xheaders(mut self, yes: bool) -> Self {
        self.xheaders = yes;
        self
    }

    /// Proxy addresses skipped while walking `X-Forwarded-For` from the right (default
    /// none). Only used with [`xheaders`](Self::xheaders).
    pub fn trusted_downstream(mut self, proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        self.trusted_downstream = proxies.into_iter().collect();
        self
    }

    /// The protocol requests are said to arrive over (default: `https` on a TLS stream,
    /// `http` otherwise). Set `https` behind a TLS-terminating proxy that sends no
    /// `X-Forwarded-Proto`.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Inflate request bodies sent with `Content-Encoding: gzip` (default false). The
    /// handler then sees the decompressed body, without `Content-Encoding` and
    /// `Content-Length`, and with `X-Consumed-Content-Encoding: gzip`. The decompressed size
    /// counts against [`max_body_size`](Self::max_body_size), so a gzip bomb is refused.
    pub fn decompress_request(mut self, yes: bool) -> Self {
        self.decompress_request = yes;
        self
    }

    /// The largest piece of request body handed over at once (default 64 KiB; `0` means
    /// the default). Bigger pieces are split, without copying.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = if bytes == 0 {
            DEFAULT_CHUNK_SIZE
        } else {
            bytes
        };
        self
    }

    /// The largest request head (request line and headers) accepted (default 64 KiB;
    /// `0` means the default). A larger head is answered `431 Request Header Fields Too
    /// Large`. At most 100 header lines are accepted whatever their size.
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.max_header_size = if bytes == 0 {
            DEFAULT_MAX_HEADER_SIZE
        } else {
            bytes
        };
        self
    }

    /// How long a connection may wait for the whole head of its next request, counted
    /// from the moment it starts waiting (default one hour; `0` means the default, as in
    /// Tornado). It is both the keep-alive idle timeout and the bound on slow headers;
    /// the connection is closed without a response.
    pub fn idle_connection_timeout(mut self, timeout: Duration) -> Self {
        self.idle_connection_timeout = if timeout.is_zero() {
            DEFAULT_IDLE_CONNECTION_TIMEOUT
        } else {
            timeout
        };
        self
    }

    /// How long reading one request body may take (default: no limit), counted from the
    /// handler's first read of the body, as Tornado counts from the start of its body read
    /// (time spent before, in `headers_received` say, does not count). Past it, a read
    /// that would wait for more fails and the connection is closed without a response;
    /// bytes that have already arrived are still handed over.
    pub fn body_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.body_timeout = timeout.into();
        self
    }

    /// The largest request body accepted (default: the server's `max_buffer_size`,
    /// 100 MiB unless changed). A larger body is answered `413 Content Too Large`; with
    /// [`decompress_request`](Self::decompress_request) the limit applies to both the
    /// compressed and the decompressed size.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = Some(bytes);
        self
    }

    /// See [`no_keep_alive`](Self::no_keep_alive).
    pub fn get_no_keep_alive(&self) -> bool {
        self.no_keep_alive
    }

    /// See [`xheaders`](Self::xheaders).
    pub fn get_xheaders(&self) -> bool {
        self.xheaders
    }

    /// See [`trusted_downstream`](Self::trusted_downstream).
    pub fn get_trusted_downstream(&self) -> &[IpAddr] {
        &self.trusted_downstream
    }

    /// See [`protocol`](Self::protocol); `None` means "from the stream".
    pub fn get_protocol(&self) -> Option<Protocol> {
        self.protocol
    }

    /// See [`decompress_request`](Self::decompress_request).
    pub fn get_decompress_request(&self) -> bool {
        self.decompress_request
    }

    /// See [`chunk_size`](Self::chunk_size).
    pub fn get_chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// See [`max_header_size`](Self::max_header_size).
    pub fn get_max_header_size(&self) -> usize {
        self.max_header_size
    }

    /// See [`idle_connection_timeout`](Self::idle_connection_timeout).
    pub fn get_idle_connection_timeout(&self) -> Duration {
        self.idle_connection_timeout
    }

    /// See [`body_timeout`](Self::body_timeout).
    pub fn get_body_timeout(&self) -> Option<Duration> {
        self.body_timeout
    }

    /// See [`max_body_size`](Self::max_body_size); `None` means "the server's
    /// `max_buffer_size`".
    pub fn get_max_body_size(&self) -> Option<usize> {
        self.max_body_size
    }
}
