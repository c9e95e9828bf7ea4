//! The byte pipe under an [`IoStream`](super::IoStream): TCP or Unix, plain or TLS.
//!
//! An enum rather than a trait object, so the per-read dispatch is one predictable branch.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
#[cfg(feature = "tls")]
use tokio_rustls::{client, server::TlsStream};

/// The connection an `IoStream` reads from and writes to.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// TLS over TCP, handshake complete. Boxed: a rustls connection is large, and plain
    /// streams should not pay for its size.
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
    /// TLS over a Unix-domain socket, handshake complete.
    #[cfg(feature = "tls")]
    TlsUnix(Box<TlsStream<UnixStream>>),
    /// The client side of TLS over TCP, handshake complete.
    #[cfg(feature = "tls")]
    TlsClient(Box<client::TlsStream<TcpStream>>),
    /// Closed locally: the socket has been dropped.
    Closed,
}

macro_rules! dispatch {
    ($self:ident, $io:ident => $call:expr, closed => $closed:expr) => {
        match $self {
            Transport::Tcp($io) => $call,
            Transport::Unix($io) => $call,
            #[cfg(feature = "tls")]
            Transport::Tls($io) => $call,
            #[cfg(feature = "tls")]
            Transport::TlsUnix($io) => $call,
            #[cfg(feature = "tls")]
            Transport::TlsClient($io) => $call,
            Transport::Closed => $closed,
        }
    };
}

fn not_connected() -> io::Error {
    io::Error::from(io::ErrorKind::NotConnected)
}

impl Transport {
    /// True if written bytes may wait in a user-space buffer until flushed (TLS records);
    /// a plain socket's writes are in the kernel once written.
    pub(crate) fn buffers_writes(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(_) | Transport::TlsUnix(_) | Transport::TlsClient(_) => true,
            _ => false,
        }
    }

    /// The TCP socket, under TLS or not.
    pub(crate) fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Transport::Tcp(s) => Some(s),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Some(s.get_ref().0),
            #[cfg(feature = "tls")]
            Transport::TlsClient(s) => Some(s.get_ref().0),
            _ => None,
        }
    }

    /// The Unix-domain socket, under TLS or not.
    pub(crate) fn unix(&self) -> Option<&UnixStream> {
        match self {
            Transport::Unix(s) => Some(s),
            #[cfg(feature = "tls")]
            Transport::TlsUnix(s) => Some(s.get_ref().0),
            _ => None,
        }
    }

    /// Queues a TLS `close_notify` alert and writes whatever TLS data is pending without
    /// waiting: what the socket does not take at once is dropped. Nothing for plain
    /// streams.
    pub(crate) fn send_close_notify(&mut self) {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(s) => {
                let (tcp, conn) = s.get_mut();
                conn.send_close_notify();
                write_pending(conn, |buf| tcp.try_write(buf));
            }
            #[cfg(feature = "tls")]
            Transport::TlsUnix(s) => {
                let (unix, conn) = s.get_mut();
                conn.send_close_notify();
                write_pending(conn, |buf| unix.try_write(buf));
            }
            #[cfg(feature = "tls")]
            Transport::TlsClient(s) => {
                let (tcp, conn) = s.get_mut();
                conn.send_close_notify();
                write_pending(conn, |buf| tcp.try_write(buf));
            }
            Transport::Tcp(_) | Transport::Unix(_) | Transport::Closed => {}
        }
    }
}

/// Hands rustls's pending records to `try_write` until it would block or fails.
#[cfg(feature = "tls")]
fn write_pending<Data>(
    conn: &mut rustls::ConnectionCommon<Data>,
    try_write: impl FnMut(&[u8]) -> io::Result<usize>,
) {
    /// `io::Write` over a non-blocking `try_write`.
    struct TryWrite<F>(F);

    impl<F: FnMut(&[u8]) -> io::Result<usize>> io::Write for TryWrite<F> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            (self.0)(buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    let mut out = TryWrite(try_write);
    while conn.wants_write() {
        match conn.write_tls(&mut out) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

impl AsyncRead for Transport {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        dispatch!(this, io => Pin::new(io).poll_read(cx, buf), closed => Poll::Ready(Err(not_connected())))
    }
}

impl AsyncWrite for Transport {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        dispatch!(this, io => Pin::new(io).poll_write(cx, buf), closed => Poll::Ready(Err(not_connected())))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        dispatch!(this, io => Pin::new(io).poll_write_vectored(cx, bufs), closed => Poll::Ready(Err(not_connected())))
    }

    fn is_write_vectored(&self) -> bool {
        dispatch!(self, io => io.is_write_vectored(), closed => false)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        dispatch!(this, io => Pin::new(io).poll_flush(cx), closed => Poll::Ready(Ok(())))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        dispatch!(this, io => Pin::new(io).poll_shutdown(cx), closed => Poll::Ready(Ok(())))
    }
}
