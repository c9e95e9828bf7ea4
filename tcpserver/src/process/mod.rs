//! Tornado's `tornado.process`: [`fork_processes`], [`task_id`], [`cpu_count`], and the
//! supervisor behind them.
//!
//! The supervisor (the parent process) binds nothing, runs no tokio runtime and starts no
//! thread: it forks the workers, waits for them, restarts the ones that crash, and
//! forwards signals. Each worker builds its own runtime after the fork.
//!
//! Tornado's semantics are kept: workers are numbered `0..n`; a worker killed by a signal
//! or exiting non-zero is restarted with the same task id; a worker exiting 0 is not; one
//! restart counter covers all workers; when every worker has exited normally the
//! supervisor exits 0. Better than Tornado:
//!
//! - past `max_restarts` the supervisor terminates the remaining workers and exits 1
//!   (Tornado leaves them running, orphaned);
//! - workers die with the supervisor (`PR_SET_PDEATHSIG`, plus a check for the race where
//!   it died before that was set);
//! - SIGTERM or SIGINT to the supervisor stops the workers gracefully (they receive
//!   SIGTERM), waits for them, and exits 0; a second SIGINT kills them at once; SIGHUP is
//!   passed on (certificate reload), and a worker ignores SIGHUP until it installs its own
//!   handler (a reload request must never kill it);
//! - a worker that keeps crashing right after start is restarted with a growing delay;
//! - the caller can learn the workers' pids ([`Supervisor::on_spawn`], [`Supervision::pids`]).
// `unsafe` is allowed in `fork` only; every other module of `process` forbids it.

mod exec;
mod fork;
mod report;
mod supervisor;
pub(crate) mod upgrade;

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::OnceLock;

pub use supervisor::{Lifecycle, Outcome, Started, Supervision, Supervisor};

/// Default of `max_restarts` ([`fork_processes`], [`Supervisor::max_restarts`]): Tornado's
/// 100.
pub const DEFAULT_MAX_RESTARTS: usize = 100;

static TASK_ID: OnceLock<usize> = OnceLock::new();

/// The task id of this worker process (`0..n`), or `None` in the supervisor or in a process
/// not started by [`fork_processes`].
///
/// # Examples
///
/// ```
/// assert_eq!(tcpserver::process::task_id(), None);
/// ```
pub fn task_id() -> Option<usize> {
    TASK_ID.get().copied()
}

/// Tells the supervisor that this worker accepts connections; nothing outside a worker of
/// a [`Supervisor`] that listens ([`Supervisor::on_lifecycle`]).
pub fn report_ready() {
    if let Some(id) = task_id() {
        report::report(id, report::Report::Ready);
    }
}

/// Tells the supervisor that this worker finished reloading (after a SIGHUP it passed
/// on); nothing outside a worker.
pub fn report_reloaded() {
    if let Some(id) = task_id() {
        report::report(id, report::Report::Reloaded);
    }
}

/// Tells the supervisor that this worker's start-up failed and that it exits; nothing
/// outside a worker. A supervisor gives up when every worker fails so before any served.
pub(crate) fn report_startup_failed() {
    if let Some(id) = task_id() {
        report::report(id, report::Report::StartupFailed);
    }
}

/// In a worker: the read end of the supervisor's hand-over notice.
static HANDOVER_NOTICE: OnceLock<OwnedFd> = OnceLock::new();

fn keep_handover_notice(read: &OwnedFd) {
    if let Ok(read) = read.try_clone() {
        let _ = HANDOVER_NOTICE.set(read);
    }
}

/// True in a worker whose supervisor handed the listening sockets over to a new binary
/// (an upgrade): the stop it is asked for is not a drain, the new binary already serves.
pub(crate) fn handed_over() -> bool {
    let Some(notice) = HANDOVER_NOTICE.get() else {
        return false;
    };
    // The supervisor closes the write end before it signals; nothing is ever written.
    let mut byte = [0u8; 1];
    matches!(nix::unistd::read(notice, &mut byte), Ok(0))
}

/// Takes the descriptor a process that started this one for an upgrade named in
/// `TCPSERVER_UPGRADE_FD`, to report on once this process serves (and removes the
/// variable). `None` when this process was not started by an upgrade.
pub(crate) fn take_upgrade_report_fd() -> Option<OwnedFd> {
    exec::take_fd_from_env(upgrade::READY_FD_VAR)
}

/// Tells the process that started this one for an upgrade that it serves.
pub(crate) fn report_upgraded(fd: BorrowedFd<'_>) -> io::Result<()> {
    nix::unistd::write(fd, &[upgrade::READY])
        .map(drop)
        .map_err(io::Error::from)
}

/// Threads of this process, from `/proc` (1 where `/proc` is unavailable).
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |dir| dir.count())
}

/// The number of CPUs this process may run on: its affinity mask and cgroup CPU quota are
/// honoured (Tornado counts every CPU of the machine). Never less than 1.
///
/// # Examples
///
/// ```
/// assert!(tcpserver::process::cpu_count() >= 1);
/// ```
pub fn cpu_count() -> usize {
    match std::thread::available_parallelism() {
        Ok(n) => n.get(),
        Err(_) => {
            tracing::error!("Could not detect number of processors; assuming 1");
            1
        }
    }
}

/// Forks `num_processes` workers (0: [`cpu_count`]) and supervises them (Tornado's
/// `fork_processes`).
///
/// In each worker it returns the worker's task id. In the supervisor it never returns:
/// the process exits when supervision ends — 0 once every worker has exited normally or
/// after a graceful stop, 1 after too many restarts (`max_restarts`, default 100, counted
/// over all workers).
///
/// Call it before building any tokio runtime or starting any thread (it refuses
/// otherwise), and only once per process.
///
/// # Examples
///
/// Tornado's third start-up pattern: bind, fork, then a runtime per process.
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tcpserver::netutil::{bind_sockets, Family, DEFAULT_BACKLOG};
/// use tcpserver::{process, IoStream, TcpServer};
///
/// async fn handler(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     let id = process::task_id().unwrap_or(0);
///     stream.write(format!("served by worker {id}\n").as_bytes()).await
/// }
///
/// fn main() -> std::io::Result<()> {
///     let sockets = bind_sockets(8888, None, Family::Unspec, DEFAULT_BACKLOG, false)?;
///     process::fork_processes(0, None)?;
///     let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
///     runtime.block_on(async {
///         let server = TcpServer::new(handler);
///         server.add_sockets(sockets)?;
///         server.serve().await
///     })
/// }
/// ```
pub fn fork_processes(num_processes: usize, max_restarts: Option<usize>) -> io::Result<usize> {
    let mut supervisor = Supervisor::new(num_processes);
    if let Some(n) = max_restarts {
        supervisor = supervisor.max_restarts(n);
    }
    match supervisor.start()? {
        Started::Worker(id) => Ok(id),
        Started::Supervisor(supervision) => match supervision.run()? {
            Outcome::Worker(id) => Ok(id),
            Outcome::Exit(code) => std::process::exit(code),
        },
    }
}
