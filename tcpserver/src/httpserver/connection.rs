//! One HTTP/1 connection: hyper's server connection over the [`IoStream`], with our checks
//! before the handler (Host, Transfer-Encoding), our request body, our answers for failed
//! bodies, graceful shutdown, and a lingering close after an error response.
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::{Body as HttpBody, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::body::{BodyLimits, Failure, FailureSlot, Streaming};
use super::handler::{BoxError, Handler};
use super::idle::{IdleClock, ResponseBody};
use super::length::{self, Counter, Declared};
use super::{Body, HttpOptions, Protocol, RequestContext, upgrade, xheaders};
use crate::error::Chain;
use crate::iostream::ShutdownSignal;
use crate::tcpserver::SHUTDOWN_GRACE;

/// How often a fresh connection is checked for its first request during the shutdown
/// grace (only then, and only for connections that have not sent one yet).
const FIRST_REQUEST_CHECK: Duration = Duration::from_millis(5);
use crate::iostream::IoStream;
use crate::metrics;
use crate::tcpserver::StreamHandler;

/// After an error response, how long we keep reading (and discarding) what the client
/// still sends before closing, and how much of it at most. Closing a socket with unread
/// data makes the kernel send a reset, which can destroy the response before the client
/// reads it.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1 << 20;

static X_CONSUMED_CONTENT_ENCODING: HeaderName =
    HeaderName::from_static("x-consumed-content-encoding");

/// What every connection of one server shares.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) options: HttpOptions,
    /// `max_body_size`, with the server's `max_buffer_size` as the default.
    pub(crate) max_body_size: usize,
    builder: http1::Builder,
}

impl Config {
    pub(crate) fn new(options: HttpOptions, max_buffer_size: usize) -> Self {
        let mut builder = http1::Builder::new();
        builder
            // `idle_connection_timeout` is ours (see `idle`): hyper's would cost a timer
            // per request.
            .header_read_timeout(None)
            .keep_alive(!options.no_keep_alive)
            .max_header_size(options.max_header_size)
            // hyper refuses a buffer under 8 KiB; a head without its end is refused when it
            // fills the buffer, so the buffer is what bounds a partial head.
            .max_buf_size(options.max_header_size.max(8192));
        Config {
            max_body_size: options.max_body_size.unwrap_or(max_buffer_size),
            options,
            builder,
        }
    }
}

/// The [`StreamHandler`] of an [`HttpServer`](super::HttpServer): serves HTTP/1.x on every
/// connection with a [`Handler`]. Crate-private: users reach it through `HttpServer` and
/// `Launcher::run_http` (and a second public `StreamHandler` impl would show up in the
/// compile errors of every handler that is not one).
pub(crate) struct HttpStreamHandler<H> {
    handler: Arc<H>,
    config: Arc<Config>,
}

impl<H> fmt::Debug for HttpStreamHandler<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpStreamHandler")
            .field("options", &self.config.options)
            .field("max_body_size", &self.config.max_body_size)
            .finish_non_exhaustive()
    }
}

impl<H: Handler> HttpStreamHandler<H> {
    /// Serves `handler` with `options`; `max_buffer_size` is the default body limit (the
    /// server's own, as in Tornado).
    pub(crate) fn new<M>(
        handler: impl super::IntoHttpHandler<M, Handler = H>,
        options: HttpOptions,
        max_buffer_size: usize,
    ) -> Self {
        HttpStreamHandler {
            handler: Arc::new(handler.into_handler()),
            config: Arc::new(Config::new(options, max_buffer_size)),
        }
    }
}

impl<H: Handler> StreamHandler for HttpStreamHandler<H> {
    type Output = ();

    async fn handle_stream(&self, mut stream: IoStream, address: SocketAddr) {
        // Fires when an upgraded connection is done with (see `upgrade`).
        let stream_closed = stream.close_signal();
        // Tells the handler the connection is over however it ends, even when the shutdown
        // deadline aborts this task.
        let _closed = OnClose {
            handler: &*self.handler,
            peer: address,
        };
        let shutdown = stream.shutdown_signal();
        let protocol = self
            .config
            .options
            .protocol
            .unwrap_or_else(|| stream_protocol(&stream));
        let linger = Arc::new(AtomicBool::new(false));
        let clock = Arc::new(IdleClock::new());
        let idle_timeout = self.config.options.idle_connection_timeout;
        let service = ConnectionService {
            handler: self.handler.clone(),
            config: self.config.clone(),
            context: connection_context(&stream, address, protocol),
            linger: linger.clone(),
            clock: clock.clone(),
            shutdown: shutdown.clone(),
        };
        // Accepted while the server drains (see `TcpServer::drain`): serve the request it
        // came for, then close. Closing it before its first request, as a graceful
        // shutdown of an idle connection does, would fail that request at the proxy.
        let draining = shutdown.is_requested();
        let drained_builder;
        let builder = if draining {
            drained_builder = {
                let mut builder = self.config.builder.clone();
                builder.keep_alive(false);
                builder
            };
            &drained_builder
        } else {
            &self.config.builder
        };
        // The connection owns the stream (an upgrade hands it on); it comes back for a
        // lingering close.
        let mut conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let result = 'served: {
            let mut conn = Pin::new(&mut conn);
            let idle = tokio::time::sleep_until(clock.first_deadline(idle_timeout));
            tokio::pin!(idle);
            loop {
                tokio::select! {
                    biased;
                    result = conn.as_mut() => break result,
                    () = shutdown.requested(), if !draining => {
                        // A connection that has not sent its first request yet was opened
                        // for one (a proxy sends it right behind its connect): it gets a
                        // grace to arrive. hyper's graceful shutdown would close it
                        // unanswered, a 502 at the proxy (hyper #2730).
                        if clock.is_fresh() {
                            let grace = tokio::time::sleep(SHUTDOWN_GRACE);
                            tokio::pin!(grace);
                            while clock.is_fresh() {
                                tokio::select! {
                                    biased;
                                    result = conn.as_mut() => break 'served result,
                                    () = grace.as_mut() => break,
                                    () = tokio::time::sleep(FIRST_REQUEST_CHECK) => {}
                                }
                            }
                        }
                        // Idle: closes now. Busy: the response in progress is the last,
                        // with `Connection: close`.
                        conn.as_mut().graceful_shutdown();
                        break conn.as_mut().await;
                    }
                    () = idle.as_mut() => match clock.check(tokio::time::Instant::now(), idle_timeout) {
                        Some(next) => idle.as_mut().reset(next),
                        None => {
                            tracing::debug!("closing connection from {}: no complete request head in time", address.ip());
                            break Ok(());
                        }
                    },
                }
            }
        };
        let ip = address.ip();
        if let Err(e) = result {
            log_connection_error(ip, &e);
            if e.is_parse() || e.is_parse_too_large() {
                // hyper answered the malformed request itself: 431 for a head too large,
                // 400 for the rest.
                metrics::http_rejected(if e.is_parse_too_large() { 431 } else { 400 });
                linger.store(true, Ordering::Relaxed);
            }
        }
        let Some(parts) = conn.into_parts() else {
            // Upgraded: the handler's task has the stream now. The connection stays
            // counted (and drained at shutdown) until that task drops it.
            stream_closed.closed().await;
            return;
        };
        if linger.load(Ordering::Relaxed) {
            linger_close(&mut parts.io.into_inner()).await;
        }
    }
}

/// Calls [`Handler::on_close`] when dropped.
struct OnClose<'a, H: Handler> {
    handler: &'a H,
    peer: SocketAddr,
}

impl<H: Handler> Drop for OnClose<'_, H> {
    fn drop(&mut self) {
        self.handler.on_close(self.peer);
    }
}

/// The context every request of the connection starts from.
fn connection_context(stream: &IoStream, peer: SocketAddr, protocol: Protocol) -> RequestContext {
    let context = RequestContext::new(peer, protocol);
    #[cfg(feature = "tls")]
    let context = context.with_tls(match stream.wait_for_handshake() {
        Ok(Some(tls)) => Some(Arc::new(tls.clone())),
        _ => None,
    });
    #[cfg(not(feature = "tls"))]
    let _ = stream;
    context
}

/// `http`, or `https` for a TLS stream (the server completed its handshake already).
#[cfg(feature = "tls")]
fn stream_protocol(stream: &IoStream) -> Protocol {
    match stream.wait_for_handshake() {
        Ok(Some(_)) => Protocol::Https,
        _ => Protocol::Http,
    }
}

/// `http`: without TLS support every stream is plain.
#[cfg(not(feature = "tls"))]
fn stream_protocol(_stream: &IoStream) -> Protocol {
    Protocol::Http
}

fn log_connection_error(ip: IpAddr, e: &hyper::Error) {
    if e.is_parse() || e.is_parse_too_large() || e.is_parse_status() {
        tracing::info!("Malformed HTTP message from {ip}: {e}");
    } else if e.is_user() {
        // Our own refusal (a body that failed); the body logged why.
        tracing::debug!("closed connection from {ip}: {e}");
    } else {
        tracing::debug!("connection from {ip} closed: {}", Chain(e));
    }
}

/// Shuts our side down, then reads and discards what the client still sends for a short
/// while (so that our last response is not lost to a reset), then returns.
async fn linger_close(stream: &mut IoStream) {
    let _ = stream.shutdown().await;
    let drain = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// The hyper service of one connection.
struct ConnectionService<H> {
    handler: Arc<H>,
    config: Arc<Config>,
    /// The connection's own address and protocol, before any xheaders.
    context: RequestContext,
    /// Set when we answered with an error: the connection then closes lingering.
    linger: Arc<AtomicBool>,
    clock: Arc<IdleClock>,
    shutdown: ShutdownSignal,
}

impl<H: Handler> hyper::service::Service<Request<Incoming>> for ConnectionService<H> {
    type Response = Response<ResponseBody<H::ResBody>>;
    type Error = Abort;
    type Future = ResponseFuture<H::Future>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.clock.request_started();
        let started = metrics::enabled().then(Instant::now);
        let (mut head, incoming) = request.into_parts();
        let head_request = head.method == http::Method::HEAD;
        let options = &self.config.options;
        let context = if options.xheaders {
            xheaders::apply(
                &head.headers,
                self.context.clone(),
                &options.trusted_downstream,
            )
        } else {
            self.context.clone()
        };
        let remote_ip = context.remote_ip;
        if let Err(problem) = check_host(&head) {
            return self.refuse(remote_ip, StatusCode::BAD_REQUEST, problem, started);
        }
        let (body, watch) = if incoming.is_end_stream() {
            (Body::empty(), None)
        } else {
            if let Err(problem) = check_transfer_encoding(&head.headers) {
                return self.refuse(remote_ip, StatusCode::BAD_REQUEST, problem, started);
            }
            let gzip = options.decompress_request && take_gzip_encoding(&mut head.headers);
            let limits = BodyLimits::new(self.config.max_body_size, options.body_timeout);
            let slot = Arc::new(FailureSlot::default());
            let streaming = Streaming::new(
                incoming,
                limits,
                options.chunk_size,
                gzip,
                slot.clone(),
                remote_ip,
            );
            let watch = Watch {
                slot,
                linger: self.linger.clone(),
            };
            (Body::streaming(streaming, limits), Some(watch))
        };
        // An upgrade request (hyper marked it): `upgrade::on` learns whether we switched.
        // Looked up before the context goes in: on most requests the extensions are still
        // empty then, and the lookup is a null check.
        let upgrade = head
            .extensions
            .get::<hyper::upgrade::OnUpgrade>()
            .is_some()
            .then(|| {
                let decision = Arc::new(upgrade::Decision::default());
                head.extensions
                    .insert(upgrade::PendingDecision(decision.clone()));
                decision
            });
        head.extensions.insert(context);
        let future = self.handler.call(Request::from_parts(head, body));
        ResponseFuture::Handler {
            inner: future,
            watch,
            remote_ip,
            clock: Some(self.clock.clone()),
            started,
            last: self.shutdown.is_requested(),
            upgrade,
            head_request,
        }
    }
}

impl<H> ConnectionService<H> {
    fn refuse<F>(
        &self,
        ip: IpAddr,
        status: StatusCode,
        problem: &str,
        started: Option<Instant>,
    ) -> ResponseFuture<F> {
        tracing::info!("Malformed HTTP message from {ip}: {problem}");
        self.linger.store(true, Ordering::Relaxed);
        ResponseFuture::Ready {
            status: Some(status),
            clock: Some(self.clock.clone()),
            started,
        }
    }
}

/// An empty response with `status` that closes the connection.
fn error_response<B>(status: StatusCode, clock: Arc<IdleClock>) -> Response<ResponseBody<B>> {
    let mut response = Response::new(ResponseBody::empty(clock));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// RFC 9112 §3.2 (and Tornado): an HTTP/1.1 request has exactly one Host, and it is a
/// valid `host[:port]`.
fn check_host(head: &http::request::Parts) -> Result<(), &'static str> {
    let mut hosts = head.headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if head.version == http::Version::HTTP_10 => Ok(()),
        (None, _) => Err("Missing Host header"),
        (Some(_), Some(_)) => Err("Multiple host headers not allowed"),
        (Some(host), None) if valid_host(host.as_bytes()) => Ok(()),
        (Some(_), None) => Err("Invalid Host header"),
    }
}

/// `uri-host [":" port]` (RFC 3986): an IP literal in brackets, or a reg-name / IPv4.
fn valid_host(host: &[u8]) -> bool {
    let (name, port) = if host.first() == Some(&b'[') {
        match host.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &host[1..end];
                let ok = literal
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
                if !ok {
                    return false;
                }
                (&[][..], &host[end + 1..])
            }
            None => return false,
        }
    } else {
        match host.iter().rposition(|&b| b == b':') {
            Some(colon) => (&host[..colon], &host[colon..]),
            None => (host, &[][..]),
        }
    };
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    let name_ok = name.iter().all(|&b| HOST_NAME_BYTES[usize::from(b)]);
    port_ok && name_ok
}

/// The bytes of a reg-name or IPv4 host: unreserved / pct-encoded / sub-delims, less the
/// comma (a joined list of hosts). A table: every request's Host goes through it, and the
/// comparisons it replaces cost about 100 instructions for `127.0.0.1`.
const HOST_NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~%!$&'()*+;=";
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
};

/// hyper accepts any Transfer-Encoding list ending in `chunked`; Tornado (and we) accept
/// exactly one `chunked` and nothing else: other codings would reach the handler still
/// encoded, and `chunked` twice is forbidden (RFC 9112 §7).
fn check_transfer_encoding(headers: &http::HeaderMap) -> Result<(), &'static str> {
    let mut values = headers.get_all(header::TRANSFER_ENCODING).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(()),
        (Some(te), None) if te.as_bytes().trim_ascii().eq_ignore_ascii_case(b"chunked") => Ok(()),
        _ => Err("Unsupported Transfer-Encoding"),
    }
}

/// With `decompress_request`: if the body is gzip, the handler sees it inflated, so the
/// headers describing the compressed bytes go, and `X-Consumed-Content-Encoding` says what
/// was undone (as Tornado does).
fn take_gzip_encoding(headers: &mut http::HeaderMap) -> bool {
    let is_gzip = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"gzip"));
    if is_gzip {
        if let Some(value) = headers.remove(header::CONTENT_ENCODING) {
            headers.insert(X_CONSUMED_CONTENT_ENCODING.clone(), value);
        }
        headers.remove(header::CONTENT_LENGTH);
    }
    is_gzip
}

/// What a response future watches for a request with a body.
struct Watch {
    slot: Arc<FailureSlot>,
    linger: Arc<AtomicBool>,
}

pin_project_lite::pin_project! {
    /// The future of one request: the handler's, then our answer for a failed body.
    #[project = ResponseProj]
    enum ResponseFuture<F> {
        Handler {
            #[pin]
            inner: F,
            watch: Option<Watch>,
            remote_ip: IpAddr,
            clock: Option<Arc<IdleClock>>,
            // When the request came, if the metrics count requests.
            started: Option<Instant>,
            // The server was shutting down when the request came: the answer closes.
            last: bool,
            // For an upgrade request, where to say whether the answer switched protocols.
            upgrade: Option<Arc<upgrade::Decision>>,
            // The request was `HEAD`: the response's `Content-Length` describes no body.
            head_request: bool,
        },
        Ready {
            status: Option<StatusCode>,
            clock: Option<Arc<IdleClock>>,
            started: Option<Instant>,
        },
    }
}

impl<F, B> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, BoxError>>,
    B: HttpBody,
{
    type Output = Result<Response<ResponseBody<B>>, Abort>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ResponseProj::Ready {
                status,
                clock,
                started,
            } => {
                let status = status.take().expect("polled after completion");
                let clock = clock.take().expect("polled after completion");
                Poll::Ready(Ok(counted(error_response(status, clock), *started)))
            }
            ResponseProj::Handler {
                inner,
                watch,
                remote_ip,
                clock,
                started,
                last,
                upgrade,
                head_request,
            } => {
                let result = ready!(inner.poll(cx));
                // Whatever the answer, it is decided now (and 101 only from the handler).
                if let Some(decision) = upgrade.take() {
                    let switched = watch.as_ref().is_none_or(|w| w.slot.get().is_none())
                        && matches!(&result, Ok(r) if r.status() == StatusCode::SWITCHING_PROTOCOLS);
                    decision.decide(switched);
                }
                let clock = clock.take().expect("polled after completion");
                // A failed body decides the answer, whatever the handler made of it.
                if let Some(watch) = watch
                    && let Some(failure) = watch.slot.get()
                {
                    return Poll::Ready(match failure {
                        Failure::TooLarge => {
                            watch.linger.store(true, Ordering::Relaxed);
                            let response = error_response(StatusCode::PAYLOAD_TOO_LARGE, clock);
                            Ok(counted(response, *started))
                        }
                        Failure::Malformed => {
                            watch.linger.store(true, Ordering::Relaxed);
                            Ok(counted(
                                error_response(StatusCode::BAD_REQUEST, clock),
                                *started,
                            ))
                        }
                        Failure::Timeout => Err(Abort("body timeout")),
                        Failure::Closed => Err(Abort("connection closed while reading the body")),
                    });
                }
                let response = match result {
                    Ok(mut response) => {
                        let counter = match length::check(&response, *head_request) {
                            Ok(Declared::Nothing) => None,
                            Ok(Declared::Stream(declared)) => {
                                Some(Counter::new(declared, *remote_ip))
                            }
                            Err(message) => {
                                // Tornado's HTTPOutputError: closed, nothing sent.
                                length::refused(*remote_ip, &message);
                                return Poll::Ready(Err(Abort("invalid Content-Length")));
                            }
                        };
                        if *last {
                            response
                                .headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        }
                        response.map(|body| ResponseBody::handler(body, clock, counter))
                    }
                    Err(e) => {
                        tracing::error!("error in request handler for {remote_ip}: {}", Chain(&*e));
                        error_response(StatusCode::INTERNAL_SERVER_ERROR, clock)
                    }
                };
                Poll::Ready(Ok(counted(response, *started)))
            }
        }
    }
}

/// Counts a response in the metrics, when they count.
fn counted<B>(response: Response<B>, started: Option<Instant>) -> Response<B> {
    if let Some(started) = started {
        metrics::http_request(response.status().as_u16(), started.elapsed());
    }
    response
}

/// Ends a connection without a response (a body that timed out or was cut short).
#[derive(Debug)]
pub(crate) struct Abort(&'static str);

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for Abort {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for good in [
            &b"example.com"[..],
            b"example.com:8080",
            b"127.0.0.1:80",
            b"[::1]:8888",
            b"[2620:0:1cfe:face:b00c::3]",
            b"",
            b"xn--bcher-kva.example",
        ] {
            assert!(valid_host(good), "{}", good.escape_ascii());
        }
        for bad in [
            &b"foo bar"[..],
            b"a,b",
            b"example.com:80x",
            b"[::1",
            b"[::1]x",
            b"a/b",
            b"a@b",
        ] {
            assert!(!valid_host(bad), "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn transfer_encodings() {
        let te = |values: &[&str]| {
            let mut h = http::HeaderMap::new();
            for v in values {
                h.append(header::TRANSFER_ENCODING, v.parse().unwrap());
            }
            check_transfer_encoding(&h).is_ok()
        };
        assert!(te(&[]));
        assert!(te(&["chunked"]));
        assert!(te(&["Chunked"]));
        assert!(!te(&["chunked", "chunked"]));
        assert!(!te(&["chunked,chunked"]));
        assert!(!te(&["gzip, chunked"]));
    }
}
