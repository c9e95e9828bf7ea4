//! `idle_connection_timeout`, kept lazily: one timer per connection that wakes at most
//! about once per idle period, instead of a timer armed and disarmed for every request
//! (hyper's `header_read_timeout` allocates and registers one per request head, which costs
//! more than the rest of a small request).
//!
//! A connection is *waiting* from the moment it opens, and again from the moment a
//! response has been written, until the next request head is complete; it may wait at most
//! the timeout (Tornado's `header_timeout`: both the keep-alive idle limit and the bound on
//! slow heads).
#![forbid(unsafe_code)]

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{Either, Empty};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Instant;

use super::handler::BoxError;
use super::length::Counter;

/// When a connection started waiting for a request head, if it is waiting. Only touched
/// from the connection's own task; atomics because the task may move between threads.
#[derive(Debug)]
pub(crate) struct IdleClock {
    origin: Instant,
    /// A request is in progress: its head arrived, its response is not written yet.
    busy: AtomicBool,
    /// When the connection last started waiting, in nanoseconds since `origin`.
    waiting_since: AtomicU64,
}

impl IdleClock {
    pub(crate) fn new() -> Self {
        IdleClock {
            origin: Instant::now(),
            busy: AtomicBool::new(false),
            waiting_since: AtomicU64::new(0),
        }
    }

    /// A request head has arrived.
    pub(crate) fn request_started(&self) {
        self.busy.store(true, Ordering::Relaxed);
    }

    /// A response has been written: waiting for the next head begins.
    fn response_finished(&self) {
        let now = Instant::now().saturating_duration_since(self.origin);
        let nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        self.waiting_since.store(nanos, Ordering::Relaxed);
        self.busy.store(false, Ordering::Relaxed);
    }

    /// No request head has arrived on this connection yet.
    pub(crate) fn is_fresh(&self) -> bool {
        !self.is_busy() && self.waiting_since.load(Ordering::Relaxed) == 0
    }

    /// A request is in progress.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// The first moment the connection could have waited `timeout`.
    pub(crate) fn first_deadline(&self, timeout: Duration) -> Instant {
        self.origin + timeout
    }

    /// At `now`: `None` if the connection has waited `timeout` (close it), else when to
    /// check again.
    pub(crate) fn check(&self, now: Instant, timeout: Duration) -> Option<Instant> {
        if self.is_busy() {
            // Whenever it becomes idle, it will be after now.
            return Some(now + timeout);
        }
        let since = self.origin + Duration::from_nanos(self.waiting_since.load(Ordering::Relaxed));
        let deadline = since + timeout;
        (deadline > now).then_some(deadline)
    }
}

/// Marks the response written when dropped (hyper drops a body once it has sent it, or
/// given up on it).
#[derive(Debug)]
struct FinishOnDrop(Arc<IdleClock>);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.response_finished();
    }
}

pin_project_lite::pin_project! {
    /// The body of every response: the handler's, or our empty one for an error answer.
    #[derive(Debug)]
    pub(crate) struct ResponseBody<B> {
        #[pin]
        inner: Either<B, Empty<Bytes>>,
        finish: FinishOnDrop,
        // A stream held to the handler's `Content-Length` (see `length`).
        length: Option<Counter>,
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn handler(body: B, clock: Arc<IdleClock>, length: Option<Counter>) -> Self {
        ResponseBody {
            inner: Either::Left(body),
            finish: FinishOnDrop(clock),
            length,
        }
    }

    pub(crate) fn empty(clock: Arc<IdleClock>) -> Self {
        ResponseBody {
            inner: Either::Right(Empty::new()),
            finish: FinishOnDrop(clock),
            length: None,
        }
    }
}

impl<B> HttpBody for ResponseBody<B>
where
    B: HttpBody<Data = Bytes, Error: Into<BoxError>>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        if let Some(counter) = this.length {
            // An error here makes hyper close the connection without sending the piece.
            let checked = match &frame {
                Some(Ok(frame)) => frame.data_ref().map_or(Ok(()), |d| counter.piece(d.len())),
                None => counter.end(),
                Some(Err(_)) => Ok(()),
            };
            if let Err(message) = checked {
                return Poll::Ready(Some(Err(message.into())));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadlines() {
        let timeout = Duration::from_secs(10);
        let clock = Arc::new(IdleClock::new());
        let start = Instant::now();
        assert_eq!(clock.first_deadline(timeout), start + timeout);
        assert_eq!(clock.check(start + timeout, timeout), None);
        // Busy: check again a full timeout later.
        clock.request_started();
        let t = start + Duration::from_secs(3);
        assert_eq!(clock.check(t, timeout), Some(t + timeout));
        // Done at 5 s: the deadline is 15 s.
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(FinishOnDrop(clock.clone()));
        let done = Instant::now();
        assert_eq!(
            clock.check(start + Duration::from_secs(13), timeout),
            Some(done + timeout)
        );
        assert_eq!(clock.check(done + timeout, timeout), None);
    }
}
