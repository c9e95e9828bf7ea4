//! The [`StreamHandler`] trait and what a handler may return.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use crate::error::{Chain, Error, ErrorKind};
use crate::iostream::IoStream;
use crate::metrics::ConnectionEnd;

/// Serves one connection (Tornado's `TCPServer.handle_stream`).
///
/// Implemented for every `Fn(IoStream, SocketAddr) -> impl Future` (so an `async fn` or a
/// closure returning an async block is a handler) and for your own types. The future may
/// return `()` or `Result<(), E>` for any displayable `E`; see [`HandlerResult`].
///
/// A Unix-domain peer has no IP address: its handler receives the unspecified address
/// `0.0.0.0:0` (Tornado's HTTP server uses `0.0.0.0` for such peers too).
///
/// # Examples
///
/// An async function:
///
/// ```
/// use std::net::SocketAddr;
/// use tcpserver::{IoStream, StreamHandler};
///
/// async fn hello(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     stream.write(b"hello\n").await
/// }
/// fn assert_handler(_: impl StreamHandler) {}
/// assert_handler(hello);
/// ```
///
/// A type with state:
///
/// ```
/// use std::net::SocketAddr;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use tcpserver::{IoStream, StreamHandler};
///
/// struct Counter(AtomicU64);
///
/// impl StreamHandler for Counter {
///     type Output = tcpserver::Result<()>;
///
///     async fn handle_stream(&self, mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///         let n = self.0.fetch_add(1, Ordering::Relaxed);
///         stream.write(format!("you are visitor {n}\n").as_bytes()).await
///     }
/// }
/// ```
pub trait StreamHandler: Send + Sync + 'static {
    /// What the handler returns: `()` or `Result<(), E>` (see [`HandlerResult`]).
    type Output: HandlerResult;

    /// Serves one connection until it is done. Returning (or panicking) ends the
    /// connection; an `Err` or a panic is logged with the peer address.
    fn handle_stream(
        &self,
        stream: IoStream,
        address: SocketAddr,
    ) -> impl Future<Output = Self::Output> + Send;
}

impl<F, Fut> StreamHandler for F
where
    F: Fn(IoStream, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: HandlerResult,
{
    type Output = Fut::Output;

    fn handle_stream(
        &self,
        stream: IoStream,
        address: SocketAddr,
    ) -> impl Future<Output = Self::Output> + Send {
        self(stream, address)
    }
}

/// What a handler may return: `()` or `Result<(), E>` with `E: Display`.
///
/// An `Err` is logged at error level with the peer address, except when it only says that
/// the peer went away (a closed stream, a connection reset), which is normal for a
/// protocol that reads until the client leaves and is logged at debug level; a read over
/// `max_bytes` or `max_buffer_size` is the client's fault and is logged at info level.
/// When `E` is a [`tcpserver::Error`](crate::Error), an [`io::Error`](std::io::Error) or a
/// `Box<dyn Error + Send + Sync>`, the line shows the error and its causes, `stream is
/// closed: Connection reset by peer (os error 104)`; any other `E` shows its `Display`.
///
/// # Examples
///
/// ```
/// use tcpserver::HandlerResult;
/// fn assert_result(_: impl HandlerResult) {}
/// assert_result(());
/// assert_result(Ok::<(), std::io::Error>(()));
/// assert_result(Err::<(), String>("bad request".into()));
/// ```
pub trait HandlerResult: Send {
    #[doc(hidden)]
    fn into_failure(self) -> Option<HandlerFailure>;
}

impl HandlerResult for () {
    fn into_failure(self) -> Option<HandlerFailure> {
        None
    }
}

impl<E: fmt::Display + Send + 'static> HandlerResult for Result<(), E> {
    fn into_failure(self) -> Option<HandlerFailure> {
        let err = self.err()?;
        let (severity, reason) = classify(&err);
        Some(HandlerFailure {
            message: describe(&err),
            severity,
            reason,
        })
    }
}

/// The error for the log: with its causes on one line (`stream is closed: Connection reset
/// by peer`) when it is an error type we can see as a `std::error::Error`.
fn describe<E: fmt::Display + 'static>(err: &E) -> String {
    let any: &dyn Any = err;
    let error: Option<&(dyn StdError + 'static)> = if let Some(e) = any.downcast_ref::<Error>() {
        Some(e)
    } else if let Some(e) = any.downcast_ref::<std::io::Error>() {
        Some(e)
    } else if let Some(e) = any.downcast_ref::<Box<dyn StdError + Send + Sync>>() {
        Some(&**e)
    } else if let Some(e) = any.downcast_ref::<Box<dyn StdError + Send>>() {
        Some(&**e)
    } else {
        None
    };
    match error {
        Some(e) => Chain(e).to_string(),
        None => err.to_string(),
    }
}

/// How bad the error is, and why the connection ended, for the metrics.
fn classify(err: &dyn Any) -> (Severity, ConnectionEnd) {
    if let Some(e) = err.downcast_ref::<Error>() {
        if e.is_peer_gone() {
            return (Severity::PeerGone, ConnectionEnd::PeerClosed);
        }
        return match e.kind() {
            ErrorKind::UnsatisfiableRead | ErrorKind::BufferFull => {
                (Severity::BadPeer, ConnectionEnd::BufferFull)
            }
            ErrorKind::Timeout => (Severity::BadPeer, ConnectionEnd::Timeout),
            _ => (Severity::Error, ConnectionEnd::HandlerError),
        };
    }
    if let Some(e) = err.downcast_ref::<std::io::Error>()
        && crate::error::is_reset_class(e)
    {
        return (Severity::PeerGone, ConnectionEnd::PeerClosed);
    }
    #[cfg(feature = "codec")]
    if let Some(e) = err.downcast_ref::<crate::codec::FramesError>() {
        use crate::codec::{FramesError, LinesCodecError};
        return match e {
            FramesError::Io(io) => classify(io),
            FramesError::TooLarge(_) => (Severity::BadPeer, ConnectionEnd::BufferFull),
            FramesError::Codec(e)
                if matches!(
                    e.downcast_ref::<LinesCodecError>(),
                    Some(LinesCodecError::MaxLineLengthExceeded)
                ) =>
            {
                (Severity::BadPeer, ConnectionEnd::BufferFull)
            }
            // Bytes the protocol refuses: the client's fault.
            FramesError::Codec(_) => (Severity::BadPeer, ConnectionEnd::HandlerError),
            FramesError::Handler(_) => (Severity::Error, ConnectionEnd::HandlerError),
        };
    }
    (Severity::Error, ConnectionEnd::HandlerError)
}

/// How a connection's handler failed, for the log.
#[doc(hidden)]
#[derive(Debug)]
pub struct HandlerFailure {
    pub(crate) message: String,
    pub(crate) severity: Severity,
    pub(crate) reason: ConnectionEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    /// The peer left; nothing went wrong on our side.
    PeerGone,
    /// The peer sent something we refuse (too long, too slow).
    BadPeer,
    /// A real error in the handler.
    Error,
}

impl HandlerFailure {
    pub(crate) fn log(&self, peer: SocketAddr) {
        let message = &self.message;
        match self.severity {
            Severity::PeerGone => tracing::debug!("connection from {peer} closed: {message}"),
            Severity::BadPeer => tracing::info!("closing connection from {peer}: {message}"),
            Severity::Error => tracing::error!("error in connection handler for {peer}: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Arc;

    use super::*;

    fn failure<E: fmt::Display + Send + 'static>(err: E) -> HandlerFailure {
        Err::<(), E>(err).into_failure().expect("an error")
    }

    #[test]
    fn the_log_line_has_the_cause() {
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "Connection reset by peer");
        let closed = Error::closed(Some(Arc::new(reset)));
        let f = failure(closed);
        assert_eq!(f.message, "stream is closed: Connection reset by peer");
        assert_eq!(f.severity, Severity::PeerGone);

        // The same error through tokio's I/O traits and a boxed error.
        let eio = Arc::new(io::Error::other("Input/output error"));
        let as_io = io::Error::from(Error::closed(Some(eio)));
        let f = failure(as_io);
        assert_eq!(f.message, "stream is closed: Input/output error");
        assert_eq!(f.severity, Severity::Error);
        let boxed: Box<dyn StdError + Send + Sync> =
            Box::new(Error::new(ErrorKind::Io).with_source(io::Error::other("disk full")));
        assert_eq!(failure(boxed).message, "I/O error: disk full");

        // Anything else is shown as it displays.
        let f = failure("bad request");
        assert_eq!(f.message, "bad request");
        assert_eq!(f.severity, Severity::Error);
    }
}
