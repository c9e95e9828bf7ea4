//! The one module with `unsafe`: `fork(2)`.
//!
//! Everything else in the crate is `#![forbid(unsafe_code)]`.
#![allow(unsafe_code)]

use std::io;

use nix::unistd::{ForkResult, Pid};

/// Which side of a fork this is.
pub(crate) enum Forked {
    Child,
    Parent(Pid),
}

/// Forks the process, after checking that it has a single thread.
///
/// A multi-threaded process must not fork: the child would hold copies of other threads'
/// locks with no thread to release them (tokio's runtime, a logging thread, ...), so the
/// supervisor forks before any runtime exists and this refuses otherwise.
pub(crate) fn fork() -> io::Result<Forked> {
    let threads = thread_count();
    if threads > 1 {
        return Err(io::Error::other(format!(
            "cannot fork worker processes: this process already runs {threads} threads \
             (fork before building a tokio runtime or starting any thread)"
        )));
    }
    // SAFETY: the process has exactly one thread (checked above; only this thread could
    // start another, and it does not in between), so the child is a complete copy of a
    // consistent process: no lock can be held by a thread that does not exist in the
    // child, and the child may call any function, not only async-signal-safe ones.
    match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
        ForkResult::Child => Ok(Forked::Child),
        ForkResult::Parent { child } => Ok(Forked::Parent(child)),
    }
}

/// Makes SIGHUP ignored in a new worker until its runtime installs a handler for it.
///
/// A worker restores the signal mask inherited from the supervisor before it can install
/// handlers; a SIGHUP passed on (or pending) in between would otherwise kill it with the
/// default action, and the supervisor would count a crash. Installing a handler later
/// (tokio's `signal(SignalKind::hangup())`) replaces this disposition.
pub(crate) fn ignore_sighup() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: `SIG_IGN` runs no code in signal context, so no handler can break
    // async-signal safety, and the previous disposition (the default) owned no state.
    let _ = unsafe { signal(Signal::SIGHUP, SigHandler::SigIgn) };
}

/// Threads of this process, from `/proc` (1 where `/proc` is unavailable).
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |dir| dir.count())
}
