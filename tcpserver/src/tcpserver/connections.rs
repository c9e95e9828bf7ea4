//! The set of live connection tasks: counted, awaited at shutdown, aborted at the deadline.
//!
//! Each task is registered once when it starts and once when it ends; nothing here runs
//! per read or write (a shared cancellation future polled by every connection would take a
//! shared lock on every wake-up).
//!
//! Why not tokio-util's `TaskTracker` or tokio's `JoinSet`: a `TaskTracker` counts and
//! awaits tasks but cannot abort them at the shutdown deadline, and a `JoinSet` aborts
//! them but keeps every finished task (its whole future's memory) until it is reaped,
//! which would take the accept loop's attention at each connection's end. This set drops
//! a connection's abort handle the moment it ends, so its task is freed then; the handles
//! give the count and the wait for empty as well.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::iostream::ShutdownSignal;

#[derive(Debug, Default)]
pub(crate) struct ConnectionSet {
    inner: Mutex<Inner>,
    emptied: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    tasks: HashMap<u64, Entry>,
    /// A graceful shutdown began: connections registered from now on are told at once.
    shutting_down: bool,
}

#[derive(Debug)]
struct Entry {
    /// `None` between registration and the spawn that yields the abort handle.
    abort: Option<AbortHandle>,
    shutdown: ShutdownSignal,
}

impl ConnectionSet {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves an id for a connection about to be spawned, and makes its shutdown signal.
    pub(crate) fn register(&self) -> (u64, ShutdownSignal) {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        let shutdown = ShutdownSignal::new();
        if inner.shutting_down {
            shutdown.trigger();
        }
        inner.tasks.insert(
            id,
            Entry {
                abort: None,
                shutdown: shutdown.clone(),
            },
        );
        (id, shutdown)
    }

    /// Records the abort handle of a spawned connection, unless it already finished.
    pub(crate) fn attach(&self, id: u64, handle: AbortHandle) {
        if let Some(entry) = self.lock().tasks.get_mut(&id) {
            entry.abort = Some(handle);
        }
    }

    /// Tells every connection, present and future, that a graceful shutdown began.
    pub(crate) fn request_shutdown(&self) {
        let mut inner = self.lock();
        inner.shutting_down = true;
        for entry in inner.tasks.values() {
            entry.shutdown.trigger();
        }
    }

    /// Forgets a finished connection.
    pub(crate) fn remove(&self, id: u64) {
        let mut inner = self.lock();
        inner.tasks.remove(&id);
        if inner.tasks.is_empty() {
            drop(inner);
            self.emptied.notify_waiters();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().tasks.len()
    }

    /// Resolves once no connection is left.
    pub(crate) async fn wait_empty(&self) {
        loop {
            let notified = self.emptied.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.len() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Aborts every connection task; each closes its socket when dropped.
    pub(crate) fn abort_all(&self) {
        for handle in self.lock().tasks.values().filter_map(|e| e.abort.as_ref()) {
            handle.abort();
        }
    }
}
