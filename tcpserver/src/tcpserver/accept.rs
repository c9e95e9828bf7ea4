//! The accept loop: one task per server, accepting from every listener it has.
//!
//! Differences from Tornado's `add_accept_handler`, on purpose:
//! - resource exhaustion (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) pauses accepting with a
//!   growing back-off (and resumes as soon as a connection closes), logging once per
//!   episode, where Tornado busy-loops and floods its log;
//! - with `max_connections`, nothing is accepted while the cap is reached: new clients wait
//!   in the kernel's backlog, none is dropped.

use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Shared;
use super::listener::Accepted;

/// Tornado accepts at most this many connections per readiness event, to balance load
/// between processes sharing a socket and to let other tasks run.
const ACCEPTS_PER_TURN: u32 = 128;
const FIRST_PAUSE: Duration = Duration::from_millis(20);
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// At most one warning per this interval, however often descriptors run out: under
/// churn every closed connection lets one accept in before the next `EMFILE`.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

pub(super) async fn accept_loop(shared: Arc<Shared>) {
    let mut accepted_this_turn = 0;
    let mut pause: Option<Duration> = None;
    let mut permit = None;
    let mut warnings = WarningLimiter::default();
    loop {
        if permit.is_none()
            && let Some(limit) = &shared.limit
        {
            tokio::select! {
                biased;
                () = shared.stopping.cancelled() => return,
                p = limit.clone().acquire_owned() => match p {
                    Ok(p) => permit = Some(p),
                    Err(_) => return,
                },
            }
        }
        let accepted = tokio::select! {
            biased;
            () = shared.stopping.cancelled() => return,
            r = poll_fn(|cx| poll_accept_any(&shared, cx)) => r,
        };
        match accepted {
            Ok(conn) => {
                if pause.take().is_some() {
                    tracing::debug!("accepting connections again");
                }
                (shared.serve)(&shared, conn, permit.take());
                accepted_this_turn += 1;
                if accepted_this_turn >= ACCEPTS_PER_TURN {
                    accepted_this_turn = 0;
                    tokio::task::yield_now().await;
                }
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!("accept: connection failed before it was accepted: {e}");
            }
            Err(e) if is_resource_error(&e) => {
                let wait = match pause {
                    None => {
                        if let Some(suppressed) = warnings.allow() {
                            tracing::warn!(
                                "accept failed: {e}; pausing accepts until resources free up{}",
                                if suppressed > 0 {
                                    format!(" ({suppressed} more such pauses not logged)")
                                } else {
                                    String::new()
                                }
                            );
                        }
                        FIRST_PAUSE
                    }
                    Some(prev) => (prev * 2).min(MAX_PAUSE),
                };
                pause = Some(wait);
                shared.pause_accepting(wait).await;
            }
            Err(e) => {
                if shared.stopping.is_cancelled() {
                    return;
                }
                tracing::error!("accept failed: {e}; retrying in {MAX_PAUSE:?}");
                pause = Some(MAX_PAUSE);
                shared.pause_accepting(MAX_PAUSE).await;
            }
        }
    }
}

/// Lets one warning through per [`WARN_INTERVAL`] and counts the ones it holds back.
#[derive(Default)]
struct WarningLimiter {
    last: Option<tokio::time::Instant>,
    suppressed: u32,
}

impl WarningLimiter {
    /// `Some(number held back since the last one)` if a warning may be logged now.
    fn allow(&mut self) -> Option<u32> {
        let now = tokio::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < WARN_INTERVAL)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Polls every listener, starting after the one that accepted last so that no socket
/// starves the others.
fn poll_accept_any(shared: &Shared, cx: &mut Context<'_>) -> Poll<io::Result<Accepted>> {
    let mut set = shared.listeners.lock().unwrap_or_else(|e| e.into_inner());
    let n = set.active.len();
    for i in 0..n {
        let idx = (set.next + i) % n;
        if let Poll::Ready(r) = set.active[idx].poll_accept(cx) {
            set.next = idx + 1;
            return Poll::Ready(r);
        }
    }
    // Woken by a new listener, or by the listeners' readiness registered above.
    match &set.waker {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => set.waker = Some(cx.waker().clone()),
    }
    Poll::Pending
}

/// Errors that concern one connection that died before `accept` returned it.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    ) || matches!(
        e.raw_os_error(),
        Some(
            nix::libc::EPROTO
                | nix::libc::EPERM
                | nix::libc::ENETDOWN
                | nix::libc::ENONET
                | nix::libc::EHOSTUNREACH
                | nix::libc::ENETUNREACH
                | nix::libc::EHOSTDOWN
                | nix::libc::EOPNOTSUPP
                | nix::libc::ETIMEDOUT
        )
    )
}

/// Errors that say the process or system is out of something; retrying at once would spin.
fn is_resource_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EMFILE | nix::libc::ENFILE | nix::libc::ENOBUFS | nix::libc::ENOMEM)
    )
}
