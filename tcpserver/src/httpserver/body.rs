//! [`Body`]: a request body with Tornado's limits applied as it is read — `max_body_size`,
//! `body_timeout`, `chunk_size` and `decompress_request`.
//!
//! When a body fails (too large, malformed, too slow, cut short), it records why in a slot
//! shared with the server, which then answers for it whatever the handler returned (see
//! the `connection` module): the client gets the same answer from every kind of handler.
#![forbid(unsafe_code)]

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use super::decompress::{Inflated, Inflater};

/// The per-request limits of a body (Tornado's `set_max_body_size` and
/// `set_body_timeout`). They start at the server's options; a handler may change them
/// before it first reads the body, for this request only.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use http::{Request, Response};
/// use http_body_util::BodyExt;
/// use tcpserver::httpserver::Body;
///
/// // An upload endpoint that accepts more, and slower, than the server-wide limits.
/// async fn upload(request: Request<Body>) -> Response<String> {
///     let mut body = request.into_body();
///     body.limits_mut()
///         .set_max_body_size(1 << 30)
///         .set_body_timeout(Some(Duration::from_secs(600)));
///     match body.collect().await {
///         Ok(all) => Response::new(format!("{} bytes\n", all.to_bytes().len())),
///         // The server answers for a failed body (here 413 or 400) whatever we return.
///         Err(_) => Response::new(String::new()),
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    max_body_size: u64,
    body_timeout: Option<Duration>,
}

impl BodyLimits {
    pub(crate) fn new(max_body_size: usize, body_timeout: Option<Duration>) -> Self {
        BodyLimits {
            max_body_size: max_body_size as u64,
            body_timeout,
        }
    }

    /// The largest body accepted, in bytes (decompressed and compressed).
    pub fn max_body_size(&self) -> u64 {
        self.max_body_size
    }

    /// How long reading the body may take, counted from the handler's first read of it.
    pub fn body_timeout(&self) -> Option<Duration> {
        self.body_timeout
    }

    /// Changes the size limit for this request (default: the server's
    /// [`max_body_size`](super::HttpOptions::max_body_size)). It only takes effect before
    /// the body is first read.
    pub fn set_max_body_size(&mut self, bytes: u64) -> &mut Self {
        self.max_body_size = bytes;
        self
    }

    /// Changes the time limit for this request (`None`: no limit; default: the server's
    /// [`body_timeout`](super::HttpOptions::body_timeout)). It only takes effect before the
    /// body is first read.
    pub fn set_body_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.body_timeout = timeout;
        self
    }
}

/// The body of a request served by an [`HttpServer`](super::HttpServer): an
/// [`http_body::Body`](hyper::body::Body) of [`Bytes`] whose pieces are at most
/// [`chunk_size`](super::HttpOptions::chunk_size) long, inflated when
/// [`decompress_request`](super::HttpOptions::decompress_request) applies, and failing with
/// a [`BodyError`] past [`max_body_size`](super::HttpOptions::max_body_size) or
/// [`body_timeout`](super::HttpOptions::body_timeout).
///
/// Read it with `http_body_util::BodyExt` (`collect`, `frame`) or hand it to a framework.
/// A body that is never read costs nothing: no `100 Continue` is sent for it and the
/// connection is closed after the response if the client sent one anyway.
///
/// # Examples
///
/// ```
/// use http::{Request, Response};
/// use http_body_util::BodyExt;
/// use tcpserver::httpserver::Body;
///
/// async fn echo(request: Request<Body>) -> Result<Response<Body>, tcpserver::httpserver::BodyError> {
///     let bytes = request.into_body().collect().await?.to_bytes();
///     Ok(Response::new(Body::from(bytes)))
/// }
/// ```
pub struct Body {
    kind: Kind,
    limits: BodyLimits,
}

enum Kind {
    Empty,
    Full(Bytes),
    Streaming(Box<Streaming>),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full(_) => "full",
            Kind::Streaming(_) => "streaming",
        };
        f.debug_struct("Body").field("kind", &kind).finish()
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl Body {
    /// A body with no bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use hyper::body::Body as _;
    /// assert!(tcpserver::httpserver::Body::empty().is_end_stream());
    /// ```
    pub fn empty() -> Self {
        Body::local(Kind::Empty)
    }

    fn local(kind: Kind) -> Self {
        Body {
            kind,
            limits: BodyLimits::new(usize::MAX, None),
        }
    }

    /// The limits this body is read under; see [`BodyLimits`]. A body not received from
    /// a client is not limited.
    ///
    /// # Examples
    ///
    /// ```
    /// let body = tcpserver::httpserver::Body::empty();
    /// assert_eq!(body.limits().body_timeout(), None);
    /// ```
    pub fn limits(&self) -> BodyLimits {
        self.limits
    }

    /// Changes the limits of this request's body; see [`BodyLimits`].
    pub fn limits_mut(&mut self) -> &mut BodyLimits {
        &mut self.limits
    }

    pub(crate) fn streaming(streaming: Streaming, limits: BodyLimits) -> Self {
        Body {
            kind: Kind::Streaming(Box::new(streaming)),
            limits,
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::local(Kind::Full(bytes))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::from(Bytes::from(v))
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> FramePoll {
        let this = self.get_mut();
        match &mut this.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(bytes) => {
                let bytes = std::mem::take(bytes);
                Poll::Ready((!bytes.is_empty()).then(|| Ok(Frame::data(bytes))))
            }
            Kind::Streaming(s) => {
                s.limits = this.limits;
                s.poll_frame(cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(bytes) => bytes.is_empty(),
            Kind::Streaming(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Streaming(s) => s.size_hint(),
        }
    }
}

/// What polling a body for its next frame gives.
type FramePoll = Poll<Option<Result<Frame<Bytes>, BodyError>>>;

/// Why a body failed, as recorded for the server (0: it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Failure {
    /// Over `max_body_size`: 413.
    TooLarge = 1,
    /// Bad framing or bad gzip: 400.
    Malformed = 2,
    /// Over `body_timeout`: close without a response.
    Timeout = 3,
    /// The client went away or the connection broke: nothing to answer.
    Closed = 4,
}

/// Where a body records its failure for the server's response; shared by the two.
#[derive(Debug, Default)]
pub(crate) struct FailureSlot(AtomicU8);

impl FailureSlot {
    fn set(&self, failure: Failure) {
        self.0.store(failure as u8, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Option<Failure> {
        match self.0.load(Ordering::Acquire) {
            1 => Some(Failure::TooLarge),
            2 => Some(Failure::Malformed),
            3 => Some(Failure::Timeout),
            4 => Some(Failure::Closed),
            _ => None,
        }
    }
}

/// A body arriving from a client.
pub(crate) struct Streaming {
    incoming: Incoming,
    /// The body's limits, copied in at every poll (they may change until the first).
    limits: BodyLimits,
    chunk_size: usize,
    /// Bytes received from the client (compressed, when inflating).
    received: u64,
    /// Bytes handed out after inflating.
    inflated: u64,
    /// What is left of a piece longer than `chunk_size`.
    pending: Bytes,
    inflater: Option<Box<Inflater>>,
    /// When `body_timeout` runs out: set at the first read (Tornado starts the clock when
    /// it starts reading the body, after `headers_received`).
    deadline: Option<Pin<Box<Sleep>>>,
    /// Past the deadline, a read that found nothing ready has yielded once, so that the
    /// connection could read what the kernel already holds; the next such read fails.
    last_chance: bool,
    started: bool,
    done: bool,
    slot: Arc<FailureSlot>,
    remote_ip: IpAddr,
}

impl Streaming {
    pub(crate) fn new(
        incoming: Incoming,
        limits: BodyLimits,
        chunk_size: usize,
        gzip: bool,
        slot: Arc<FailureSlot>,
        remote_ip: IpAddr,
    ) -> Self {
        Streaming {
            incoming,
            limits,
            chunk_size,
            received: 0,
            inflated: 0,
            pending: Bytes::new(),
            inflater: gzip.then(|| Box::new(Inflater::new())),
            deadline: None,
            last_chance: false,
            started: false,
            done: false,
            slot,
            remote_ip,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.pending.is_empty() && self.incoming.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.done {
            return SizeHint::with_exact(0);
        }
        let pending = self.pending.len() as u64;
        if self.inflater.is_some() {
            // The compressed length says nothing about the inflated one.
            return SizeHint::default();
        }
        let inner = self.incoming.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + pending);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + pending);
        }
        hint
    }

    fn take_piece(&mut self) -> Bytes {
        if self.pending.len() > self.chunk_size {
            self.pending.split_to(self.chunk_size)
        } else {
            std::mem::take(&mut self.pending)
        }
    }

    fn poll_frame(&mut self, cx: &mut Context<'_>) -> FramePoll {
        if !self.pending.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(self.take_piece()))));
        }
        if self.done {
            return Poll::Ready(None);
        }
        if !self.started {
            self.started = true;
            // Checked before reading anything, so a refused upload never gets `100 Continue`.
            if self
                .incoming
                .size_hint()
                .exact()
                .is_some_and(|len| len > self.limits.max_body_size)
            {
                return self.fail(Failure::TooLarge, "Content-Length too long");
            }
            if let Some(timeout) = self.limits.body_timeout {
                self.deadline = Some(Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
            }
        }
        // What has arrived is handed out whatever the time: the deadline only ends a wait.
        let polled = if self.inflater.is_some() {
            self.poll_inflated(cx)
        } else {
            self.poll_raw(cx)
        };
        if polled.is_ready() {
            self.last_chance = false;
            return polled;
        }
        let expired = self
            .deadline
            .as_mut()
            .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
        if !expired {
            return Poll::Pending;
        }
        if self.last_chance {
            return self.fail(Failure::Timeout, "body timeout");
        }
        // hyper reads the socket for a body only once asked (this poll asked): one more
        // turn lets it hand over bytes that have already arrived.
        self.last_chance = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The next frame from the client, with the received bytes counted against the limit.
    /// `Ok(None)` at the end of the body; trailers are passed on as they are.
    fn poll_incoming(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Frame<Bytes>>, FramePoll>> {
        match ready!(Pin::new(&mut self.incoming).poll_frame(cx)) {
            None => Poll::Ready(Ok(None)),
            Some(Err(e)) => {
                let (failure, message) = classify(&e);
                Poll::Ready(Err(self.fail_with(failure, message, Some(e.into()))))
            }
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    if self.received > self.limits.max_body_size {
                        return Poll::Ready(Err(self.fail(Failure::TooLarge, "body too large")));
                    }
                }
                Poll::Ready(Ok(Some(frame)))
            }
        }
    }

    fn poll_raw(&mut self, cx: &mut Context<'_>) -> FramePoll {
        match ready!(self.poll_incoming(cx)) {
            Err(failed) => failed,
            Ok(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Ok(Some(frame)) => match frame.into_data() {
                Ok(data) => {
                    self.pending = data;
                    Poll::Ready(Some(Ok(Frame::data(self.take_piece()))))
                }
                Err(trailers) => Poll::Ready(Some(Ok(trailers))),
            },
        }
    }

    fn poll_inflated(&mut self, cx: &mut Context<'_>) -> FramePoll {
        loop {
            let inflater = self.inflater.as_mut().expect("checked by poll_frame");
            if inflater.wants_input() {
                match ready!(self.poll_incoming(cx)) {
                    Err(failed) => return failed,
                    Ok(None) => self.inflater.as_mut().expect("inflating").finish(),
                    Ok(Some(frame)) => {
                        // Trailers of a compressed body are dropped: they described the
                        // compressed bytes.
                        if let Ok(data) = frame.into_data() {
                            self.inflater.as_mut().expect("inflating").push(data);
                        }
                    }
                }
                continue;
            }
            match inflater.inflate(self.chunk_size) {
                Ok(Inflated::Data(data)) => {
                    self.inflated += data.len() as u64;
                    if self.inflated > self.limits.max_body_size {
                        return self.fail(Failure::TooLarge, "decompressed body too large");
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Inflated::NeedInput) => {}
                Ok(Inflated::End) => {
                    self.done = true;
                    return Poll::Ready(None);
                }
                Err(e) => {
                    let err =
                        self.fail_with(Failure::Malformed, "invalid gzip data", Some(e.into()));
                    return err;
                }
            }
        }
    }

    fn fail(&mut self, failure: Failure, message: &'static str) -> FramePoll {
        self.fail_with(failure, message, None)
    }

    fn fail_with(
        &mut self,
        failure: Failure,
        message: &'static str,
        source: Option<Box<dyn StdError + Send + Sync>>,
    ) -> FramePoll {
        self.done = true;
        self.deadline = None;
        self.slot.set(failure);
        let ip = self.remote_ip;
        match failure {
            Failure::TooLarge => tracing::info!(
                "Malformed HTTP message from {ip}: {message} (limit {} bytes)",
                self.limits.max_body_size
            ),
            Failure::Malformed => match &source {
                Some(cause) => {
                    tracing::info!("Malformed HTTP message from {ip}: {message}: {cause}")
                }
                None => tracing::info!("Malformed HTTP message from {ip}: {message}"),
            },
            Failure::Timeout => tracing::info!("Timeout reading body from {ip}"),
            Failure::Closed => tracing::debug!("connection from {ip} closed while reading a body"),
        }
        Poll::Ready(Some(Err(BodyError {
            failure,
            message,
            limit: self.limits.max_body_size,
            source,
        })))
    }
}

/// What a hyper body error means for the client.
fn classify(err: &hyper::Error) -> (Failure, &'static str) {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                    (Failure::Malformed, "invalid chunked body")
                }
                _ => (Failure::Closed, "connection closed"),
            };
        }
        source = cause.source();
    }
    (Failure::Closed, "connection closed")
}

/// Why reading a request [`Body`] failed. The server has already decided the answer: `413`
/// for a body over the limit, `400` for a malformed one, and no response (the connection is
/// closed) for a body that took too long or was cut short.
///
/// # Examples
///
/// ```
/// use http_body_util::BodyExt;
/// use tcpserver::httpserver::Body;
///
/// # async fn doc(body: Body) {
/// match body.collect().await {
///     Ok(all) => println!("{} bytes", all.to_bytes().len()),
///     Err(e) if e.is_too_large() => println!("too large: {e}"),
///     Err(e) if e.is_closed() || e.is_timeout() => println!("the client left or stalled"),
///     Err(e) => println!("failed: {e}"),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct BodyError {
    failure: Failure,
    message: &'static str,
    limit: u64,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl BodyError {
    /// The body was larger than [`max_body_size`](BodyLimits::max_body_size) (before or
    /// after decompression).
    pub fn is_too_large(&self) -> bool {
        self.failure == Failure::TooLarge
    }

    /// The body was not valid: bad chunked framing, or bad gzip data.
    pub fn is_malformed(&self) -> bool {
        self.failure == Failure::Malformed
    }

    /// The body did not arrive within [`body_timeout`](BodyLimits::body_timeout).
    pub fn is_timeout(&self) -> bool {
        self.failure == Failure::Timeout
    }

    /// The client went away (or the connection broke) before the body ended.
    pub fn is_closed(&self) -> bool {
        self.failure == Failure::Closed
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failure {
            Failure::TooLarge => write!(f, "{} (limit {} bytes)", self.message, self.limit),
            _ => f.write_str(self.message),
        }
    }
}

impl StdError for BodyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
