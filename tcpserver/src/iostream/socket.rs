//! The socket under an [`IoStream`]: its descriptor, socket options, and the transport
//! handed back whole with whatever is still buffered.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

pub use socket2::TcpKeepalive;
use tokio::net::{TcpStream, UnixStream};
#[cfg(feature = "tls")]
use tokio_rustls::server::TlsStream;

use super::{IoStream, Transport, closed_error};
use crate::error::{Error, Result, is_reset_class};

/// The connection an [`IoStream`] was reading and writing, as [`IoStream::into_inner`]
/// hands it back.
#[derive(Debug)]
#[non_exhaustive]
pub enum Socket {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain connection.
    Unix(UnixStream),
    /// TLS over TCP, handshake complete.
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
    /// TLS over a Unix-domain connection, handshake complete.
    #[cfg(feature = "tls")]
    TlsUnix(Box<TlsStream<UnixStream>>),
    /// The client side of TLS over TCP
    /// ([`IoStream::connect_tls`](crate::IoStream::connect_tls)), handshake complete.
    #[cfg(feature = "tls")]
    TlsClient(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl IoStream {
    /// The socket's descriptor, for socket options this type does not offer (through
    /// `socket2::SockRef::from`, or `nix`). `None` once the stream is closed.
    ///
    /// An inherent method rather than an `AsFd` implementation: a closed `IoStream` has
    /// released its socket, and `AsFd` cannot say "none". The descriptor is borrowed for
    /// reading and setting options; reading or writing through it behind the stream's back
    /// (or closing it) breaks the stream's buffering and TLS state.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(stream: &tcpserver::IoStream) -> std::io::Result<()> {
    /// if let Some(fd) = stream.as_fd() {
    ///     let socket = socket2::SockRef::from(&fd);
    ///     socket.set_send_buffer_size(1 << 20)?;
    ///     println!("send buffer: {} bytes", socket.send_buffer_size()?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn as_fd(&self) -> Option<BorrowedFd<'_>> {
        match (self.transport.tcp(), self.transport.unix()) {
            (Some(tcp), _) => Some(tcp.as_fd()),
            (None, Some(unix)) => Some(unix.as_fd()),
            (None, None) => None,
        }
    }

    /// Turns TCP keep-alive probes on with `keepalive`'s timings (idle time, interval,
    /// retries; unset ones keep the system's values), or off with `None`. A no-op on
    /// Unix-domain and closed streams. Keep-alive notices a peer that vanished without a
    /// word (a host that died, a NAT that forgot the connection): the next read fails.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if the system refuses the option; errors
    /// that only say the connection is already gone are ignored, as in
    /// [`set_nodelay`](Self::set_nodelay).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tcpserver::iostream::TcpKeepalive;
    ///
    /// # fn doc(stream: &tcpserver::IoStream) -> tcpserver::Result<()> {
    /// // First probe after 60 s of silence, then every 10 s; give up after 5 unanswered.
    /// let keepalive = TcpKeepalive::new()
    ///     .with_time(Duration::from_secs(60))
    ///     .with_interval(Duration::from_secs(10))
    ///     .with_retries(5);
    /// stream.set_keepalive(Some(&keepalive))?;
    /// # Ok(()) }
    /// ```
    pub fn set_keepalive(&self, keepalive: Option<&TcpKeepalive>) -> Result<()> {
        self.tcp_option(|socket| match keepalive {
            Some(keepalive) => socket.set_tcp_keepalive(keepalive),
            None => socket.set_keepalive(false),
        })
    }

    /// Sets `SO_LINGER`: with `Some(timeout)`, closing the socket waits up to `timeout`
    /// for unsent data to go out, and `Some(Duration::ZERO)` makes the close a reset
    /// (`RST`, unsent data dropped); `None` restores the default (close at once, the
    /// system sends the rest in the background). A no-op on Unix-domain and closed streams.
    ///
    /// # Errors
    ///
    /// As [`set_keepalive`](Self::set_keepalive).
    pub fn set_linger(&self, linger: Option<Duration>) -> Result<()> {
        self.tcp_option(|socket| socket.set_linger(linger))
    }

    /// Hands back the connection and the bytes received but not yet read, in that order
    /// (hyper's `into_parts`). What was buffered is the start of what the peer sent next:
    /// a protocol handing the connection to other code must pass both on.
    ///
    /// The stream's [close signal](Self::close_signal) fires: this `IoStream` is gone,
    /// although the connection lives on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::StreamClosed`](crate::ErrorKind::StreamClosed) if the stream is closed
    /// ([why](IoStream#errors)); the buffered bytes are then lost with it.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use tcpserver::iostream::Socket;
    ///
    /// # async fn doc(stream: tcpserver::IoStream) -> tcpserver::Result<()> {
    /// let (socket, buffered) = stream.into_inner()?;
    /// if let Socket::Tcp(tcp) = socket {
    ///     // `buffered` came first: hand both to the next owner.
    ///     # drop((tcp, buffered));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn into_inner(mut self) -> Result<(Socket, Vec<u8>)> {
        if let Some(reason) = &self.closed {
            return Err(closed_error(reason));
        }
        let buffered = self.buf.take(self.buf.len());
        let socket = match std::mem::replace(&mut self.transport, Transport::Closed) {
            Transport::Tcp(s) => Socket::Tcp(s),
            Transport::Unix(s) => Socket::Unix(s),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => Socket::Tls(s),
            #[cfg(feature = "tls")]
            Transport::TlsUnix(s) => Socket::TlsUnix(s),
            #[cfg(feature = "tls")]
            Transport::TlsClient(s) => Socket::TlsClient(s),
            Transport::Closed => return Err(Error::closed(None)),
        };
        Ok((socket, buffered))
    }

    /// Sets a TCP socket option, ignoring errors that only say the peer is gone.
    pub(super) fn tcp_option(
        &self,
        set: impl FnOnce(socket2::SockRef<'_>) -> io::Result<()>,
    ) -> Result<()> {
        let Some(tcp) = self.transport.tcp() else {
            return Ok(());
        };
        match set(socket2::SockRef::from(tcp)) {
            Err(e) if !is_reset_class(&e) && e.kind() != io::ErrorKind::InvalidInput => {
                Err(e.into())
            }
            _ => Ok(()),
        }
    }
}
