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
    let threads = super::thread_count();
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

/// Makes SIGHUP and SIGUSR2 ignored in a new worker: SIGHUP until its runtime installs a
/// handler for it, SIGUSR2 for good (an upgrade is the main process's business).
///
/// A worker restores the signal mask inherited from the supervisor before it can install
/// handlers; a SIGHUP passed on (or pending) in between would otherwise kill it with the
/// default action, and the supervisor would count a crash; so would a SIGUSR2 sent to the
/// whole process group. Installing a handler later (tokio's
/// `signal(SignalKind::hangup())`) replaces this disposition.
pub(crate) fn ignore_reload_signals() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for sig in [Signal::SIGHUP, Signal::SIGUSR2] {
        // SAFETY: `SIG_IGN` runs no code in signal context, so no handler can break
        // async-signal safety, and the previous disposition (the default) owned no state.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
}
