//! Upgrading the running binary in place: the old process starts the binary at its own path
//! with its listening sockets (socket activation's `LISTEN_FDS`, `LISTEN_FDNAMES`), waits
//! for the new one to say it serves, and only then stops. Used by the supervisor (several
//! workers) and by a single server process alike; neither needs a runtime for it.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::exec;

/// The variable naming the descriptor a new binary reports its readiness on.
pub(crate) const READY_FD_VAR: &str = "TCPSERVER_UPGRADE_FD";

/// The byte a new binary writes once it serves.
pub(crate) const READY: u8 = b'R';

/// What an upgrade starts and hands over.
#[derive(Debug)]
pub(crate) struct UpgradeSpec {
    /// The binary's path as it was started: a file replaced there is the new version.
    pub(crate) program: PathBuf,
    /// The arguments, the program's name first.
    pub(crate) args: Vec<OsString>,
    /// The listening sockets to hand over, each with its `LISTEN_FDNAMES` name.
    pub(crate) sockets: Vec<(OwnedFd, String)>,
    /// How long the new binary has to report that it serves.
    pub(crate) timeout: Duration,
}

impl UpgradeSpec {
    /// Starts the new binary.
    ///
    /// # Errors
    ///
    /// It cannot be executed, or the report pipe cannot be made.
    pub(crate) fn start(&self) -> io::Result<Successor> {
        let (ready_read, ready_write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).map_err(io::Error::from)?;
        let n = self.sockets.len();
        let names: Vec<&str> = self.sockets.iter().map(|(_, name)| name.as_str()).collect();
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(name, _)| {
                !matches!(
                    name.to_str(),
                    // The watchdog's pid is this process's: the new one, once it is the
                    // main process, answers the watchdog itself.
                    Some("LISTEN_FDS" | "LISTEN_FDNAMES" | "LISTEN_PID" | "WATCHDOG_PID")
                ) && name != READY_FD_VAR
            })
            .collect();
        env.push(("LISTEN_FDS".into(), n.to_string().into()));
        env.push(("LISTEN_FDNAMES".into(), names.join(":").into()));
        env.push((
            READY_FD_VAR.into(),
            (exec::FIRST_FD + n as i32).to_string().into(),
        ));
        let mut fds: Vec<BorrowedFd<'_>> = self.sockets.iter().map(|(fd, _)| fd.as_fd()).collect();
        fds.push(ready_write.as_fd());
        let pid = exec::spawn(&self.program, &self.args, &env, &fds).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot start {}: {e}", self.program.display()),
            )
        })?;
        Ok(Successor {
            pid,
            ready: ready_read.into(),
            deadline: Instant::now() + self.timeout,
            timeout: self.timeout,
            exited: None,
        })
    }
}

/// A new binary started by an upgrade, until it serves or fails.
#[derive(Debug)]
pub(crate) struct Successor {
    pid: Pid,
    ready: std::fs::File,
    deadline: Instant,
    timeout: Duration,
    /// How it ended, when the supervisor's reaping collected it first.
    exited: Option<WaitStatus>,
}

/// Where an upgrade stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Starting.
    Waiting,
    /// It serves: the old process may stop.
    Ready,
    /// It did not make it (it was killed and collected, if it was still running): why.
    Failed(String),
}

impl Successor {
    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Its pid as the supervisor's reaping sees it.
    pub(crate) fn is(&self, pid: Pid) -> bool {
        self.pid == pid
    }

    /// The supervisor collected its exit.
    pub(crate) fn exited(&mut self, status: WaitStatus) {
        self.exited = Some(status);
    }

    /// The report pipe, for `poll`.
    pub(crate) fn ready_fd(&self) -> BorrowedFd<'_> {
        self.ready.as_fd()
    }

    /// When it must have reported.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Checks, without blocking, what became of it. A failure kills it first if it still
    /// runs.
    pub(crate) fn check(&mut self) -> Progress {
        let mut byte = [0u8; 1];
        let closed = match self.ready.read(&mut byte) {
            Ok(1) if byte[0] == READY => return Progress::Ready,
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted
            }
        };
        if self.exited.is_none() {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                Ok(status) => self.exited = Some(status),
                // Collected elsewhere: it is gone, how is unknown.
                Err(_) => self.exited = Some(WaitStatus::StillAlive),
            }
        }
        if let Some(status) = self.exited {
            return Progress::Failed(format!(
                "the new process (pid {}) {} before it was ready",
                self.pid,
                Ended(status)
            ));
        }
        if closed {
            // Every holder closed the report pipe without a word, yet the process runs.
            self.kill();
            return Progress::Failed(format!(
                "the new process (pid {}) closed its report channel without saying it serves; killed it",
                self.pid
            ));
        }
        if Instant::now() >= self.deadline {
            self.kill();
            return Progress::Failed(format!(
                "the new process (pid {}) was not ready within {}; killed it",
                self.pid,
                tcpserver_options::units::format_duration(self.timeout)
            ));
        }
        Progress::Waiting
    }

    /// Kills it and collects it (its workers die with it).
    pub(crate) fn kill(&mut self) {
        if self.exited.is_some() {
            return;
        }
        let _ = kill(self.pid, Signal::SIGKILL);
        loop {
            match waitpid(self.pid, None) {
                Err(Errno::EINTR) => continue,
                Ok(status) => {
                    self.exited = Some(status);
                    return;
                }
                Err(_) => {
                    self.exited = Some(WaitStatus::StillAlive);
                    return;
                }
            }
        }
    }

    /// Asks it to stop (SIGTERM) without waiting: the old process is stopping during the
    /// upgrade, and the new one finishes what it may have accepted.
    pub(crate) fn stop(&self) {
        if self.exited.is_none() {
            let _ = kill(self.pid, Signal::SIGTERM);
        }
    }
}

/// How a process ended, in words.
struct Ended(WaitStatus);

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            WaitStatus::Exited(_, code) => write!(f, "exited with status {code}"),
            WaitStatus::Signaled(_, sig, _) => write!(f, "was killed by {sig}"),
            _ => f.write_str("exited"),
        }
    }
}
