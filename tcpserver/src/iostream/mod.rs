//! Tornado's `IOStream` for tokio: delimiter, regex and exact-size reads over one buffered
//! connection, plain or TLS.
//!
//! [`IoStream`] keeps Tornado's semantics where they matter to protocol code:
//!
//! - `read_until` and `read_until_regex` return everything up to and including the match;
//!   with `max_bytes`, a match that would end past the limit fails even if it already
//!   arrived, and an exact fit succeeds;
//! - data that arrived before the peer closed stays readable; a read that the buffer cannot
//!   satisfy then fails with [`ErrorKind::StreamClosed`], leaving the bytes for a later read;
//! - the buffer never grows past `max_buffer_size` ([`ErrorKind::BufferFull`]) and the
//!   stream never reads ahead of its caller by more than one `read_chunk_size` chunk;
//! - a delimiter search never rescans what it already scanned, so a 4 MiB line costs linear
//!   time.
//!
//! Beyond Tornado: an idle stream holds no read buffer at all (reads land in a per-thread
//! scratch buffer first); reads are cancel-safe (a read dropped in a `select!` loses no
//! data), except a `read_into` that must fill its whole buffer (see [`IoStream`]); after
//! the peer shuts down its sending side, writes still go out (TCP half-close); on TLS, a
//! peer that closes without a `close_notify` alert ends the stream as a clean close does,
//! as in Tornado.
#![forbid(unsafe_code)]

mod buffer;
mod close;
pub(crate) mod idle;
pub(crate) mod latch;
mod shutdown;
mod socket;
mod split;
#[cfg(feature = "tls")]
mod tls;
mod transport;

use std::cell::RefCell;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

#[cfg(feature = "regex")]
use regex::bytes::Regex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, ToSocketAddrs, UnixStream};

use crate::error::{Error, ErrorKind, Result, SharedIoError, is_reset_class};
use crate::metrics;
#[cfg(feature = "proxy")]
use crate::proxy::ProxyHeader;
#[cfg(feature = "tls")]
use crate::tls::TlsInfo;
use buffer::ReadBuffer;
pub use close::{CloseSignal, Closed};
use idle::Activity;
use latch::Latch;
pub use shutdown::{Requested, ShutdownSignal};
pub use socket::{Socket, TcpKeepalive};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, WriteHalf};
pub(crate) use transport::Transport;

/// Tornado's default `max_buffer_size`: 100 MiB.
pub const DEFAULT_MAX_BUFFER_SIZE: usize = 100 * 1024 * 1024;

/// Tornado's default `read_chunk_size`: 64 KiB.
pub const DEFAULT_READ_CHUNK_SIZE: usize = 64 * 1024;

/// Buffer limits of a stream (Tornado's `max_buffer_size` and `read_chunk_size`).
///
/// `0` means "the default" for both, as in Tornado, and the chunk size is clamped to half
/// the buffer size, as Tornado does.
///
/// # Examples
///
/// ```
/// use tcpserver::iostream::{DEFAULT_MAX_BUFFER_SIZE, DEFAULT_READ_CHUNK_SIZE, StreamOptions};
///
/// // At most 1 MiB buffered per connection, read 16 KiB at a time.
/// let options = StreamOptions::new()
///     .max_buffer_size(1 << 20)
///     .read_chunk_size(16 * 1024);
/// assert_eq!(options.get_read_chunk_size(), 16 * 1024);
///
/// // Tornado's defaults: a 100 MiB buffer, read 64 KiB at a time; `0` asks for them.
/// let defaults = StreamOptions::new();
/// assert_eq!(defaults.get_max_buffer_size(), DEFAULT_MAX_BUFFER_SIZE);
/// assert_eq!(defaults.get_read_chunk_size(), DEFAULT_READ_CHUNK_SIZE);
/// assert_eq!((DEFAULT_MAX_BUFFER_SIZE, DEFAULT_READ_CHUNK_SIZE), (100 << 20, 64 << 10));
/// assert_eq!(StreamOptions::new().max_buffer_size(0).read_chunk_size(0), defaults);
///
/// // The chunk size is clamped to half the buffer size.
/// let small = StreamOptions::new().max_buffer_size(1000).read_chunk_size(4096);
/// assert_eq!(small.get_read_chunk_size(), 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    max_buffer_size: usize,
    read_chunk_size: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions::new()
    }
}

impl StreamOptions {
    /// The defaults: 100 MiB buffer, 64 KiB chunks.
    pub const fn new() -> Self {
        StreamOptions {
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            read_chunk_size: DEFAULT_READ_CHUNK_SIZE,
        }
    }

    /// The largest number of bytes the read buffer may hold; `0` means the default.
    ///
    /// Default is 100 MiB ([`DEFAULT_MAX_BUFFER_SIZE`]).
    pub const fn max_buffer_size(mut self, bytes: usize) -> Self {
        self.max_buffer_size = if bytes == 0 {
            DEFAULT_MAX_BUFFER_SIZE
        } else {
            bytes
        };
        self
    }

    /// How many bytes one socket read asks for; `0` means the default. At most half of
    /// [`max_buffer_size`](Self::max_buffer_size) is used.
    ///
    /// Default is 64 KiB ([`DEFAULT_READ_CHUNK_SIZE`]).
    pub const fn read_chunk_size(mut self, bytes: usize) -> Self {
        self.read_chunk_size = if bytes == 0 {
            DEFAULT_READ_CHUNK_SIZE
        } else {
            bytes
        };
        self
    }

    /// The buffer limit.
    pub const fn get_max_buffer_size(&self) -> usize {
        self.max_buffer_size
    }

    /// The effective chunk size: the configured one, at most half the buffer limit, at
    /// least one byte.
    pub const fn get_read_chunk_size(&self) -> usize {
        let half = self.max_buffer_size / 2;
        let chunk = if self.read_chunk_size < half {
            self.read_chunk_size
        } else {
            half
        };
        if chunk == 0 { 1 } else { chunk }
    }
}

/// Why a stream stopped being usable.
#[derive(Debug, Clone)]
enum CloseReason {
    /// [`IoStream::close`] was called.
    Local,
    /// A socket error; kept to report as the "real error" of later operations.
    Io(Arc<io::Error>),
    /// A delimiter read exceeded its `max_bytes`.
    Unsatisfiable,
    /// The read buffer reached `max_buffer_size`.
    BufferFull,
}

thread_local! {
    /// Where reads land while a stream's own buffer is empty, so that idle streams own no
    /// buffer: only bytes left over after a read are copied into the stream.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A buffered, bidirectional byte stream: one type for TCP and Unix sockets, plain or TLS.
///
/// Handlers receive one per connection. Reads follow Tornado's `IOStream` (see the
/// [module documentation](self)); it also implements tokio's [`AsyncRead`] and
/// [`AsyncWrite`], so codecs and hyper run over it (bytes already buffered are read first).
///
/// # Errors
///
/// Each method lists the [`ErrorKind`]s it fails with. Once the stream is closed, a read
/// that the bytes still buffered cannot satisfy, and every write, fail with
/// [`ErrorKind::StreamClosed`]; the error's [`source`](std::error::Error::source) says
/// why the stream closed:
///
/// - after a socket error, the [`io::Error`] ([`Error::io_error`] returns it too);
/// - after a read that failed with [`UnsatisfiableRead`](ErrorKind::UnsatisfiableRead) or
///   [`BufferFull`](ErrorKind::BufferFull) (which close the stream), an error of that
///   kind;
/// - after [`close`](IoStream::close), nothing. A read after the peer closed its sending
///   side fails the same way, without a source, while writes still work.
///
/// # Cancel safety
///
/// Every read method is cancel-safe except [`read_into`](IoStream::read_into) with
/// `partial` false: if the future of a read is dropped before it completes (for example
/// because another branch of a `tokio::select!` completed first), no data is lost. The
/// bytes received so far stay in the stream's buffer, and the next read returns them.
/// A `read_into` that must fill its whole buffer is not cancel-safe, like tokio's
/// `read_exact`: dropped, it leaves the bytes it already took in the caller's buffer and
/// no longer in the stream. [`write`](IoStream::write) is not cancel-safe either, like
/// tokio's `write_all`: a dropped write may have sent part of its data.
///
/// Through [`AsyncRead`] and [`AsyncWrite`], the tokio method used decides: `read` is
/// cancel-safe, `read_exact` and `write_all` are not.
///
/// # Timeouts
///
/// A server's [`idle_timeout`](crate::tcpserver::Builder::idle_timeout) closes a
/// connection that neither reads nor writes for a while. A limit of the protocol's own (a
/// request must arrive whole within 30 s, however steadily its bytes trickle in) belongs
/// in the handler: since reads are cancel-safe, wrap one in [`tokio::time::timeout`], and
/// on expiry nothing received is lost.
///
/// ```no_run
/// use std::time::Duration;
/// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
/// match tokio::time::timeout(Duration::from_secs(30), stream.read_until(b"\r\n\r\n", Some(8192))).await {
///     Ok(head) => { let _head = head?; /* ... */ }
///     Err(_elapsed) => stream.write(b"408 request timeout\r\n").await?,
/// }
/// # Ok(()) }
/// ```
///
/// # Examples
///
/// A line echo handler:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tcpserver::IoStream;
///
/// async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     loop {
///         let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
///         stream.write(&line).await?;
///     }
/// }
/// ```
pub struct IoStream {
    transport: Transport,
    buf: ReadBuffer,
    options: StreamOptions,
    closed: Option<CloseReason>,
    /// The peer shut down its sending side; buffered data stays readable, writes still go.
    read_eof: bool,
    peer: Option<SocketAddr>,
    shutdown: ShutdownSignal,
    /// Stamped at every read and write when the server has an idle timeout.
    activity: Option<Arc<Activity>>,
    /// Set when the stream closes; made by the first [`close_signal`](IoStream::close_signal).
    close_latch: Option<Arc<Latch>>,
    /// What the TLS handshake negotiated; `None` for a plain stream. Boxed so that plain
    /// streams stay small.
    #[cfg(feature = "tls")]
    tls: Option<Box<TlsInfo>>,
    /// What the connection's PROXY header said; boxed so that other streams stay small.
    #[cfg(feature = "proxy")]
    proxy: Option<Box<ProxyHeader>>,
}

impl fmt::Debug for IoStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("IoStream");
        d.field("transport", &self.transport)
            .field("buffered", &self.buf.len())
            .field("closed", &self.closed)
            .field("read_eof", &self.read_eof)
            .field("peer", &self.peer);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls);
        #[cfg(feature = "proxy")]
        d.field("proxy", &self.proxy);
        d.finish()
    }
}

impl From<TcpStream> for IoStream {
    fn from(stream: TcpStream) -> Self {
        IoStream::new(stream, StreamOptions::new())
    }
}

impl From<UnixStream> for IoStream {
    fn from(stream: UnixStream) -> Self {
        IoStream::from_transport(Transport::Unix(stream), StreamOptions::new(), None)
    }
}

impl IoStream {
    /// Wraps a connected TCP stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tcpserver::iostream::{IoStream, StreamOptions};
    ///
    /// # async fn doc() -> std::io::Result<()> {
    /// let tcp = tokio::net::TcpStream::connect("127.0.0.1:8888").await?;
    /// let stream = IoStream::new(tcp, StreamOptions::new().max_buffer_size(1 << 20));
    /// # drop(stream); Ok(()) }
    /// ```
    pub fn new(stream: TcpStream, options: StreamOptions) -> Self {
        let peer = stream.peer_addr().ok();
        IoStream::from_transport(Transport::Tcp(stream), options, peer)
    }

    /// Connects to `addr` over TCP (Tornado's `IOStream.connect`), with default options.
    ///
    /// # Errors
    ///
    /// The connection attempt's [`io::Error`] is the [`source`](std::error::Error::source):
    /// [`ErrorKind::Timeout`] if the attempt timed out, [`ErrorKind::StreamClosed`] if the
    /// connection was reset or aborted, and [`ErrorKind::Io`] otherwise (connection refused,
    /// no route to the host, a name that does not resolve).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe: dropping its future abandons the attempt and closes the
    /// socket it opened; nothing else is affected.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc() -> tcpserver::Result<()> {
    /// let mut stream = tcpserver::IoStream::connect("127.0.0.1:8888").await?;
    /// stream.write(b"ping\n").await?;
    /// let reply = stream.read_until(b"\n", None).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> Result<Self> {
        let tcp = TcpStream::connect(addr).await?;
        Ok(IoStream::new(tcp, StreamOptions::new()))
    }

    pub(crate) fn from_transport(
        transport: Transport,
        options: StreamOptions,
        peer: Option<SocketAddr>,
    ) -> Self {
        IoStream {
            transport,
            buf: ReadBuffer::default(),
            options,
            closed: None,
            read_eof: false,
            peer,
            shutdown: ShutdownSignal::default(),
            activity: None,
            close_latch: None,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "proxy")]
            proxy: None,
        }
    }

    /// Puts `bytes` already read from the transport (after a PROXY header) in front of
    /// whatever is read next.
    pub(crate) fn with_unread(mut self, bytes: &[u8]) -> Self {
        if !bytes.is_empty() {
            self.buf.unread(bytes);
        }
        self
    }

    /// Records the connection's PROXY header.
    #[cfg(feature = "proxy")]
    pub(crate) fn set_proxy_header(&mut self, header: ProxyHeader) {
        self.proxy = Some(Box::new(header));
    }

    /// What the connection's PROXY header said, on a server that requires one (see
    /// [`proxy`](crate::proxy)): the proxy's own address, the destination, the v2 TLVs.
    /// [`peer_addr`](Self::peer_addr) (and the handler's `SocketAddr`) is then the client's
    /// address from the header.
    #[cfg(feature = "proxy")]
    pub fn proxy_header(&self) -> Option<&ProxyHeader> {
        self.proxy.as_deref()
    }

    /// Records what the (completed) handshake of a TLS transport negotiated.
    #[cfg(feature = "tls")]
    pub(crate) fn with_tls_info(mut self, info: TlsInfo) -> Self {
        self.tls = Some(Box::new(info));
        self
    }

    /// What the TLS handshake negotiated (Tornado's `SSLIOStream.wait_for_handshake`):
    /// `Ok(Some(info))` on a TLS stream, `Ok(None)` on a plain one.
    ///
    /// It returns at once: a [`TcpServer`](crate::TcpServer) completes the handshake before
    /// it calls the handler, so a handler never sees a stream whose handshake is still
    /// going or has failed (see [`tls`](crate::tls)). The information stays available
    /// after the stream is closed.
    ///
    /// # Errors
    ///
    /// None today: every `IoStream` a program can get has completed its handshake, or has
    /// none. The `Result` is for streams whose handshake could still fail; none of those
    /// reaches a handler.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::net::SocketAddr;
    /// use tcpserver::IoStream;
    ///
    /// async fn whoami(mut stream: IoStream, addr: SocketAddr) -> tcpserver::Result<()> {
    ///     let reply = match stream.wait_for_handshake()? {
    ///         Some(tls) => format!(
    ///             "{addr} over {:?}, ALPN {:?}, {} client certificate(s)\n",
    ///             tls.protocol_version(),
    ///             tls.alpn_protocol().map(String::from_utf8_lossy),
    ///             tls.peer_certificates().len(),
    ///         ),
    ///         None => format!("{addr} in plain text\n"),
    ///     };
    ///     stream.write(reply.as_bytes()).await
    /// }
    /// ```
    #[cfg(feature = "tls")]
    pub fn wait_for_handshake(&self) -> Result<Option<&TlsInfo>> {
        Ok(self.tls.as_deref())
    }

    /// Reads up to and including the first occurrence of `delimiter`.
    ///
    /// With `max_bytes`, the match must end within the first `max_bytes` bytes: a match
    /// that ends exactly there succeeds, one that ends further fails even if it already
    /// arrived.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::UnsatisfiableRead`], with `max_bytes`, when the match would end past
    ///   `max_bytes`, or when more than `max_bytes` bytes arrived without one. The stream is
    ///   then closed.
    /// - [`ErrorKind::BufferFull`] when the buffer grows past `max_buffer_size` before a
    ///   match arrives. The stream is then closed.
    /// - [`ErrorKind::StreamClosed`] when the stream ends first: the peer closed its side
    ///   (the bytes received stay buffered for a later read), a socket error closed the
    ///   stream (the [`io::Error`] is the [`source`](std::error::Error::source)), or it was
    ///   already closed ([why](IoStream#errors)).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe. If it is used as the event in a `tokio::select!`
    /// statement and another branch completes first, no data is lost: the bytes received
    /// so far stay buffered, and the next read sees them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let header = stream.read_until(b"\r\n\r\n", Some(64 * 1024)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn read_until(
        &mut self,
        delimiter: &[u8],
        max_bytes: Option<usize>,
    ) -> Result<Vec<u8>> {
        // Not `poll_fn` over `poll_read_until`: awaiting inside the loop resumes in the
        // fill, and skips a function call and a search set-up per wake-up (2,090 against
        // 2,016 user-space instructions per echo round trip, callgrind).
        let mut scanned = 0;
        loop {
            if let Some(end) = self.search_delimiter(delimiter, max_bytes, &mut scanned) {
                return Ok(self.buf.take(end?));
            }
            poll_fn(|cx| self.poll_fill(cx)).await?;
        }
    }

    /// [`read_until`](Self::read_until) into a buffer of the caller's: appends the line,
    /// delimiter included, to `out` and returns its length, with the same `max_bytes`
    /// rule. A loop that clears and reuses one `out` allocates nothing per line, and a line
    /// that arrives whole in one read goes from the socket's read straight into `out`,
    /// never through the stream's buffer: the fastest way to read lines.
    ///
    /// # Errors
    ///
    /// As [`read_until`](Self::read_until); `out` is then unchanged.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe: `out` is appended to only when the read completes; a
    /// dropped read leaves what arrived in the stream's buffer, for the next read.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(mut stream: tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let mut line = Vec::with_capacity(1024);
    /// loop {
    ///     line.clear();
    ///     stream.read_until_into(b"\n", Some(64 * 1024), &mut line).await?;
    ///     stream.write(&line).await?;
    /// }
    /// # }
    /// ```
    pub async fn read_until_into(
        &mut self,
        delimiter: &[u8],
        max_bytes: Option<usize>,
        out: &mut Vec<u8>,
    ) -> Result<usize> {
        let mut scanned = 0;
        loop {
            if let Some(end) = self.search_delimiter(delimiter, max_bytes, &mut scanned) {
                let end = end?;
                out.extend_from_slice(&self.buf.as_slice()[..end]);
                self.buf.consume(end);
                return Ok(end);
            }
            if !self.buf.is_empty() {
                poll_fn(|cx| self.poll_fill(cx)).await?;
                continue;
            }
            // Nothing buffered: a read that is exactly one line (the usual request) goes
            // to `out` at once; anything else is buffered and searched as above.
            let mut whole_line = |data: &[u8]| {
                let ends_line = data.ends_with(delimiter)
                    && find_delimiter(data, delimiter) == Some(data.len() - delimiter.len());
                let fits = max_bytes.is_none_or(|max| data.len() <= max);
                if ends_line && fits && !delimiter.is_empty() {
                    out.extend_from_slice(data);
                    true
                } else {
                    false
                }
            };
            let (n, claimed) = poll_fn(|cx| self.poll_fill_or_claim(cx, &mut whole_line)).await?;
            if claimed {
                return Ok(n);
            }
        }
    }

    #[cfg(feature = "regex")]
    /// Reads up to and including the end of the first match of `regex`.
    ///
    /// `max_bytes` works as in [`read_until`](IoStream::read_until). When the regex can
    /// only match a bounded number of bytes (as `\r?\n\r?\n`), each byte is searched once;
    /// otherwise the buffer is searched again only after it doubled or before the stream
    /// waits for more data, as Tornado does.
    ///
    /// # Errors
    ///
    /// As [`read_until`](IoStream::read_until), with the regex for the delimiter:
    ///
    /// - [`ErrorKind::UnsatisfiableRead`], with `max_bytes`, when the match would end past
    ///   `max_bytes`, or when more than `max_bytes` bytes arrived without one. The stream is
    ///   then closed.
    /// - [`ErrorKind::BufferFull`] when the buffer grows past `max_buffer_size` before a
    ///   match arrives. The stream is then closed.
    /// - [`ErrorKind::StreamClosed`] when the stream ends first (the bytes received stay
    ///   buffered; what arrived before the end is searched once more first), with the
    ///   [`io::Error`] as [`source`](std::error::Error::source) when a socket error closed
    ///   it.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe. If it is used as the event in a `tokio::select!`
    /// statement and another branch completes first, no data is lost: the bytes received
    /// so far stay buffered, and the next read sees them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use regex::bytes::Regex;
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let end_of_headers = Regex::new(r"\r?\n\r?\n").unwrap();
    /// let head = stream.read_until_regex(&end_of_headers, Some(65536)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn read_until_regex(
        &mut self,
        regex: &Regex,
        max_bytes: Option<usize>,
    ) -> Result<Vec<u8>> {
        let mut search = RegexSearch::default();
        poll_fn(|cx| self.poll_read_until_regex(cx, regex, max_bytes, &mut search)).await
    }

    /// Reads exactly `num_bytes` bytes; with `partial`, returns as soon as at least one byte
    /// is available (at most `num_bytes`). `read_bytes(0, _)` returns an empty vector.
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::BufferFull`] at once, before reading anything, for a non-partial read
    ///   of more than `max_buffer_size` bytes, which could never succeed (as in Tornado);
    ///   and when the buffer grows past `max_buffer_size` while the read waits. The stream
    ///   is then closed.
    /// - [`ErrorKind::StreamClosed`] when the stream ends before `num_bytes` bytes (with
    ///   `partial`, before any byte) arrived: the peer closed its side (the bytes received
    ///   stay buffered for a later read), a socket error closed the stream (the
    ///   [`io::Error`] is the [`source`](std::error::Error::source)), or it was already
    ///   closed ([why](IoStream#errors)).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe. If it is used as the event in a `tokio::select!`
    /// statement and another branch completes first, no data is lost: the bytes received
    /// so far stay buffered, and the next read sees them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let header = stream.read_bytes(4, false).await?;
    /// let len = u32::from_be_bytes(header.try_into().unwrap()) as usize;
    /// let body = stream.read_bytes(len, false).await?;
    /// # Ok(()) }
    /// ```
    pub async fn read_bytes(&mut self, num_bytes: usize, partial: bool) -> Result<Vec<u8>> {
        poll_fn(|cx| self.poll_read_bytes(cx, num_bytes, partial)).await
    }

    /// Fills `dst` (Tornado's `read_into`): buffered bytes first, then straight from the
    /// socket. Returns the number of bytes written, `dst.len()` unless `partial`, in which
    /// case it returns as soon as at least one byte is available. An empty `dst` returns 0.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::StreamClosed`] when the stream ends before `dst` is full (with
    /// `partial`, before any byte arrived): the peer closed its side, a socket error closed
    /// the stream (the [`io::Error`] is the [`source`](std::error::Error::source)), or it
    /// was already closed ([why](IoStream#errors)). The bytes already copied into `dst`
    /// are then put back at the front of the stream's buffer, so a later read returns them
    /// (`dst` keeps a copy). Bytes read from the socket go straight into `dst`, so
    /// `max_buffer_size` does not limit this read.
    ///
    /// # Cancel safety
    ///
    /// With `partial` true, this method is cancel-safe: until it completes it has taken no
    /// bytes, so a dropped call loses nothing.
    ///
    /// With `partial` false, it is not cancel-safe, like tokio's `read_exact`. If it is
    /// used as the event in a `tokio::select!` statement and another branch completes
    /// first, the bytes it had already taken (from the stream's buffer, then from the
    /// socket) are at the start of `dst`, no longer in the stream, and their number is
    /// lost: they are put back on an error, not when the future is dropped. Where a read
    /// may be cancelled, use `partial` true, or [`read_bytes`](IoStream::read_bytes).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let mut block = [0u8; 512];
    /// stream.read_into(&mut block, false).await?;
    /// # Ok(()) }
    /// ```
    pub async fn read_into(&mut self, dst: &mut [u8], partial: bool) -> Result<usize> {
        let mut filled = None;
        poll_fn(|cx| self.poll_read_into(cx, dst, partial, &mut filled)).await
    }

    /// Reads everything until the peer closes (Tornado's `read_until_close`).
    ///
    /// The peer closing its side, or an error that only says it went away (a connection
    /// reset or abort, a broken pipe, a timeout), ends the stream: the bytes received are
    /// returned. If the stream is already closed, returns what is buffered (possibly
    /// nothing).
    ///
    /// # Errors
    ///
    /// - [`ErrorKind::BufferFull`] when more than `max_buffer_size` bytes arrive before the
    ///   end. The stream is then closed.
    /// - [`ErrorKind::StreamClosed`] when any other socket error ends the stream, now or
    ///   before the call; the [`io::Error`] is the [`source`](std::error::Error::source).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe. If it is used as the event in a `tokio::select!`
    /// statement and another branch completes first, no data is lost: the bytes received
    /// so far stay buffered, and the next read (another `read_until_close`) returns them.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let request = stream.read_until_close().await?;
    /// # Ok(()) }
    /// ```
    pub async fn read_until_close(&mut self) -> Result<Vec<u8>> {
        poll_fn(|cx| self.poll_read_until_close(cx)).await
    }

    /// Writes all of `data`; resolves once every byte has been handed to the kernel (for
    /// TLS, once the records are written).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::StreamClosed`] if the stream was already closed ([why](IoStream#errors)),
    /// or if the write fails: the [`io::Error`] (a broken pipe or a reset, when the peer is
    /// gone) is the [`source`](std::error::Error::source), and the stream is closed. A peer
    /// that only shut down its sending side does not make writes fail.
    ///
    /// # Cancel safety
    ///
    /// This method is not cancel-safe, like tokio's `write_all`. If it is used as the event
    /// in a `tokio::select!` statement and another branch completes first, part of `data`
    /// may already have been written, with no way to know how much; the stream stays open,
    /// and a later write would follow that unknown part of `data`. To bound a write in
    /// time, wrap it in `tokio::time::timeout` and close the stream if it expires.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await?;
    /// # Ok(()) }
    /// ```
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        let mut written = 0;
        poll_fn(|cx| self.poll_write_all(cx, data, &mut written)).await
    }

    /// Closes the stream now: the socket is released, pending reads and writes are over.
    /// Bytes already buffered remain readable. Closing twice is harmless.
    ///
    /// On a TLS stream, a `close_notify` alert (and any TLS data still pending) is sent
    /// first, best-effort: whatever the socket does not accept at once is dropped, so
    /// `close` never waits. For a close that waits until the peer has everything, use
    /// `AsyncWriteExt::shutdown` first.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(mut stream: tcpserver::IoStream) {
    /// stream.close();
    /// assert!(stream.closed());
    /// assert!(stream.write(b"x").await.unwrap_err().is_closed());
    /// # }
    /// ```
    pub fn close(&mut self) {
        self.transport.send_close_notify();
        self.set_closed(CloseReason::Local);
    }

    /// True once the stream is closed: locally, by an error, or by the peer (observed by a
    /// read). Buffered data may still be readable.
    pub fn closed(&self) -> bool {
        self.closed.is_some() || self.read_eof
    }

    /// A signal that fires when this stream closes, for any reason, including being
    /// dropped (Tornado's `set_close_callback`); see [`CloseSignal`]. Already fired if the
    /// stream is closed.
    pub fn close_signal(&mut self) -> CloseSignal {
        let latch = self.close_latch.get_or_insert_with(Arc::default).clone();
        if self.closed() {
            latch.set();
        }
        CloseSignal::new(latch)
    }

    /// Waits until the peer has gone: it closed the connection (end of stream) or reset
    /// it. Returns the error a read would now fail with, [`ErrorKind::StreamClosed`] with
    /// the reset as [`source`](std::error::Error::source) if there was one. Returns at once
    /// on a closed stream.
    ///
    /// Input is not lost: while it waits, whatever the peer sends is read into the stream's
    /// buffer, where the next read finds it. For a handler that waits on something else
    /// (a long poll, a queue) and must notice a client that left, in a `tokio::select!`.
    ///
    /// Limits:
    ///
    /// - A peer that only shut down its sending side (TCP half-close, `shutdown(SHUT_WR)`)
    ///   looks the same as one that left: TCP cannot tell them apart until a write fails.
    ///   Such a peer may still be reading, and [`write`](Self::write) still works.
    /// - A peer that vanished without a FIN or a reset (a pulled cable, a host that died)
    ///   is not noticed; the server's `idle_timeout` or TCP keep-alive
    ///   ([`set_keepalive`](Self::set_keepalive)) bounds that.
    /// - The bytes read while waiting count against `max_buffer_size`: a peer that keeps
    ///   sending without being read ends with [`ErrorKind::BufferFull`], which closes the
    ///   stream.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe: bytes received while it waited stay buffered.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(mut stream: tcpserver::IoStream, mut updates: tokio::sync::mpsc::Receiver<Vec<u8>>) -> tcpserver::Result<()> {
    /// loop {
    ///     tokio::select! {
    ///         Some(update) = updates.recv() => stream.write(&update).await?,
    ///         _gone = stream.peer_closed() => return Ok(()),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn peer_closed(&mut self) -> Error {
        poll_fn(|cx| self.poll_peer_closed(cx)).await
    }

    /// Sets `TCP_NODELAY`; a no-op on Unix-domain and closed streams.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`], with the [`io::Error`] as [`source`](std::error::Error::source),
    /// if the system refuses the option. Errors that only say the connection is already
    /// gone (a reset, `EINVAL`) are ignored, as in Tornado.
    pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
        self.tcp_option(|socket| socket.set_tcp_nodelay(nodelay))
    }

    /// The peer's address. A TCP stream records it when it is made, so it stays known
    /// after the stream is closed.
    ///
    /// # Errors
    ///
    /// - [`io::ErrorKind::Unsupported`] for a Unix-domain stream, whose peer has no IP
    ///   address ([`NotConnected`](io::ErrorKind::NotConnected) once it is closed).
    /// - [`io::ErrorKind::NotConnected`], or the system's error while the stream is open,
    ///   for a TCP stream whose peer was already gone when the stream was made.
    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        if let Some(peer) = self.peer {
            return Ok(peer);
        }
        match self.transport.tcp() {
            Some(tcp) => tcp.peer_addr(),
            None if self.transport.unix().is_some() => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a Unix-domain peer has no IP address",
            )),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    /// The local address of the connection.
    ///
    /// # Errors
    ///
    /// - [`io::ErrorKind::Unsupported`] for a Unix-domain stream.
    /// - [`io::ErrorKind::NotConnected`] once the stream is closed (the local address is
    ///   not recorded).
    /// - Otherwise, the system's error, if it cannot tell.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self.transport.tcp() {
            Some(tcp) => tcp.local_addr(),
            None if self.transport.unix().is_some() => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a Unix-domain socket has no IP address",
            )),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        }
    }

    /// The buffer limits this stream applies.
    pub fn options(&self) -> StreamOptions {
        self.options
    }

    /// How many received bytes are buffered and not yet read.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The signal that the server serving this stream began a graceful shutdown; see
    /// [`ShutdownSignal`], whose example uses it.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.shutdown.clone()
    }

    pub(crate) fn set_shutdown_signal(&mut self, signal: ShutdownSignal) {
        self.shutdown = signal;
    }

    /// Bytes of memory the read buffer holds (0 for an idle stream).
    #[doc(hidden)]
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    // ----- internals -----

    /// [`read_until`](Self::read_until) as a poll function: `scanned` (0 at first) carries
    /// what was searched already from one call to the next.
    pub(crate) fn poll_read_until(
        &mut self,
        cx: &mut Context<'_>,
        delimiter: &[u8],
        max_bytes: Option<usize>,
        scanned: &mut usize,
    ) -> Poll<Result<Vec<u8>>> {
        loop {
            if let Some(end) = self.search_delimiter(delimiter, max_bytes, scanned) {
                return Poll::Ready(end.map(|end| self.buf.take(end)));
            }
            ready!(self.poll_fill(cx))?;
        }
    }

    /// One search of the buffer for `delimiter`: where the line ends (or the error of a
    /// line over `max_bytes`) if it decides the read, `None` if more data is needed. `scanned`
    /// carries what was searched already.
    #[inline]
    fn search_delimiter(
        &mut self,
        delimiter: &[u8],
        max_bytes: Option<usize>,
        scanned: &mut usize,
    ) -> Option<Result<usize>> {
        // Everything before `scanned` is known not to start a match, except possibly its
        // last `delimiter.len() - 1` bytes. (No searcher is kept between searches: it
        // would sit in every idle connection's future.)
        let data = self.buf.as_slice();
        let from = scanned.saturating_sub(delimiter.len().saturating_sub(1));
        let window = &data[from..];
        // An empty window holds no non-empty delimiter: skip the searcher's set-up on the
        // common first pass over an empty buffer.
        let found = if window.is_empty() && !delimiter.is_empty() {
            None
        } else {
            find_delimiter(window, delimiter)
        };
        if let Some(at) = found {
            let end = from + at + delimiter.len();
            if let Some(max) = max_bytes.filter(|&max| end > max) {
                return Some(Err(
                    self.unsatisfiable(&DelimiterName::Bytes(delimiter), max)
                ));
            }
            return Some(Ok(end));
        }
        *scanned = data.len();
        if let Some(max) = max_bytes.filter(|&max| *scanned > max) {
            return Some(Err(
                self.unsatisfiable(&DelimiterName::Bytes(delimiter), max)
            ));
        }
        None
    }

    /// [`read_until_regex`](Self::read_until_regex) as a poll function; `search` carries
    /// what was searched already from one call to the next.
    #[cfg(feature = "regex")]
    pub(crate) fn poll_read_until_regex(
        &mut self,
        cx: &mut Context<'_>,
        regex: &Regex,
        max_bytes: Option<usize>,
        search: &mut RegexSearch,
    ) -> Poll<Result<Vec<u8>>> {
        loop {
            let len = self.buf.len();
            let over_limit = max_bytes.is_some_and(|max| len > max);
            let due = match search.searched_len {
                None => true,
                Some(prev) if prev == len => false,
                Some(prev) => {
                    let bound = *search
                        .max_match_len
                        .get_or_insert_with(|| max_match_len_of(regex));
                    bound.is_some()
                        || len >= prev.saturating_mul(2)
                        || search.last_fill_short
                        || over_limit
                }
            };
            if due {
                // A new match ends near or after the previous search's end, so it starts at
                // most `bound` bytes (plus a look-ahead character) before it; unbounded
                // patterns rescan from the start.
                let from = match (search.searched_len, search.max_match_len) {
                    (Some(prev), Some(Some(bound))) => prev.saturating_sub(bound + 4),
                    _ => 0,
                };
                if let Some(m) = regex.find_at(self.buf.as_slice(), from) {
                    let end = m.end();
                    if let Some(max) = max_bytes.filter(|&max| end > max) {
                        return Poll::Ready(Err(
                            self.unsatisfiable(&DelimiterName::Regex(regex), max)
                        ));
                    }
                    return Poll::Ready(Ok(self.buf.take(end)));
                }
                search.searched_len = Some(len);
            }
            if let Some(max) = max_bytes.filter(|_| over_limit) {
                return Poll::Ready(Err(self.unsatisfiable(&DelimiterName::Regex(regex), max)));
            }
            match ready!(self.poll_fill(cx)) {
                Ok(n) => search.last_fill_short = n < self.options.get_read_chunk_size(),
                Err(e)
                    if e.kind() == ErrorKind::StreamClosed
                        && search.searched_len != Some(self.buf.len()) =>
                {
                    // Search what arrived before the close once more.
                    if let Some(m) = regex.find(self.buf.as_slice())
                        && max_bytes.is_none_or(|max| m.end() <= max)
                    {
                        return Poll::Ready(Ok(self.buf.take(m.end())));
                    }
                    return Poll::Ready(Err(e));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// [`read_bytes`](Self::read_bytes) as a poll function.
    pub(crate) fn poll_read_bytes(
        &mut self,
        cx: &mut Context<'_>,
        num_bytes: usize,
        partial: bool,
    ) -> Poll<Result<Vec<u8>>> {
        if num_bytes == 0 {
            return Poll::Ready(Ok(Vec::new()));
        }
        if !partial && num_bytes > self.options.max_buffer_size {
            return Poll::Ready(Err(self.buffer_full()));
        }
        loop {
            let have = self.buf.len();
            if have >= num_bytes || (partial && have > 0) {
                return Poll::Ready(Ok(self.buf.take(have.min(num_bytes))));
            }
            ready!(self.poll_fill(cx))?;
        }
    }

    /// [`read_into`](Self::read_into) as a poll function; `filled` (`None` at first)
    /// carries how much of `dst` is filled from one call to the next.
    pub(crate) fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [u8],
        partial: bool,
        filled: &mut Option<usize>,
    ) -> Poll<Result<usize>> {
        if dst.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let filled = filled.get_or_insert_with(|| self.buf.take_into(dst));
        while *filled < dst.len() && !(partial && *filled > 0) {
            match ready!(self.poll_read_direct(cx, &mut dst[*filled..])) {
                Ok(n) => *filled += n,
                Err(e) => {
                    self.buf.unread(&dst[..*filled]);
                    *filled = 0;
                    return Poll::Ready(Err(e));
                }
            }
        }
        Poll::Ready(Ok(*filled))
    }

    /// [`read_until_close`](Self::read_until_close) as a poll function.
    pub(crate) fn poll_read_until_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>>> {
        loop {
            match ready!(self.poll_fill(cx)) {
                Ok(_) => continue,
                Err(e)
                    if e.kind() == ErrorKind::StreamClosed
                        && e.io_error().is_none_or(is_reset_class) =>
                {
                    let n = self.buf.len();
                    return Poll::Ready(Ok(self.buf.take(n)));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// [`write`](Self::write) as a poll function; `written` (0 at first) carries how much
    /// of `data` went out from one call to the next (`data.len() + 1` once it is flushed
    /// too: a TLS stream flushes its records last).
    pub(crate) fn poll_write_all(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
        written: &mut usize,
    ) -> Poll<Result<()>> {
        if let Some(reason) = &self.closed {
            return Poll::Ready(Err(closed_error(reason)));
        }
        // `write_all`, with the idle clock stamped at every partial write: a large write to
        // a slow reader is progress, not idleness.
        while *written < data.len() {
            match ready!(Pin::new(&mut self.transport).poll_write(cx, &data[*written..])) {
                Ok(0) => {
                    let e = io::Error::from(io::ErrorKind::WriteZero);
                    return Poll::Ready(Err(self.fail(e)));
                }
                Ok(n) => {
                    self.touch();
                    *written += n;
                }
                Err(e) => return Poll::Ready(Err(self.fail(e))),
            }
        }
        if self.transport.buffers_writes()
            && let Err(e) = ready!(Pin::new(&mut self.transport).poll_flush(cx))
        {
            return Poll::Ready(Err(self.fail(e)));
        }
        metrics::add(metrics::SENT, data.len() as u64);
        Poll::Ready(Ok(()))
    }

    /// [`peer_closed`](Self::peer_closed) as a poll function.
    pub(crate) fn poll_peer_closed(&mut self, cx: &mut Context<'_>) -> Poll<Error> {
        loop {
            if let Err(err) = ready!(self.poll_fill(cx)) {
                return Poll::Ready(err);
            }
        }
    }

    /// Reads one chunk into the buffer; returns the byte count. Fails, leaving the buffer
    /// as it is, once the stream can deliver nothing more.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize>> {
        self.poll_fill_or_claim(cx, |_| false).map_ok(|(n, _)| n)
    }

    /// [`poll_fill`](Self::poll_fill), except that when the buffer was empty, `claim` sees
    /// the bytes read first and may take them (returns true): they are then not buffered.
    /// Returns the byte count and whether `claim` took them.
    #[inline]
    fn poll_fill_or_claim(
        &mut self,
        cx: &mut Context<'_>,
        mut claim: impl FnMut(&[u8]) -> bool,
    ) -> Poll<Result<(usize, bool)>> {
        if let Some(err) = self.read_closed_error() {
            return Poll::Ready(Err(err));
        }
        let chunk = self.options.get_read_chunk_size();
        let read = if self.buf.is_empty() {
            let (transport, buf) = (&mut self.transport, &mut self.buf);
            SCRATCH.with_borrow_mut(|scratch| {
                if scratch.len() < chunk {
                    scratch.resize(chunk, 0);
                }
                let mut rb = ReadBuf::new(&mut scratch[..chunk]);
                let res = ready!(Pin::new(transport).poll_read(cx, &mut rb));
                let data = rb.filled();
                let claimed = !data.is_empty() && claim(data);
                if !claimed {
                    buf.extend(data);
                }
                Poll::Ready(res.map(|()| (data.len(), claimed)))
            })
        } else {
            let mut rb = ReadBuf::new(&mut self.buf.spare_mut(chunk)[..chunk]);
            let res = ready!(Pin::new(&mut self.transport).poll_read(cx, &mut rb));
            let n = rb.filled().len();
            self.buf.commit(n);
            Poll::Ready(res.map(|()| (n, false)))
        };
        Poll::Ready(match ready!(read) {
            Ok((0, _)) => {
                self.set_read_eof();
                Err(Error::closed(None))
            }
            Ok((n, claimed)) => {
                metrics::add(metrics::RECEIVED, n as u64);
                self.touch();
                if self.buf.len() > self.options.max_buffer_size {
                    Err(self.buffer_full())
                } else {
                    Ok((n, claimed))
                }
            }
            Err(e) if self.is_ragged_eof(&e) => {
                self.set_read_eof();
                Err(Error::closed(None))
            }
            Err(e) => Err(self.fail(e)),
        })
    }

    /// Reads straight from the socket into `dst` (no buffering), for `read_into`.
    fn poll_read_direct(&mut self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<Result<usize>> {
        if let Some(err) = self.read_closed_error() {
            return Poll::Ready(Err(err));
        }
        let mut rb = ReadBuf::new(dst);
        Poll::Ready(
            match ready!(Pin::new(&mut self.transport).poll_read(cx, &mut rb)) {
                Ok(()) if rb.filled().is_empty() => {
                    self.set_read_eof();
                    Err(Error::closed(None))
                }
                Ok(()) => {
                    metrics::add(metrics::RECEIVED, rb.filled().len() as u64);
                    self.touch();
                    Ok(rb.filled().len())
                }
                Err(e) if self.is_ragged_eof(&e) => {
                    self.set_read_eof();
                    Err(Error::closed(None))
                }
                Err(e) => Err(self.fail(e)),
            },
        )
    }

    /// The error a read gets when no more data can arrive, if that is the case. The check
    /// is inline (every read makes it); making the error is not.
    #[inline]
    fn read_closed_error(&self) -> Option<Error> {
        if self.closed.is_none() && !self.read_eof {
            return None;
        }
        self.read_closed_error_cold()
    }

    #[cold]
    fn read_closed_error_cold(&self) -> Option<Error> {
        match &self.closed {
            Some(reason) => Some(closed_error(reason)),
            None if self.read_eof => Some(Error::closed(None)),
            None => None,
        }
    }

    /// Records a socket error, closes the stream, and returns what the caller should see.
    fn fail(&mut self, err: io::Error) -> Error {
        if !is_reset_class(&err) {
            tracing::debug!(peer = ?self.peer, "error on stream: {err}");
        }
        let err = Arc::new(err);
        self.set_closed(CloseReason::Io(err.clone()));
        Error::closed(Some(err))
    }

    fn unsatisfiable(&mut self, delimiter: &DelimiterName<'_>, max: usize) -> Error {
        tracing::info!(
            peer = ?self.peer,
            "Unsatisfiable read, closing connection: delimiter {delimiter} not found within {max} bytes"
        );
        self.set_closed(CloseReason::Unsatisfiable);
        Error::new(ErrorKind::UnsatisfiableRead).with_message(format!(
            "unsatisfiable read: delimiter {delimiter} not found within {max} bytes"
        ))
    }

    fn buffer_full(&mut self) -> Error {
        let max = self.options.max_buffer_size;
        tracing::info!(peer = ?self.peer, "Reached maximum read buffer size ({max} bytes), closing connection");
        self.set_closed(CloseReason::BufferFull);
        Error::new(ErrorKind::BufferFull)
            .with_message(format!("reached maximum read buffer size ({max} bytes)"))
    }
}

/// The error reported by operations on a stream closed for `reason`.
fn closed_error(reason: &CloseReason) -> Error {
    match reason {
        CloseReason::Local => Error::closed(None),
        CloseReason::Io(e) => Error::closed(Some(e.clone())),
        CloseReason::Unsatisfiable => Error::new(ErrorKind::StreamClosed)
            .with_source(Error::new(ErrorKind::UnsatisfiableRead)),
        CloseReason::BufferFull => {
            Error::new(ErrorKind::StreamClosed).with_source(Error::new(ErrorKind::BufferFull))
        }
    }
}

fn closed_io_error(reason: &CloseReason) -> io::Error {
    match reason {
        CloseReason::Io(e) => io::Error::new(e.kind(), SharedIoError(e.clone())),
        other => io::Error::new(io::ErrorKind::NotConnected, closed_error(other)),
    }
}

fn find_delimiter(haystack: &[u8], delimiter: &[u8]) -> Option<usize> {
    match delimiter {
        [byte] => memchr::memchr(*byte, haystack),
        _ => memchr::memmem::find(haystack, delimiter),
    }
}

/// What a regex read searched already (see `poll_read_until_regex`).
#[cfg(feature = "regex")]
#[derive(Debug, Default)]
pub(crate) struct RegexSearch {
    searched_len: Option<usize>,
    max_match_len: Option<Option<usize>>,
    last_fill_short: bool,
}

/// How an unsatisfiable read names its delimiter in logs and errors.
enum DelimiterName<'a> {
    Bytes(&'a [u8]),
    #[cfg(feature = "regex")]
    Regex(&'a Regex),
}

impl fmt::Display for DelimiterName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DelimiterName::Bytes(b) => write!(f, "b\"{}\"", b.escape_ascii()),
            #[cfg(feature = "regex")]
            DelimiterName::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

#[cfg(feature = "regex")]
/// The most bytes one match of `regex` can span, if its pattern bounds it. Parsed
/// case-insensitively, so that a bound found here also holds for case-insensitive builds.
fn max_match_len_of(regex: &Regex) -> Option<usize> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .case_insensitive(true)
        .build()
        .parse(regex.as_str())
        .ok()?;
    hir.properties().maximum_len()
}

impl AsyncRead for IoStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.buf.is_empty() {
            let n = out.remaining().min(this.buf.len());
            out.put_slice(&this.buf.as_slice()[..n]);
            this.buf.consume(n);
            return Poll::Ready(Ok(()));
        }
        if this.read_eof {
            return Poll::Ready(Ok(()));
        }
        if let Some(reason) = &this.closed {
            return Poll::Ready(Err(closed_io_error(reason)));
        }
        let before = out.filled().len();
        match ready!(Pin::new(&mut this.transport).poll_read(cx, out)) {
            Ok(()) => {
                let n = out.filled().len() - before;
                if n == 0 && out.remaining() > 0 {
                    this.set_read_eof();
                }
                metrics::add(metrics::RECEIVED, n as u64);
                this.touch();
                Poll::Ready(Ok(()))
            }
            Err(e) if this.is_ragged_eof(&e) => {
                this.set_read_eof();
                Poll::Ready(Ok(()))
            }
            Err(e) => {
                let kind = e.kind();
                let err = this.fail(e);
                Poll::Ready(Err(io::Error::new(kind, err)))
            }
        }
    }
}

impl AsyncWrite for IoStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(reason) = &this.closed {
            return Poll::Ready(Err(closed_io_error(reason)));
        }
        let written = ready!(Pin::new(&mut this.transport).poll_write(cx, buf));
        this.touch();
        Poll::Ready(sent(written).map_err(|e| this.fail_io(e)))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(reason) = &this.closed {
            return Poll::Ready(Err(closed_io_error(reason)));
        }
        let written = ready!(Pin::new(&mut this.transport).poll_write_vectored(cx, bufs));
        this.touch();
        Poll::Ready(sent(written).map_err(|e| this.fail_io(e)))
    }

    fn is_write_vectored(&self) -> bool {
        self.transport.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        Pin::new(&mut this.transport)
            .poll_flush(cx)
            .map_err(|e| this.fail_io(e))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        Pin::new(&mut this.transport)
            .poll_shutdown(cx)
            .map_err(|e| this.fail_io(e))
    }
}

/// Counts what a write through the tokio traits sent.
fn sent(written: io::Result<usize>) -> io::Result<usize> {
    if let Ok(n) = written {
        metrics::add(metrics::SENT, n as u64);
    }
    written
}

impl IoStream {
    /// Stamps the idle clock, if the server has an idle timeout.
    #[inline]
    fn touch(&self) {
        if let Some(activity) = &self.activity {
            activity.touch();
        }
    }

    /// Stamps this stream's reads and writes on `activity` (the server's idle timeout).
    pub(crate) fn set_activity(&mut self, activity: Arc<Activity>) {
        self.activity = Some(activity);
    }

    /// Closes the stream for `reason` (the first reason stays) and fires its close signal.
    fn set_closed(&mut self, reason: CloseReason) {
        if self.closed.is_none() {
            self.closed = Some(reason);
        }
        self.transport = Transport::Closed;
        self.fire_close_signal();
    }

    /// A TLS peer that closed its socket without a `close_notify` alert: an end of stream,
    /// as in Tornado (Python's `ssl` suppresses such "ragged EOFs"), not an error. Many
    /// clients close that way; a protocol that must tell a truncated message from a whole
    /// one frames its messages (as HTTP does).
    fn is_ragged_eof(&self, err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::UnexpectedEof && self.transport.buffers_writes()
    }

    /// Records that the peer shut down its sending side, which fires the close signal.
    fn set_read_eof(&mut self) {
        self.read_eof = true;
        self.fire_close_signal();
    }

    fn fire_close_signal(&self) {
        if let Some(latch) = &self.close_latch {
            latch.set();
        }
    }

    /// `fail` for the tokio I/O traits, which must return an `io::Error` of the same kind.
    fn fail_io(&mut self, err: io::Error) -> io::Error {
        let kind = err.kind();
        io::Error::new(kind, self.fail(err))
    }
}

impl Drop for IoStream {
    fn drop(&mut self) {
        self.fire_close_signal();
    }
}
