//! Workers telling their supervisor how they are: a pipe created before the fork, one
//! small message per event. A service manager listens to the main process only (systemd's
//! `NotifyAccess=main`), so the supervisor speaks for its workers.

use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use nix::fcntl::OFlag;

/// What a worker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Report {
    /// It accepts connections.
    Ready,
    /// It finished reloading its certificates (after a SIGHUP).
    Reloaded,
    /// Its start-up failed (the application's state could not be created): it exits.
    StartupFailed,
}

/// The write end, in a worker (set after the fork).
static WORKER_END: OnceLock<OwnedFd> = OnceLock::new();

/// Both ends, in the supervisor until the fork, then the read end only.
pub(super) struct ReportPipe {
    read: std::fs::File,
    write: Option<OwnedFd>,
}

impl fmt::Debug for ReportPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportPipe").finish_non_exhaustive()
    }
}

const MESSAGE: usize = 4;

impl ReportPipe {
    pub(super) fn new() -> io::Result<Self> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        Ok(ReportPipe {
            read: read.into(),
            write: Some(write),
        })
    }

    /// In a new worker: keeps the write end for [`report`].
    pub(super) fn become_worker(&self) {
        if let Some(write) = self.write.as_ref().and_then(|w| w.try_clone().ok()) {
            let _ = WORKER_END.set(write);
        }
    }

    pub(super) fn read_end(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Every message waiting: `(task id, report)`.
    pub(super) fn drain(&mut self) -> Vec<(usize, Report)> {
        let mut reports = Vec::new();
        let mut message = [0u8; MESSAGE];
        // Writes of at most PIPE_BUF bytes are atomic: messages never interleave.
        while let Ok(MESSAGE) = self.read.read(&mut message) {
            let id = usize::from(u16::from_be_bytes([message[1], message[2]]));
            let report = match message[0] {
                b'R' => Report::Ready,
                b'L' => Report::Reloaded,
                b'F' => Report::StartupFailed,
                _ => continue,
            };
            reports.push((id, report));
        }
        reports
    }
}

/// Sends `report` to the supervisor; nothing in a process without one.
pub(super) fn report(task_id: usize, report: Report) {
    let Some(fd) = WORKER_END.get() else { return };
    let kind = match report {
        Report::Ready => b'R',
        Report::Reloaded => b'L',
        Report::StartupFailed => b'F',
    };
    let id = u16::try_from(task_id).unwrap_or(u16::MAX).to_be_bytes();
    let message = [kind, id[0], id[1], b'\n'];
    // Non-blocking: a supervisor too busy to read loses a report, never stalls a worker.
    let _ = nix::unistd::write(fd, &message);
}
