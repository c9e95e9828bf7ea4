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
//! data); after the peer shuts down its sending side, writes still go out (TCP half-close).
#![forbid(unsafe_code)]

mod buffer;
mod shutdown;
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
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpStream, ToSocketAddrs, UnixStream};

use crate::error::{Error, ErrorKind, Result, SharedIoError, is_reset_class};
#[cfg(feature = "tls")]
use crate::tls::TlsInfo;
use buffer::ReadBuffer;
pub use shutdown::{Requested, ShutdownSignal};
pub(crate) use transport::Transport;

/// Tornado's default `max_buffer_size`: 100 MiB.
///
/// # Examples
///
/// ```
/// assert_eq!(tcpserver::iostream::DEFAULT_MAX_BUFFER_SIZE, 100 * 1024 * 1024);
/// ```
pub const DEFAULT_MAX_BUFFER_SIZE: usize = 100 * 1024 * 1024;

/// Tornado's default `read_chunk_size`: 64 KiB.
///
/// # Examples
///
/// ```
/// assert_eq!(tcpserver::iostream::DEFAULT_READ_CHUNK_SIZE, 65536);
/// ```
pub const DEFAULT_READ_CHUNK_SIZE: usize = 64 * 1024;

/// Buffer limits of a stream (Tornado's `max_buffer_size` and `read_chunk_size`).
///
/// `0` means "the default" for both, as in Tornado, and the chunk size is clamped to half
/// the buffer size, as Tornado does.
///
/// # Examples
///
/// ```
/// use tcpserver::iostream::StreamOptions;
///
/// let opts = StreamOptions::new().max_buffer_size(1000).read_chunk_size(4096);
/// assert_eq!(opts.get_read_chunk_size(), 500);
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
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = tcpserver::iostream::StreamOptions::new();
    /// assert_eq!(opts.get_max_buffer_size(), 100 << 20);
    /// ```
    pub const fn new() -> Self {
        StreamOptions {
            max_buffer_size: DEFAULT_MAX_BUFFER_SIZE,
            read_chunk_size: DEFAULT_READ_CHUNK_SIZE,
        }
    }

    /// The largest number of bytes the read buffer may hold; `0` means the default.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = tcpserver::iostream::StreamOptions::new().max_buffer_size(0);
    /// assert_eq!(opts.get_max_buffer_size(), 100 << 20);
    /// ```
    pub const fn max_buffer_size(mut self, bytes: usize) -> Self {
        self.max_buffer_size = if bytes == 0 {
            DEFAULT_MAX_BUFFER_SIZE
        } else {
            bytes
        };
        self
    }

    /// How many bytes one socket read asks for; `0` means the default.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = tcpserver::iostream::StreamOptions::new().read_chunk_size(4096);
    /// assert_eq!(opts.get_read_chunk_size(), 4096);
    /// ```
    pub const fn read_chunk_size(mut self, bytes: usize) -> Self {
        self.read_chunk_size = if bytes == 0 {
            DEFAULT_READ_CHUNK_SIZE
        } else {
            bytes
        };
        self
    }

    /// The buffer limit.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tcpserver::iostream::StreamOptions::new().get_max_buffer_size(), 104857600);
    /// ```
    pub const fn get_max_buffer_size(&self) -> usize {
        self.max_buffer_size
    }

    /// The effective chunk size: the configured one, at most half the buffer limit, at
    /// least one byte.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(tcpserver::iostream::StreamOptions::new().get_read_chunk_size(), 65536);
    /// ```
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
/// Every read method is cancel-safe: if its future is dropped before completing (for
/// example in `tokio::select!`), no data is lost. [`write`](IoStream::write) is not, like
/// `write_all`.
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
    /// What the TLS handshake negotiated; `None` for a plain stream. Boxed so that plain
    /// streams stay small.
    #[cfg(feature = "tls")]
    tls: Option<Box<TlsInfo>>,
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
            #[cfg(feature = "tls")]
            tls: None,
        }
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
    /// after the stream is closed. The `Result` is for streams whose handshake could still
    /// fail; none of those reaches a handler.
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
    /// With `max_bytes`, fails with [`ErrorKind::UnsatisfiableRead`] (and closes the
    /// stream) when the match would end past `max_bytes` or when more than `max_bytes`
    /// arrive without one. Fails with [`ErrorKind::StreamClosed`] if the peer closes first;
    /// the partial data then stays buffered.
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
        // Everything before `scanned` is known not to start a match, except possibly its
        // last `delimiter.len() - 1` bytes. (No searcher is kept across the await: it
        // would sit in every idle connection's future.)
        let mut scanned: usize = 0;
        loop {
            let data = self.buf.as_slice();
            let from = scanned.saturating_sub(delimiter.len().saturating_sub(1));
            let window = &data[from..];
            // An empty window holds no non-empty delimiter: skip the searcher's set-up on
            // the common first pass over an empty buffer.
            let found = if window.is_empty() && !delimiter.is_empty() {
                None
            } else {
                find_delimiter(window, delimiter)
            };
            if let Some(at) = found {
                let end = from + at + delimiter.len();
                if let Some(max) = max_bytes.filter(|&max| end > max) {
                    return Err(self.unsatisfiable(&DelimiterName::Bytes(delimiter), max));
                }
                return Ok(self.buf.take(end));
            }
            scanned = data.len();
            if let Some(max) = max_bytes.filter(|&max| scanned > max) {
                return Err(self.unsatisfiable(&DelimiterName::Bytes(delimiter), max));
            }
            self.fill().await?;
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
        let mut searched_len: Option<usize> = None;
        let mut max_match_len: Option<Option<usize>> = None;
        let mut last_fill_short = true;
        loop {
            let len = self.buf.len();
            let over_limit = max_bytes.is_some_and(|max| len > max);
            let due = match searched_len {
                None => true,
                Some(prev) if prev == len => false,
                Some(prev) => {
                    let bound = *max_match_len.get_or_insert_with(|| max_match_len_of(regex));
                    bound.is_some()
                        || len >= prev.saturating_mul(2)
                        || last_fill_short
                        || over_limit
                }
            };
            if due {
                // A new match ends near or after the previous search's end, so it starts at
                // most `bound` bytes (plus a look-ahead character) before it; unbounded
                // patterns rescan from the start.
                let from = match (searched_len, max_match_len) {
                    (Some(prev), Some(Some(bound))) => prev.saturating_sub(bound + 4),
                    _ => 0,
                };
                if let Some(m) = regex.find_at(self.buf.as_slice(), from) {
                    let end = m.end();
                    if let Some(max) = max_bytes.filter(|&max| end > max) {
                        return Err(self.unsatisfiable(&DelimiterName::Regex(regex), max));
                    }
                    return Ok(self.buf.take(end));
                }
                searched_len = Some(len);
            }
            if let Some(max) = max_bytes.filter(|_| over_limit) {
                return Err(self.unsatisfiable(&DelimiterName::Regex(regex), max));
            }
            match self.fill().await {
                Ok(n) => last_fill_short = n < self.options.get_read_chunk_size(),
                Err(e) if e.is_closed() && searched_len != Some(self.buf.len()) => {
                    // Search what arrived before the close once more.
                    if let Some(m) = regex.find(self.buf.as_slice())
                        && max_bytes.is_none_or(|max| m.end() <= max)
                    {
                        return Ok(self.buf.take(m.end()));
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads exactly `num_bytes` bytes; with `partial`, returns as soon as at least one byte
    /// is available (at most `num_bytes`). `read_bytes(0, _)` returns an empty vector.
    ///
    /// A non-partial read larger than `max_buffer_size` can never succeed: it fails with
    /// [`ErrorKind::BufferFull`] and closes the stream, as in Tornado.
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
        if num_bytes == 0 {
            return Ok(Vec::new());
        }
        if !partial && num_bytes > self.options.max_buffer_size {
            return Err(self.buffer_full());
        }
        loop {
            let have = self.buf.len();
            if have >= num_bytes || (partial && have > 0) {
                return Ok(self.buf.take(have.min(num_bytes)));
            }
            self.fill().await?;
        }
    }

    /// Fills `dst` (Tornado's `read_into`): buffered bytes first, then straight from the
    /// socket. Returns the number of bytes written, `dst.len()` unless `partial`, in which
    /// case it returns as soon as at least one byte is available.
    ///
    /// If the stream closes before `dst` is full, the bytes taken are put back, so a later
    /// read still sees them.
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
        if dst.is_empty() {
            return Ok(0);
        }
        let mut filled = self.buf.take_into(dst);
        while filled < dst.len() && !(partial && filled > 0) {
            let res = poll_fn(|cx| self.poll_read_direct(cx, &mut dst[filled..])).await;
            match res {
                Ok(n) => filled += n,
                Err(e) => {
                    self.buf.unread(&dst[..filled]);
                    return Err(e);
                }
            }
        }
        Ok(filled)
    }

    /// Reads everything until the peer closes (Tornado's `read_until_close`).
    ///
    /// If the stream is already closed, returns what is buffered (possibly nothing). Fails
    /// with [`ErrorKind::BufferFull`] past `max_buffer_size`, and with the real error if a
    /// socket error other than a reset ended the stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let request = stream.read_until_close().await?;
    /// # Ok(()) }
    /// ```
    pub async fn read_until_close(&mut self) -> Result<Vec<u8>> {
        loop {
            match self.fill().await {
                Ok(_) => continue,
                Err(e) if e.is_closed() && e.io_error().is_none_or(is_reset_class) => {
                    let n = self.buf.len();
                    return Ok(self.buf.take(n));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes all of `data`; resolves once every byte has been handed to the kernel (for
    /// TLS, once the records are written).
    ///
    /// Fails with [`ErrorKind::StreamClosed`] if the stream is closed or the write fails;
    /// the stream is closed after a failed write.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await?;
    /// # Ok(()) }
    /// ```
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        if let Some(reason) = &self.closed {
            return Err(closed_error(reason));
        }
        let res = async {
            self.transport.write_all(data).await?;
            if self.transport.buffers_writes() {
                self.transport.flush().await?;
            }
            Ok(())
        }
        .await;
        res.map_err(|e| self.fail(e))
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
        if self.closed.is_none() {
            self.closed = Some(CloseReason::Local);
        }
        self.transport = Transport::Closed;
    }

    /// True once the stream is closed: locally, by an error, or by the peer (observed by a
    /// read). Buffered data may still be readable.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) {
    /// if !stream.closed() {
    ///     let _ = stream.write(b"bye\n").await;
    /// }
    /// # }
    /// ```
    pub fn closed(&self) -> bool {
        self.closed.is_some() || self.read_eof
    }

    /// Sets `TCP_NODELAY`; a no-op on Unix-domain streams. Errors from a connection that
    /// is already gone are ignored, as in Tornado.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(stream: &tcpserver::IoStream) -> tcpserver::Result<()> {
    /// stream.set_nodelay(true)?;
    /// # Ok(()) }
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
        match self.transport.tcp() {
            Some(tcp) => match tcp.set_nodelay(nodelay) {
                Err(e) if !is_reset_class(&e) && e.kind() != io::ErrorKind::InvalidInput => {
                    Err(e.into())
                }
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// The peer's address. A Unix-domain peer has none (`ErrorKind::Unsupported`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(stream: &tcpserver::IoStream) -> std::io::Result<()> {
    /// println!("connection from {}", stream.peer_addr()?);
    /// # Ok(()) }
    /// ```
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

    /// The local address of the connection (`ErrorKind::Unsupported` for Unix sockets).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(stream: &tcpserver::IoStream) -> std::io::Result<()> {
    /// println!("served on port {}", stream.local_addr()?.port());
    /// # Ok(()) }
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(stream: &tcpserver::IoStream) {
    /// assert!(stream.options().get_read_chunk_size() <= stream.options().get_max_buffer_size());
    /// # }
    /// ```
    pub fn options(&self) -> StreamOptions {
        self.options
    }

    /// How many received bytes are buffered and not yet read.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(stream: &tcpserver::IoStream) {
    /// println!("{} bytes waiting", stream.buffered());
    /// # }
    /// ```
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The signal that the server serving this stream began a graceful shutdown; see
    /// [`ShutdownSignal`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn doc(stream: &tcpserver::IoStream) {
    /// let shutdown = stream.shutdown_signal();
    /// assert!(!shutdown.is_requested());
    /// # }
    /// ```
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

    /// Reads one chunk into the buffer; returns the byte count. Fails, leaving the buffer
    /// as it is, once the stream can deliver nothing more.
    async fn fill(&mut self) -> Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize>> {
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
                buf.extend(rb.filled());
                Poll::Ready(res.map(|()| rb.filled().len()))
            })
        } else {
            let mut rb = ReadBuf::new(&mut self.buf.spare_mut(chunk)[..chunk]);
            let res = ready!(Pin::new(&mut self.transport).poll_read(cx, &mut rb));
            let n = rb.filled().len();
            self.buf.commit(n);
            Poll::Ready(res.map(|()| n))
        };
        Poll::Ready(match ready!(read) {
            Ok(0) => {
                self.read_eof = true;
                Err(Error::closed(None))
            }
            Ok(_) if self.buf.len() > self.options.max_buffer_size => Err(self.buffer_full()),
            Ok(n) => Ok(n),
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
                    self.read_eof = true;
                    Err(Error::closed(None))
                }
                Ok(()) => Ok(rb.filled().len()),
                Err(e) => Err(self.fail(e)),
            },
        )
    }

    /// The error a read gets when no more data can arrive, if that is the case.
    fn read_closed_error(&self) -> Option<Error> {
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
        self.closed = Some(CloseReason::Io(err.clone()));
        self.transport = Transport::Closed;
        Error::closed(Some(err))
    }

    fn unsatisfiable(&mut self, delimiter: &DelimiterName<'_>, max: usize) -> Error {
        tracing::info!(
            peer = ?self.peer,
            "Unsatisfiable read, closing connection: delimiter {delimiter} not found within {max} bytes"
        );
        self.closed = Some(CloseReason::Unsatisfiable);
        self.transport = Transport::Closed;
        Error::new(ErrorKind::UnsatisfiableRead).with_message(format!(
            "unsatisfiable read: delimiter {delimiter} not found within {max} bytes"
        ))
    }

    fn buffer_full(&mut self) -> Error {
        let max = self.options.max_buffer_size;
        tracing::info!(peer = ?self.peer, "Reached maximum read buffer size ({max} bytes), closing connection");
        self.closed = Some(CloseReason::BufferFull);
        self.transport = Transport::Closed;
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
                if out.filled().len() == before && out.remaining() > 0 {
                    this.read_eof = true;
                }
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
        Pin::new(&mut this.transport)
            .poll_write(cx, buf)
            .map_err(|e| this.fail_io(e))
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
        Pin::new(&mut this.transport)
            .poll_write_vectored(cx, bufs)
            .map_err(|e| this.fail_io(e))
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

impl IoStream {
    /// `fail` for the tokio I/O traits, which must return an `io::Error` of the same kind.
    fn fail_io(&mut self, err: io::Error) -> io::Error {
        let kind = err.kind();
        io::Error::new(kind, self.fail(err))
    }
}
