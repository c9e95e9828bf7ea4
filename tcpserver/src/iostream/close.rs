//! [`CloseSignal`]: Tornado's `set_close_callback`, as a future any task can wait on.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::latch::{Latch, Wait};

/// Fires once its [`IoStream`](super::IoStream) is closed, whatever closed it: the peer
/// (seen by a read, or by [`peer_closed`](super::IoStream::peer_closed)), a socket error,
/// a read over its limits, [`close`](super::IoStream::close), or the stream being dropped.
/// Tornado's `set_close_callback`, spelled as a signal: `Clone`, `'static`, and awaited by
/// as many tasks as need it, so cleanup can live in its own task.
///
/// It reports what the stream's own operations observe; it does not watch the socket by
/// itself. A peer that goes away while nobody reads is noticed by the next read, or at
/// once by a task awaiting [`IoStream::peer_closed`](super::IoStream::peer_closed).
///
/// # Examples
///
/// A subscription that unregisters itself when its client goes, however the handler ends:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tcpserver::IoStream;
///
/// async fn subscribe(mut stream: IoStream, addr: SocketAddr) -> tcpserver::Result<()> {
///     let closed = stream.close_signal();
///     tokio::spawn(async move {
///         closed.closed().await;
///         println!("{addr} unsubscribed");
///     });
///     loop {
///         let line = stream.read_until(b"\n", Some(1024)).await?;
///         stream.write(&line).await?;
///     }
/// }
/// ```
#[derive(Clone)]
pub struct CloseSignal {
    latch: Arc<Latch>,
}

impl fmt::Debug for CloseSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseSignal")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl CloseSignal {
    pub(crate) fn new(latch: Arc<Latch>) -> Self {
        CloseSignal { latch }
    }

    /// True once the stream is closed; it then stays true.
    pub fn is_closed(&self) -> bool {
        self.latch.is_set()
    }

    /// Waits until the stream is closed.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel-safe: the signal is a state, not an event. A future dropped
    /// before the close misses nothing, and one made after it resolves at once.
    pub fn closed(&self) -> Closed<'_> {
        Closed(Latch::wait(Some(&self.latch)))
    }
}

/// The future returned by [`CloseSignal::closed`].
#[must_use = "futures do nothing unless polled"]
pub struct Closed<'a>(Wait<'a>);

impl fmt::Debug for Closed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closed").finish_non_exhaustive()
    }
}

impl Future for Closed<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}
