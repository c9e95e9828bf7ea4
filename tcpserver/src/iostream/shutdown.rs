//! [`ShutdownSignal`]: how a connection learns that the server began a graceful shutdown
//! (on a [`Latch`], whose module says why not tokio-util's `CancellationToken`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::latch::{Latch, Wait};

/// Resolves when the server serving this connection begins a graceful
/// [`shutdown`](crate::TcpServer::shutdown): the listeners are closed and the connection
/// has until the deadline to finish. A protocol with natural boundaries uses it to stop at
/// the next one (the HTTP server closes idle keep-alive connections at once and answers
/// in-flight requests with `Connection: close`).
///
/// Every connection has its own signal, so waiting on it adds no shared lock to the
/// connection's hot path. A stream not served by a [`TcpServer`](crate::TcpServer) has a
/// signal that never fires.
///
/// # Examples
///
/// An echo handler that says goodbye instead of waiting for an idle client until the
/// shutdown deadline:
///
/// ```
/// use std::net::SocketAddr;
/// use tcpserver::IoStream;
///
/// async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     let shutdown = stream.shutdown_signal();
///     loop {
///         let line = tokio::select! {
///             line = stream.read_until(b"\n", None) => line?,
///             () = shutdown.requested() => return stream.write(b"server going away\n").await,
///         };
///         stream.write(&line).await?;
///     }
/// }
/// ```
#[derive(Clone, Default)]
pub struct ShutdownSignal {
    flag: Option<Arc<Latch>>,
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("requested", &self.is_requested())
            .finish()
    }
}

impl ShutdownSignal {
    /// A signal that fires when [`trigger`](Self::trigger) is called.
    pub(crate) fn new() -> Self {
        ShutdownSignal {
            flag: Some(Arc::default()),
        }
    }

    /// Fires the signal: every waiter wakes, later waits return at once.
    pub(crate) fn trigger(&self) {
        if let Some(flag) = &self.flag {
            flag.set();
        }
    }

    /// True once the shutdown has begun; it then stays true. Always false for the signal of
    /// a stream not served by a [`TcpServer`](crate::TcpServer).
    pub fn is_requested(&self) -> bool {
        self.flag.as_ref().is_some_and(|f| f.is_set())
    }

    /// Waits until the shutdown has begun (forever for a stream without a server).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe: the signal is a state, not an event. A future dropped
    /// before the shutdown misses nothing, and one made after it began resolves at once, so
    /// it can be re-created on every turn of a `tokio::select!` loop.
    ///
    /// # Examples
    ///
    /// See [`ShutdownSignal`].
    pub fn requested(&self) -> Requested<'_> {
        Requested(Latch::wait(self.flag.as_deref()))
    }
}

/// The future returned by [`ShutdownSignal::requested`].
#[must_use = "futures do nothing unless polled"]
pub struct Requested<'a>(Wait<'a>);

impl fmt::Debug for Requested<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requested").finish_non_exhaustive()
    }
}

impl Future for Requested<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}
