//! Signals of a server process (inside its runtime): SIGTERM and SIGINT stop it, SIGHUP
//! reloads its TLS certificates, SIGUSR2 upgrades it.

use tokio::signal::unix::{SignalKind, signal};

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopSignal {
    Terminate,
    Interrupt,
}

impl StopSignal {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Interrupt => "SIGINT",
        }
    }

    /// The conventional exit status of a process killed by this signal (128 + signo).
    pub(crate) fn exit_status(self) -> i32 {
        128 + match self {
            StopSignal::Terminate => nix::libc::SIGTERM,
            StopSignal::Interrupt => nix::libc::SIGINT,
        }
    }
}

/// Listens for SIGTERM and SIGINT from the moment it is created.
pub(crate) struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next SIGTERM or SIGINT.
    pub(crate) async fn recv(&mut self) -> StopSignal {
        // SIGINT first: when a terminal's Ctrl-C and a supervisor's SIGTERM are both
        // pending, the SIGINT came first.
        tokio::select! {
            biased;
            _ = self.int.recv() => StopSignal::Interrupt,
            _ = self.term.recv() => StopSignal::Terminate,
        }
    }
}

/// Listens for one signal that asks for something other than a stop, from the moment it
/// is created: SIGHUP (reload the TLS certificates) or SIGUSR2 (upgrade). Once installed,
/// the signal no longer terminates the process.
pub(crate) struct Request(tokio::signal::unix::Signal);

impl Request {
    /// SIGHUP.
    pub(crate) fn reload() -> std::io::Result<Self> {
        Ok(Request(signal(SignalKind::hangup())?))
    }

    /// SIGUSR2.
    pub(crate) fn upgrade() -> std::io::Result<Self> {
        Ok(Request(signal(SignalKind::user_defined2())?))
    }

    /// The next one.
    pub(crate) async fn recv(&mut self) {
        if self.0.recv().await.is_none() {
            // The runtime's signal driver is gone: no signal will ever come.
            std::future::pending::<()>().await;
        }
    }
}
