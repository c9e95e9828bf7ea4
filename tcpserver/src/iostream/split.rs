//! An [`IoStream`] split in two: a read half with every read method and a write half, each
//! usable from its own task (Tornado reads and writes one stream at the same time; Rust
//! needs two handles for that).
//!
//! Why a lock rather than tokio's lock-free halves: the stream's state (its read buffer,
//! why it closed, TLS records) is shared by both directions, and a TLS stream cannot be
//! split below rustls anyway. The lock is held for one poll at a time, never across an
//! `await`, so a write waiting for a slow reader does not stall reading, and the other
//! way round. Uncontended, it costs two atomic operations per poll.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

#[cfg(feature = "regex")]
use regex::bytes::Regex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(feature = "regex")]
use super::RegexSearch;
use super::{CloseSignal, IoStream, ShutdownSignal, StreamOptions, TcpKeepalive};
use crate::error::{Error, Result};

/// The stream both halves share: owned ([`into_split`](IoStream::into_split)) or borrowed
/// ([`split`](IoStream::split)).
trait Whole: Send {
    fn stream(&mut self) -> &mut IoStream;
}

impl Whole for IoStream {
    fn stream(&mut self) -> &mut IoStream {
        self
    }
}

impl Whole for &mut IoStream {
    fn stream(&mut self) -> &mut IoStream {
        self
    }
}

/// One half's handle on the shared stream.
struct Shared<S>(Arc<Mutex<S>>);

impl<S: Whole> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, S> {
        // A panic inside a poll leaves the stream as consistent as any dropped future does.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with<R>(&self, f: impl FnOnce(&mut IoStream) -> R) -> R {
        f(self.lock().stream())
    }
}

impl IoStream {
    /// Splits the stream into a read half and a write half that borrow it, to read and
    /// write at the same time (in two branches of a `select!`, or in two tasks of a
    /// scope). [`into_split`](Self::into_split) gives halves that own the stream.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn doc(stream: &mut tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let (mut reader, mut writer) = stream.split();
    /// // Send a large file while the peer's commands keep being read.
    /// let upload = async { writer.write(&vec![b'x'; 1 << 20]).await };
    /// let commands = async { reader.read_until(b"\n", Some(1024)).await };
    /// let (sent, command) = tokio::join!(upload, commands);
    /// # let _ = (sent?, command?); Ok(()) }
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        let shared = Arc::new(Mutex::new(self));
        (ReadHalf(Shared(shared.clone())), WriteHalf(Shared(shared)))
    }

    /// Splits the stream into halves that own it, each movable to its own task; they
    /// [`reunite`](OwnedReadHalf::reunite) into the stream. The stream closes when both
    /// halves are dropped.
    ///
    /// # Examples
    ///
    /// A chat connection: one task forwards what others say while this one reads what the
    /// client says.
    ///
    /// ```no_run
    /// use tokio::sync::broadcast;
    ///
    /// # async fn doc(stream: tcpserver::IoStream, room: broadcast::Sender<Vec<u8>>) -> tcpserver::Result<()> {
    /// let (mut reader, mut writer) = stream.into_split();
    /// let mut heard = room.subscribe();
    /// let forward = tokio::spawn(async move {
    ///     while let Ok(line) = heard.recv().await {
    ///         writer.write(&line).await?;
    ///     }
    ///     Ok::<_, tcpserver::Error>(())
    /// });
    /// while let Ok(line) = reader.read_until(b"\n", Some(4096)).await {
    ///     let _ = room.send(line);
    /// }
    /// forward.abort();
    /// # Ok(()) }
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let shared = Arc::new(Mutex::new(self));
        (
            OwnedReadHalf(Shared(shared.clone())),
            OwnedWriteHalf(Shared(shared)),
        )
    }
}

/// The methods both halves have.
macro_rules! common_methods {
    () => {
        /// True once the stream is closed; see [`IoStream::closed`].
        pub fn closed(&self) -> bool {
            self.0.with(|s| s.closed())
        }

        /// The stream's close signal; see [`IoStream::close_signal`].
        pub fn close_signal(&self) -> CloseSignal {
            self.0.with(|s| s.close_signal())
        }

        /// The server's shutdown signal; see [`IoStream::shutdown_signal`].
        pub fn shutdown_signal(&self) -> ShutdownSignal {
            self.0.with(|s| s.shutdown_signal())
        }

        /// The peer's address; see [`IoStream::peer_addr`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::peer_addr`].
        pub fn peer_addr(&self) -> io::Result<SocketAddr> {
            self.0.with(|s| s.peer_addr())
        }

        /// Sets `TCP_NODELAY`; see [`IoStream::set_nodelay`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::set_nodelay`].
        pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
            self.0.with(|s| s.set_nodelay(nodelay))
        }

        /// Sets TCP keep-alive; see [`IoStream::set_keepalive`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::set_keepalive`].
        pub fn set_keepalive(&self, keepalive: Option<&TcpKeepalive>) -> Result<()> {
            self.0.with(|s| s.set_keepalive(keepalive))
        }

        /// Closes the whole stream, both halves; see [`IoStream::close`].
        pub fn close(&self) {
            self.0.with(IoStream::close)
        }
    };
}

/// The read methods of a read half: [`IoStream`]'s, one poll at a time.
macro_rules! read_methods {
    () => {
        common_methods!();

        /// Reads up to and including `delimiter`; see [`IoStream::read_until`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::read_until`].
        ///
        /// # Cancel safety
        ///
        /// This method is cancel-safe, as [`IoStream::read_until`].
        pub async fn read_until(
            &mut self,
            delimiter: &[u8],
            max_bytes: Option<usize>,
        ) -> Result<Vec<u8>> {
            let mut scanned = 0;
            poll_fn(|cx| {
                self.0
                    .with(|s| s.poll_read_until(cx, delimiter, max_bytes, &mut scanned))
            })
            .await
        }

        /// Appends a line to `out`; see [`IoStream::read_until_into`] (on a half, the
        /// line passes through the stream's buffer).
        ///
        /// # Errors
        ///
        /// As [`IoStream::read_until`]; `out` is then unchanged.
        ///
        /// # Cancel safety
        ///
        /// This method is cancel-safe, as [`IoStream::read_until_into`].
        pub async fn read_until_into(
            &mut self,
            delimiter: &[u8],
            max_bytes: Option<usize>,
            out: &mut Vec<u8>,
        ) -> Result<usize> {
            let line = self.read_until(delimiter, max_bytes).await?;
            out.extend_from_slice(&line);
            Ok(line.len())
        }

        /// Reads up to and including the end of a match of `regex`; see
        /// [`IoStream::read_until_regex`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::read_until_regex`].
        ///
        /// # Cancel safety
        ///
        /// This method is cancel-safe, as [`IoStream::read_until_regex`].
        #[cfg(feature = "regex")]
        pub async fn read_until_regex(
            &mut self,
            regex: &Regex,
            max_bytes: Option<usize>,
        ) -> Result<Vec<u8>> {
            let mut search = RegexSearch::default();
            poll_fn(|cx| {
                self.0
                    .with(|s| s.poll_read_until_regex(cx, regex, max_bytes, &mut search))
            })
            .await
        }

        /// Reads `num_bytes` bytes, or with `partial` at least one; see
        /// [`IoStream::read_bytes`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::read_bytes`].
        ///
        /// # Cancel safety
        ///
        /// This method is cancel-safe, as [`IoStream::read_bytes`].
        pub async fn read_bytes(&mut self, num_bytes: usize, partial: bool) -> Result<Vec<u8>> {
            poll_fn(|cx| self.0.with(|s| s.poll_read_bytes(cx, num_bytes, partial))).await
        }

        /// Fills `dst`, or with `partial` part of it; see [`IoStream::read_into`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::read_into`].
        ///
        /// # Cancel safety
        ///
        /// As [`IoStream::read_into`]: cancel-safe with `partial` only.
        pub async fn read_into(&mut self, dst: &mut [u8], partial: bool) -> Result<usize> {
            let mut filled = None;
            poll_fn(|cx| {
                self.0
                    .with(|s| s.poll_read_into(cx, dst, partial, &mut filled))
            })
            .await
        }

        /// Reads everything until the peer closes; see [`IoStream::read_until_close`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::read_until_close`].
        ///
        /// # Cancel safety
        ///
        /// This method is cancel-safe, as [`IoStream::read_until_close`].
        pub async fn read_until_close(&mut self) -> Result<Vec<u8>> {
            poll_fn(|cx| self.0.with(|s| s.poll_read_until_close(cx))).await
        }

        /// Waits until the peer has gone, keeping what it sends; see
        /// [`IoStream::peer_closed`].
        ///
        /// # Cancel safety
        ///
        /// This method is cancel-safe, as [`IoStream::peer_closed`].
        pub async fn peer_closed(&mut self) -> Error {
            poll_fn(|cx| self.0.with(|s| s.poll_peer_closed(cx))).await
        }

        /// How many received bytes are buffered and not yet read.
        pub fn buffered(&self) -> usize {
            self.0.with(|s| s.buffered())
        }

        /// The buffer limits the stream applies.
        pub fn options(&self) -> StreamOptions {
            self.0.with(|s| s.options())
        }
    };
}

/// The write methods of a write half.
macro_rules! write_methods {
    () => {
        common_methods!();

        /// Writes all of `data`; see [`IoStream::write`].
        ///
        /// # Errors
        ///
        /// As [`IoStream::write`].
        ///
        /// # Cancel safety
        ///
        /// Not cancel-safe, as [`IoStream::write`]: a dropped write may have sent part of
        /// its data.
        pub async fn write(&mut self, data: &[u8]) -> Result<()> {
            let mut written = 0;
            poll_fn(|cx| self.0.with(|s| s.poll_write_all(cx, data, &mut written))).await
        }
    };
}

/// `AsyncRead` for a read half, `AsyncWrite` for a write half: the stream's, per poll.
macro_rules! io_traits {
    (read $half:ty) => {
        impl AsyncRead for $half {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                self.0.with(|s| Pin::new(s).poll_read(cx, buf))
            }
        }
    };
    (write $half:ty) => {
        impl AsyncWrite for $half {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.0.with(|s| Pin::new(s).poll_write(cx, buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[io::IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.0.with(|s| Pin::new(s).poll_write_vectored(cx, bufs))
            }

            fn is_write_vectored(&self) -> bool {
                self.0.with(|s| s.is_write_vectored())
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.0.with(|s| Pin::new(s).poll_flush(cx))
            }

            /// Shuts the sending side down (a TLS `close_notify`, then a TCP FIN); the
            /// read half keeps reading.
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.0.with(|s| Pin::new(s).poll_shutdown(cx))
            }
        }
    };
}

/// The read half of a borrowed [`split`](IoStream::split): every read method of
/// [`IoStream`], with its `max_bytes` and `max_buffer_size` rules, and [`AsyncRead`].
pub struct ReadHalf<'a>(Shared<&'a mut IoStream>);

/// The write half of a borrowed [`split`](IoStream::split): [`write`](Self::write) and
/// [`AsyncWrite`].
pub struct WriteHalf<'a>(Shared<&'a mut IoStream>);

/// The read half of [`into_split`](IoStream::into_split), for a task of its own: every read
/// method of [`IoStream`], with its `max_bytes` and `max_buffer_size` rules, and
/// [`AsyncRead`].
pub struct OwnedReadHalf(Shared<IoStream>);

/// The write half of [`into_split`](IoStream::into_split), for a task of its own:
/// [`write`](Self::write) and [`AsyncWrite`].
pub struct OwnedWriteHalf(Shared<IoStream>);

impl ReadHalf<'_> {
    read_methods!();
}

impl WriteHalf<'_> {
    write_methods!();
}

impl OwnedReadHalf {
    read_methods!();

    /// Puts the stream back together from its two halves.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`], holding both halves, if they are not halves of the same stream.
    pub fn reunite(self, other: OwnedWriteHalf) -> std::result::Result<IoStream, ReuniteError> {
        if !Arc::ptr_eq(&self.0.0, &other.0.0) {
            return Err(ReuniteError(self, other));
        }
        drop(other);
        let mutex = Arc::try_unwrap(self.0.0)
            .unwrap_or_else(|_| unreachable!("the two halves held the only references"));
        Ok(mutex.into_inner().unwrap_or_else(PoisonError::into_inner))
    }
}

impl OwnedWriteHalf {
    write_methods!();

    /// Puts the stream back together; see [`OwnedReadHalf::reunite`].
    ///
    /// # Errors
    ///
    /// [`ReuniteError`] if the halves are not halves of the same stream.
    pub fn reunite(self, other: OwnedReadHalf) -> std::result::Result<IoStream, ReuniteError> {
        other.reunite(self)
    }
}

io_traits!(read ReadHalf<'_>);
io_traits!(write WriteHalf<'_>);
io_traits!(read OwnedReadHalf);
io_traits!(write OwnedWriteHalf);

/// Two halves given to [`reunite`](OwnedReadHalf::reunite) that are not halves of the
/// same stream; both are handed back.
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same stream")
    }
}

impl fmt::Debug for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReuniteError").finish_non_exhaustive()
    }
}

impl std::error::Error for ReuniteError {}

macro_rules! debug_half {
    ($($half:ty => $name:literal),*) => {$(
        impl fmt::Debug for $half {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple($name).field(&*self.0.lock().stream()).finish()
            }
        }
    )*};
}

debug_half!(
    ReadHalf<'_> => "ReadHalf",
    WriteHalf<'_> => "WriteHalf",
    OwnedReadHalf => "OwnedReadHalf",
    OwnedWriteHalf => "OwnedWriteHalf"
);
