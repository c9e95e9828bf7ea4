//! The server side of a TLS handshake, run in the connection's own task.
//!
//! Three defences, each against a different client: the deadline (one that never
//! finishes), the cap on handshakes in progress (a burst of expensive handshakes), and
//! waiting for the first byte before taking a slot under the cap (one that connects and
//! never speaks: it costs a socket until the deadline, but no slot, so it cannot keep a
//! real client from being served).
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use nix::sys::socket::MsgFlags;
use tcpserver_options::units::format_duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::{TlsConfig, TlsInfo};
use crate::error::is_reset_class;
use crate::metrics;

/// Runs the handshakes of one server.
#[derive(Debug)]
pub(crate) struct Handshaker {
    config: TlsConfig,
    timeout: Duration,
    /// `None`: no cap.
    slots: Option<Semaphore>,
}

impl Handshaker {
    pub(crate) fn new(config: TlsConfig, timeout: Duration, max_handshakes: Option<usize>) -> Self {
        Handshaker {
            config,
            timeout,
            slots: max_handshakes.map(|n| Semaphore::new(n.min(Semaphore::MAX_PERMITS))),
        }
    }

    pub(crate) fn config(&self) -> &TlsConfig {
        &self.config
    }

    /// Completes the handshake on a fresh connection before its deadline. On failure the
    /// connection is closed (dropped) and the failure logged once, at debug level when the
    /// client merely went away or was too slow, at info level when it spoke badly (plain
    /// text, a rejected certificate, no shared protocol).
    ///
    /// `early` holds bytes of the handshake already read from `io` (after a PROXY header,
    /// in the same packet); they are handed to rustls before anything more is read.
    pub(crate) async fn accept<IO: FirstBytes>(
        &self,
        io: IO,
        early: &[u8],
        peer: Option<SocketAddr>,
    ) -> Option<(TlsStream<IO>, TlsInfo)> {
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(self.timeout, self.handshake(io, early)).await;
        let result = match &outcome {
            Ok(Ok(_)) => metrics::Handshake::Ok,
            Ok(Err(_)) => metrics::Handshake::Failed,
            Err(_) => metrics::Handshake::Timeout,
        };
        metrics::handshake(result, started.elapsed());
        match outcome {
            Ok(Ok(done)) => Some(done),
            Ok(Err(err)) => {
                log_failure(&err, Peer(peer));
                None
            }
            Err(_elapsed) => {
                tracing::debug!(
                    "TLS handshake with {} timed out after {}; closing",
                    Peer(peer),
                    format_duration(self.timeout)
                );
                None
            }
        }
    }

    async fn handshake<IO: FirstBytes>(
        &self,
        io: IO,
        early: &[u8],
    ) -> io::Result<(TlsStream<IO>, TlsInfo)> {
        // A client takes a slot under the cap only once it has spoken.
        if early.is_empty() {
            io.first_bytes().await?;
        }
        // Held until the handshake ends; queued clients wait here under their deadline.
        let _slot = match &self.slots {
            Some(slots) => Some(slots.acquire().await.map_err(io::Error::other)?),
            None => None,
        };
        server_handshake(&self.config, io, early).await
    }
}

/// The server side of a handshake over `io`, with no deadline or cap (the caller's), where
/// `early` holds bytes of the handshake already read from `io`: after a PROXY header, or
/// behind a STARTTLS command.
pub(crate) async fn server_handshake<IO: AsyncRead + AsyncWrite + Unpin>(
    config: &TlsConfig,
    io: IO,
    early: &[u8],
) -> io::Result<(TlsStream<IO>, TlsInfo)> {
    let acceptor = TlsAcceptor::from(config.server_config());
    let tls = if early.is_empty() {
        acceptor.accept(io).await?
    } else {
        // Fed and processed before the handshake loop starts, which otherwise would wait
        // on the socket for a ClientHello that already arrived.
        let mut failed = None;
        let accept = acceptor.accept_with(io, |conn| {
            let mut early = early;
            while !early.is_empty() {
                match conn.read_tls(&mut early) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
                if let Err(e) = conn.process_new_packets() {
                    failed = Some(io::Error::new(io::ErrorKind::InvalidData, e));
                    break;
                }
            }
        });
        // Bytes that are not TLS: the handshake would wait for more from a client that
        // is done talking. Fail now.
        if let Some(e) = failed {
            return Err(e);
        }
        accept.await?
    };
    let (_, conn) = tls.get_ref();
    let info = TlsInfo::from_state(conn, conn.server_name());
    Ok((tls, info))
}

/// A socket a handshake can run over: it can wait for the client's first bytes without
/// consuming them.
pub(crate) trait FirstBytes: AsyncRead + AsyncWrite + Unpin {
    /// Waits until a byte or the end of the stream can be read, without reading it.
    async fn first_bytes(&self) -> io::Result<()>;
}

impl FirstBytes for tokio::net::TcpStream {
    async fn first_bytes(&self) -> io::Result<()> {
        // Readiness alone can be spurious; a peek that finds a byte (or the end of the
        // stream) cannot.
        self.peek(&mut [0; 1]).await.map(drop)
    }
}

impl FirstBytes for tokio::net::UnixStream {
    async fn first_bytes(&self) -> io::Result<()> {
        unix_first_bytes(self).await
    }
}

/// `peek` for a Unix-domain stream, which tokio lacks: waits until a byte or the end of
/// the stream can be read, without reading it.
async fn unix_first_bytes(unix: &tokio::net::UnixStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        unix.readable().await?;
        let peeked = unix.try_io(tokio::io::Interest::READABLE, || {
            nix::sys::socket::recv(unix.as_raw_fd(), &mut [0; 1], MsgFlags::MSG_PEEK)
                .map_err(io::Error::from)
        });
        match peeked {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

fn log_failure(err: &io::Error, peer: Peer) {
    let tls_error = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls_error {
        Some(e) => tracing::info!("TLS handshake with {peer} failed: {}", describe(e)),
        None if is_reset_class(err) => {
            tracing::debug!("TLS handshake with {peer} ended: the client closed the connection")
        }
        None => tracing::debug!("TLS handshake with {peer} failed: {err}"),
    }
}

fn describe(err: &rustls::Error) -> String {
    use rustls::{Error, InvalidMessage};
    match err {
        Error::InvalidMessage(InvalidMessage::InvalidContentType)
        | Error::InvalidMessage(InvalidMessage::UnknownProtocolVersion) => {
            format!("{err} (the client does not speak TLS: plain text sent to a TLS port?)")
        }
        _ => err.to_string(),
    }
}

/// A peer for log lines: its address, or "a Unix-socket client".
struct Peer(Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("a Unix-socket client"),
        }
    }
}
