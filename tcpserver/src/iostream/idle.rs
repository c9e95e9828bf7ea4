//! `idle_timeout`: closing a connection that has neither read nor written for a while (a
//! silent client, or one that stopped reading our writes).
//!
//! Reading the clock at every read and write would cost a `clock_gettime` each (about 5%
//! of an echo round trip). Instead each server with an idle timeout keeps a coarse clock, a
//! millisecond count that a ticker task advances every [`TICK`], and a stream stamps its
//! activity with that count: one atomic load and one store. A connection's watchdog sleeps
//! until its last activity plus the timeout, and only then looks again: an active
//! connection costs at most one timer wake-up per timeout, and an idle one is closed within
//! a [`TICK`] of its deadline (a stamp is as old as the clock's last tick).
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;

use tokio::time::Instant;

/// How often the coarse clock advances.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// A server's coarse clock: milliseconds since `origin`, as of the last tick.
#[derive(Debug)]
pub(crate) struct CoarseClock {
    origin: Instant,
    now_ms: AtomicU64,
}

impl CoarseClock {
    /// A clock at zero; it advances once [`ticker`](Self::ticker) runs.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(CoarseClock {
            origin: Instant::now(),
            now_ms: AtomicU64::new(0),
        })
    }

    /// The task that advances the clock for as long as the clock is in use (spawn it on
    /// the runtime that serves the connections).
    pub(crate) fn ticker(self: &Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        tick(Arc::downgrade(self))
    }

    fn advance(&self) {
        let ms = self.origin.elapsed().as_millis();
        self.now_ms
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// Advances the clock every [`TICK`] until nothing uses it any more.
async fn tick(clock: Weak<CoarseClock>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        match clock.upgrade() {
            Some(clock) => clock.advance(),
            None => return,
        }
    }
}

/// One connection's last activity, stamped by its stream and read by its watchdog.
#[derive(Debug)]
pub(crate) struct Activity {
    clock: Arc<CoarseClock>,
    last_ms: AtomicU64,
    /// The connection's task, for the watchdog to abort.
    connection: OnceLock<AbortHandle>,
    /// The watchdog closed the connection.
    timed_out: AtomicBool,
}

impl Activity {
    /// A connection active now.
    pub(crate) fn new(clock: Arc<CoarseClock>) -> Arc<Self> {
        clock.advance();
        let now = clock.now_ms.load(Ordering::Relaxed);
        Arc::new(Activity {
            clock,
            last_ms: AtomicU64::new(now),
            connection: OnceLock::new(),
            timed_out: AtomicBool::new(false),
        })
    }

    /// The task serving the connection, which the watchdog aborts.
    pub(crate) fn set_connection(&self, task: AbortHandle) {
        let _ = self.connection.set(task);
    }

    /// True once the watchdog closed the connection.
    pub(crate) fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Acquire)
    }

    /// The watchdog task: once the connection has been idle for `timeout`, aborts its
    /// task (which closes it). The connection's task aborts the watchdog when it ends.
    pub(crate) async fn watch(self: Arc<Self>, timeout: Duration, peer: SocketAddr) {
        self.idle_for(timeout).await;
        self.timed_out.store(true, Ordering::Release);
        tracing::debug!(
            "closing {peer}: neither read nor written for {}",
            tcpserver_options::units::format_duration(timeout)
        );
        if let Some(task) = self.connection.get() {
            task.abort();
        }
    }

    /// Bytes were read or written.
    #[inline]
    pub(crate) fn touch(&self) {
        let now = self.clock.now_ms.load(Ordering::Relaxed);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    /// When the connection will have been idle for `timeout`, as of its last activity.
    fn deadline(&self, timeout: Duration) -> Instant {
        self.clock.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + timeout
    }

    /// Completes once the connection has neither read nor written for `timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only sleeps and reads the stamp.
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        let mut deadline = self.deadline(timeout);
        loop {
            tokio::time::sleep_until(deadline).await;
            let next = self.deadline(timeout);
            if next <= deadline {
                return;
            }
            deadline = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_noticed_and_an_active_one_is_not() {
        let clock = CoarseClock::new();
        tokio::spawn(clock.ticker());
        let activity = Activity::new(clock);
        let timeout = Duration::from_secs(1);
        let started = Instant::now();
        // Active every 400 ms for two seconds: not idle.
        let watcher = {
            let activity = activity.clone();
            tokio::spawn(async move { activity.idle_for(timeout).await })
        };
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            activity.touch();
            assert!(!watcher.is_finished());
        }
        // Then silent: noticed one timeout after the last activity, within a tick either
        // way (a stamp is as old as the clock's last tick).
        watcher.await.unwrap();
        let idle_at = started.elapsed();
        let expected = Duration::from_millis(3000);
        assert!(
            idle_at + TICK >= expected && idle_at <= expected + 2 * TICK,
            "{idle_at:?}"
        );
    }
}
