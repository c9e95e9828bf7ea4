//! The byte pipe under an [`IoStream`](super::IoStream): TCP or Unix, plain or TLS.
//!
//! An enum rather than a trait object, so the per-read dispatch is one predictable branch.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// The connection an `IoStream` reads from and writes to.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// Closed locally: the socket has been dropped.
    Closed,
}

macro_rules! dispatch {
    ($self:ident, $io:ident => $call:expr, closed => $closed:expr) => {
        match $self {
            Transport::Tcp($io) => $call,
            Transport::Unix($io) => $call,
            Transport::Closed => $closed,
        }
    };
}

fn not_connected() -> io::Error {
    io::Error::from(io::ErrorKind::NotConnected)
}

impl Transport {
    pub(crate) fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Transport::Tcp(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn unix(&self) -> Option<&UnixStream> {
        match self {
            Transport::Unix(s) => Some(s),
            _ => None,
        }
    }
}

impl AsyncRead for Transport {
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
