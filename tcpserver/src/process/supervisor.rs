//! The supervisor: forks the workers, restarts the ones that crash, forwards signals.
//!
//! It waits on a `signalfd` (SIGCHLD, SIGTERM, SIGINT and SIGHUP are blocked and read
//! from it), so it needs no signal handler, no thread and no runtime.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, pthread_sigmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid, getppid};

use super::fork::{Forked, fork};
use super::report::{Report, ReportPipe};
use super::upgrade::{Progress, Successor, UpgradeSpec};
use super::{DEFAULT_MAX_RESTARTS, TASK_ID, cpu_count};

/// A worker that ran at least this long before crashing is restarted at once; one that
/// crashed sooner is in a crash loop and waits before its next start.
const STABLE_UPTIME: Duration = Duration::from_secs(1);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Forks and supervises worker processes; [`fork_processes`](super::fork_processes) with
/// more control.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use tcpserver::process::{Outcome, Started, Supervisor};
///
/// let started = Supervisor::new(4)
///     .max_restarts(10)
///     .stop_timeout(Duration::from_secs(35))
///     .on_spawn(|task_id, pid| eprintln!("worker {task_id} is pid {pid}"))
///     .start()?;
/// let task_id = match started {
///     Started::Worker(id) => id,
///     Started::Supervisor(supervision) => match supervision.run()? {
///         Outcome::Worker(id) => id, // a restarted worker
///         Outcome::Exit(code) => std::process::exit(code),
///     },
/// };
/// // ... build a runtime and serve as worker `task_id`
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Supervisor {
    num_processes: usize,
    max_restarts: usize,
    stop_timeout: Option<Duration>,
    on_spawn: Option<Box<dyn FnMut(usize, u32)>>,
    on_lifecycle: Option<Box<dyn FnMut(Lifecycle)>>,
    watchdog: Option<Duration>,
    upgrade: Option<UpgradeSpec>,
    on_stop: Option<Box<dyn FnOnce()>>,
}

/// What happens to the workers as a whole, for a service manager (see
/// [`Supervisor::on_lifecycle`]). Workers report with [`report_ready`](super::report_ready)
/// and [`report_reloaded`](super::report_reloaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lifecycle {
    /// Every worker accepts connections: at start-up, and again after a restart.
    Ready {
        /// How many workers.
        workers: usize,
    },
    /// A worker exited and is replaced: not every worker accepts.
    Degraded {
        /// How many workers accept.
        ready: usize,
        /// How many there should be.
        workers: usize,
    },
    /// A SIGHUP was passed on to the workers.
    Reloading,
    /// Every worker reported its reload done.
    Reloaded,
    /// The workers were asked to stop.
    Stopping,
    /// SIGUSR2: a new binary was started to take over (launcher upgrades only).
    Upgrading {
        /// Its process id.
        pid: u32,
    },
    /// The new binary serves: it is the main process now, and the workers stop.
    HandedOver {
        /// Its process id.
        pid: u32,
    },
    /// The new binary failed; the workers serve on as before.
    UpgradeFailed,
    /// Another [`watchdog`](Supervisor::watchdog) interval passed with every worker up
    /// and accepting.
    Watchdog,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("num_processes", &self.num_processes)
            .field("max_restarts", &self.max_restarts)
            .field("stop_timeout", &self.stop_timeout)
            .finish_non_exhaustive()
    }
}

/// What [`Supervisor::start`] returns in each process.
#[derive(Debug)]
pub enum Started {
    /// This is worker number `.0`.
    Worker(usize),
    /// This is the supervisor; call [`Supervision::run`].
    Supervisor(Box<Supervision>),
}

/// What [`Supervision::run`] returns in each process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// This is a restarted worker, number `.0`.
    Worker(usize),
    /// Supervision is over: the supervisor should exit with this status.
    Exit(i32),
}

impl Supervisor {
    /// Supervises `num_processes` workers (0: [`cpu_count`]).
    pub fn new(num_processes: usize) -> Self {
        Supervisor {
            num_processes,
            max_restarts: DEFAULT_MAX_RESTARTS,
            stop_timeout: None,
            on_spawn: None,
            on_lifecycle: None,
            watchdog: None,
            upgrade: None,
            on_stop: None,
        }
    }

    /// How many abnormal worker exits, over all workers, are restarted before the
    /// supervisor gives up (default 100, as Tornado).
    pub fn max_restarts(mut self, max_restarts: usize) -> Self {
        self.max_restarts = max_restarts;
        self
    }

    /// After SIGTERM has been sent to the workers (on a stop signal, or when giving up),
    /// how long they get to exit before they are killed (default: as long as they take).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = Some(timeout);
        self
    }

    /// Called in the supervisor with `(task_id, pid)` each time a worker is forked,
    /// restarts included (default: no hook).
    pub fn on_spawn(mut self, hook: impl FnMut(usize, u32) + 'static) -> Self {
        self.on_spawn = Some(Box::new(hook));
        self
    }

    /// Called in the supervisor at each [`Lifecycle`] event (default: no hook). The workers
    /// then report to the supervisor through a pipe made before the fork.
    pub fn on_lifecycle(mut self, hook: impl FnMut(Lifecycle) + 'static) -> Self {
        self.on_lifecycle = Some(Box::new(hook));
        self
    }

    /// Emits [`Lifecycle::Watchdog`] every `interval` while every worker is up and
    /// accepting (default: never).
    pub fn watchdog(mut self, interval: Duration) -> Self {
        self.watchdog = Some(interval);
        self
    }

    /// Upgrades on SIGUSR2: starts the new binary `spec` names, hands it the sockets, and
    /// once it serves stops the workers (they see [`handed_over`](super::handed_over)).
    pub(crate) fn upgrades(mut self, spec: UpgradeSpec) -> Self {
        self.upgrade = Some(spec);
        self
    }

    /// Called once in the supervisor when the workers are asked to stop (the launcher closes
    /// its copies of the listening sockets there, so that new clients are refused rather
    /// than queued where no worker will accept them).
    pub(crate) fn on_stop(mut self, hook: impl FnOnce() + 'static) -> Self {
        self.on_stop = Some(Box::new(hook));
        self
    }

    /// Forks the workers. Returns [`Started::Worker`] in each worker and
    /// [`Started::Supervisor`] in the parent.
    ///
    /// Fails if the process already runs several threads, or if workers were already
    /// forked in this process.
    ///
    /// # Examples
    ///
    /// See [`Supervisor`].
    pub fn start(mut self) -> io::Result<Started> {
        if TASK_ID.get().is_some() || STARTED.get().is_some() {
            return Err(io::Error::other(
                "worker processes were already forked in this process",
            ));
        }
        let _ = STARTED.set(());
        let n = if self.num_processes == 0 {
            cpu_count()
        } else {
            self.num_processes
        };
        tracing::info!("Starting {n} processes");

        // Block the signals we supervise before forking, so none is lost in between; the
        // workers restore the original mask.
        let mut watched = SigSet::empty();
        for sig in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
        ] {
            watched.add(sig);
        }
        if self.upgrade.is_some() {
            watched.add(Signal::SIGUSR2);
        }
        let mut original_mask = SigSet::empty();
        pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&watched),
            Some(&mut original_mask),
        )?;
        let signals =
            SignalFd::with_flags(&watched, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;

        let reports = match self.on_lifecycle {
            Some(_) => Some(ReportPipe::new()?),
            None => None,
        };
        let handover_notice = match self.upgrade {
            Some(_) => Some(nix::unistd::pipe2(
                nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK,
            )?),
            None => None,
        };
        let mut supervision = Supervision {
            signals,
            reports,
            upgrade: self.upgrade.take(),
            on_stop: self.on_stop.take(),
            successor: None,
            handover_notice,
            handed_over: false,
            ready: vec![false; n],
            served: false,
            startup_failed: false,
            all_ready: false,
            reloading: None,
            on_lifecycle: self.on_lifecycle.take(),
            watchdog: self.watchdog.map(|every| (every, Instant::now() + every)),
            original_mask,
            supervisor_pid: getpid(),
            children: HashMap::new(),
            slots: (0..n).map(|_| Slot::default()).collect(),
            restarts: 0,
            max_restarts: self.max_restarts,
            stop_timeout: self.stop_timeout,
            stopping: None,
            exit_status: 0,
            on_spawn: self.on_spawn.take(),
        };
        for id in 0..n {
            if supervision.spawn(id)? == Side::Worker {
                return Ok(Started::Worker(id));
            }
        }
        Ok(Started::Supervisor(Box::new(supervision)))
    }
}

static STARTED: std::sync::OnceLock<()> = std::sync::OnceLock::new();

/// A running supervision, in the supervisor process.
pub struct Supervision {
    signals: SignalFd,
    /// The workers' reports, when someone listens to the lifecycle.
    reports: Option<ReportPipe>,
    /// What SIGUSR2 starts, when upgrades are on.
    upgrade: Option<UpgradeSpec>,
    on_stop: Option<Box<dyn FnOnce()>>,
    /// The new binary of an upgrade in progress.
    successor: Option<Successor>,
    /// The hand-over notice, read end then write end: the workers keep the read end, and
    /// closing the write end (after a hand-over) tells them their stop is not a drain.
    handover_notice: Option<(OwnedFd, OwnedFd)>,
    /// The new binary serves: this supervision only waits for its workers to finish.
    handed_over: bool,
    /// Per task id: it reported that it accepts, and has not exited since.
    ready: Vec<bool>,
    /// Some worker reported that it accepts, at some point.
    served: bool,
    /// Every worker failed to start: the supervision ends with exit status 1.
    startup_failed: bool,
    /// `Lifecycle::Ready` was the last readiness event emitted.
    all_ready: bool,
    /// After a SIGHUP: the workers that have not reported their reload yet.
    reloading: Option<Vec<bool>>,
    on_lifecycle: Option<Box<dyn FnMut(Lifecycle)>>,
    /// The interval and the next tick.
    watchdog: Option<(Duration, Instant)>,
    original_mask: SigSet,
    supervisor_pid: Pid,
    /// Live workers: pid → task id.
    children: HashMap<Pid, usize>,
    /// Per task id: crash-loop state and a pending restart.
    slots: Vec<Slot>,
    restarts: usize,
    max_restarts: usize,
    stop_timeout: Option<Duration>,
    /// Set once the workers were asked to stop: no more restarts, and a deadline after
    /// which the remaining workers are killed.
    stopping: Option<Option<Instant>>,
    exit_status: i32,
    on_spawn: Option<Box<dyn FnMut(usize, u32)>>,
}

#[derive(Debug, Default)]
struct Slot {
    started: Option<Instant>,
    /// Its last start-up failed (it reported so), and it has not served since.
    failed_startup: bool,
    /// It failed to start before any worker served: it waits for the others' verdict.
    parked: bool,
    quick_crashes: u32,
    restart_at: Option<Instant>,
}

#[derive(Debug, PartialEq, Eq)]
enum Side {
    Worker,
    Supervisor,
}

impl fmt::Debug for Supervision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervision")
            .field("children", &self.children)
            .field("restarts", &self.restarts)
            .field("max_restarts", &self.max_restarts)
            .field("stopping", &self.stopping)
            .finish_non_exhaustive()
    }
}

impl Supervision {
    /// The live workers as `(task_id, pid)`, sorted by task id.
    ///
    /// # Examples
    ///
    /// ```
    /// fn show(supervision: &tcpserver::process::Supervision) {
    ///     for (task_id, pid) in supervision.pids() {
    ///         println!("worker {task_id} is pid {pid}");
    ///     }
    /// }
    /// ```
    pub fn pids(&self) -> Vec<(usize, u32)> {
        let mut pids: Vec<_> = self
            .children
            .iter()
            .map(|(pid, &id)| (id, pid.as_raw() as u32))
            .collect();
        pids.sort_unstable();
        pids
    }

    /// Supervises until the workers are gone. Returns [`Outcome::Exit`] in the supervisor,
    /// and [`Outcome::Worker`] in a worker forked to replace a crashed one.
    ///
    /// # Examples
    ///
    /// See [`Supervisor`].
    pub fn run(mut self: Box<Self>) -> io::Result<Outcome> {
        loop {
            if self.children.is_empty() && self.slots.iter().all(|s| s.restart_at.is_none()) {
                if self.startup_failed {
                    tracing::error!("every worker failed to start (see above); exiting");
                }
                return Ok(Outcome::Exit(self.exit_status));
            }
            self.wait_for_signal()?;
            while let Some(info) = self.signals.read_signal()? {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGCHLD) => {}
                    Ok(sig @ (Signal::SIGTERM | Signal::SIGINT)) => self.on_stop_signal(sig),
                    Ok(Signal::SIGUSR2) => self.begin_upgrade(),
                    Ok(Signal::SIGHUP) => {
                        tracing::info!("received SIGHUP; passing it on to the workers");
                        self.reloading = Some(self.ready.clone());
                        self.emit(Lifecycle::Reloading);
                        self.signal_all(Signal::SIGHUP);
                    }
                    _ => {}
                }
            }
            self.reap()?;
            self.check_upgrade();
            self.read_reports();
            self.tick_watchdog();
            if let Some(Some(deadline)) = self.stopping
                && Instant::now() >= deadline
                && !self.children.is_empty()
            {
                tracing::warn!(
                    "{} worker(s) still running after the stop timeout; killing them",
                    self.children.len()
                );
                self.signal_all(Signal::SIGKILL);
                self.stopping = Some(None);
            }
            let now = Instant::now();
            for id in 0..self.slots.len() {
                if self.slots[id].restart_at.is_some_and(|at| at <= now) {
                    self.slots[id].restart_at = None;
                    if self.spawn(id)? == Side::Worker {
                        return Ok(Outcome::Worker(id));
                    }
                }
            }
        }
    }

    /// Sleeps until a signal arrives or the next restart or stop deadline is due.
    fn wait_for_signal(&self) -> io::Result<()> {
        let now = Instant::now();
        let next = self
            .slots
            .iter()
            .filter_map(|s| s.restart_at)
            .chain(self.stopping.flatten())
            .chain(self.watchdog.map(|(_, next)| next))
            .chain(self.successor.as_ref().map(Successor::deadline))
            .min();
        let timeout = match next {
            None => PollTimeout::NONE,
            Some(at) => {
                let ms = at.saturating_duration_since(now).as_millis() + 1;
                PollTimeout::try_from(ms.min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        if let Some(reports) = &self.reports {
            fds.push(PollFd::new(reports.read_end(), PollFlags::POLLIN));
        }
        if let Some(successor) = &self.successor {
            fds.push(PollFd::new(successor.ready_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Forks worker `id`. Runs the worker-side set-up in the child.
    fn spawn(&mut self, id: usize) -> io::Result<Side> {
        match fork()? {
            Forked::Child => {
                self.become_worker(id);
                Ok(Side::Worker)
            }
            Forked::Parent(pid) => {
                self.children.insert(pid, id);
                self.slots[id].started = Some(Instant::now());
                if let Some(hook) = self.on_spawn.as_mut() {
                    hook(id, pid.as_raw() as u32);
                }
                Ok(Side::Supervisor)
            }
        }
    }

    fn become_worker(&self, id: usize) {
        let _ = TASK_ID.set(id);
        if let Some(reports) = &self.reports {
            reports.become_worker();
        }
        if let Some((read, _)) = &self.handover_notice {
            super::keep_handover_notice(read);
        }
        // Die with the supervisor; if it already died, its death signal was missed.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        if getppid() != self.supervisor_pid {
            std::process::exit(1);
        }
        // The runtime built next must see the signals the supervisor blocked; a SIGHUP
        // before it handles them must not kill this worker.
        super::fork::ignore_reload_signals();
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.original_mask), None);
    }

    /// Collects every worker that exited, restarting or not as the rules say.
    fn reap(&mut self) -> io::Result<()> {
        // A worker reports a failed start-up before it exits: read that first.
        self.read_reports();
        loop {
            let status = waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG));
            let (pid, how) = match status {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Exit::Code(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, Exit::Signal(sig)),
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if let (Some(successor), Ok(status)) =
                (self.successor.as_mut().filter(|s| s.is(pid)), status)
            {
                successor.exited(status);
                continue;
            }
            // Children that are not workers (a subprocess of the application) are ignored.
            if let Some(id) = self.children.remove(&pid) {
                self.ready[id] = false;
                crate::metrics::worker_exited(id);
                self.worker_exited(id, pid, how);
                self.readiness_changed();
            }
        }
    }

    fn worker_exited(&mut self, id: usize, pid: Pid, how: Exit) {
        if self.stopping.is_some() {
            tracing::info!("child {id} (pid {pid}) {how}");
            return;
        }
        if how == Exit::Code(0) {
            tracing::info!("child {id} (pid {pid}) exited normally");
            return;
        }
        if !self.served && self.slots[id].failed_startup {
            if self.slots.iter().all(|slot| slot.failed_startup) {
                tracing::info!("child {id} (pid {pid}) {how}");
                // Said once the last worker is reaped, so that it is the last line.
                self.startup_failed = true;
                self.exit_status = 1;
                self.begin_stop();
            } else {
                // Restarted at once, it would likely fail again; if every worker fails
                // the server never starts, and if one serves this one tries again then.
                tracing::warn!(
                    "child {id} (pid {pid}) failed to start; waiting for the other workers"
                );
                self.slots[id].parked = true;
            }
            return;
        }
        tracing::warn!("child {id} (pid {pid}) {how}, restarting");
        self.restarts += 1;
        if self.restarts > self.max_restarts {
            tracing::error!("Too many child restarts, giving up");
            self.exit_status = 1;
            self.begin_stop();
            return;
        }
        crate::metrics::worker_restarted();
        let slot = &mut self.slots[id];
        let crashed_early = slot.started.is_some_and(|t| t.elapsed() < STABLE_UPTIME);
        slot.quick_crashes = if crashed_early {
            slot.quick_crashes + 1
        } else {
            0
        };
        let delay = match slot.quick_crashes {
            0 | 1 => Duration::ZERO,
            n => FIRST_BACKOFF
                .saturating_mul(1 << (n - 2).min(16))
                .min(MAX_BACKOFF),
        };
        if !delay.is_zero() {
            tracing::warn!("child {id} keeps crashing; restarting it in {delay:?}");
        }
        slot.restart_at = Some(Instant::now() + delay);
    }

    fn on_stop_signal(&mut self, sig: Signal) {
        if self.stopping.is_none() {
            tracing::info!("received {sig}; stopping {} worker(s)", self.children.len());
            self.begin_stop();
        } else if sig == Signal::SIGINT {
            tracing::warn!("received SIGINT again; killing the workers now");
            self.signal_all(Signal::SIGKILL);
            self.exit_status = 128 + Signal::SIGINT as i32;
        }
    }

    /// Hands `event` to the lifecycle hook.
    fn emit(&mut self, event: Lifecycle) {
        if let Some(hook) = self.on_lifecycle.as_mut() {
            hook(event);
        }
    }

    /// Takes in the workers' reports.
    fn read_reports(&mut self) {
        let Some(reports) = self.reports.as_mut() else {
            return;
        };
        for (id, report) in reports.drain() {
            if id >= self.ready.len() {
                continue;
            }
            match report {
                Report::Ready => {
                    self.ready[id] = true;
                    self.served = true;
                    self.slots[id].failed_startup = false;
                    // The server starts after all: the workers that failed try again.
                    for (parked, slot) in
                        self.slots.iter_mut().enumerate().filter(|(_, s)| s.parked)
                    {
                        tracing::info!("child {id} serves; restarting child {parked}");
                        slot.parked = false;
                        slot.restart_at = Some(Instant::now());
                    }
                    self.readiness_changed();
                }
                Report::StartupFailed => self.slots[id].failed_startup = true,
                Report::Reloaded => {
                    let done = self.reloading.as_mut().is_some_and(|waiting| {
                        waiting[id] = false;
                        !waiting.contains(&true)
                    });
                    if done {
                        self.reloading = None;
                        self.emit(Lifecycle::Reloaded);
                    }
                }
            }
        }
    }

    /// Emits `Ready` or `Degraded` when every worker's readiness changes as a whole.
    fn readiness_changed(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        let workers = self.ready.len();
        let ready = self.ready.iter().filter(|r| **r).count();
        if ready == workers && !self.all_ready {
            self.all_ready = true;
            self.emit(Lifecycle::Ready { workers });
        } else if ready < workers && self.all_ready {
            self.all_ready = false;
            self.emit(Lifecycle::Degraded { ready, workers });
        }
    }

    /// Emits `Watchdog` when its interval passed, if every worker is up.
    fn tick_watchdog(&mut self) {
        let Some((every, next)) = self.watchdog else {
            return;
        };
        let now = Instant::now();
        if now < next {
            return;
        }
        self.watchdog = Some((every, now + every));
        if self.all_ready && self.stopping.is_none() {
            self.emit(Lifecycle::Watchdog);
        }
    }

    /// SIGUSR2: starts the new binary, unless an upgrade or a stop is under way.
    fn begin_upgrade(&mut self) {
        // Checked first: a stop drops the upgrade's copies of the sockets.
        if self.stopping.is_some() {
            tracing::warn!("received SIGUSR2 while stopping; not upgrading");
            return;
        }
        let Some(spec) = &self.upgrade else {
            return;
        };
        if let Some(successor) = &self.successor {
            tracing::warn!(
                "received SIGUSR2 during an upgrade (new process pid {}); ignoring it",
                successor.pid()
            );
            return;
        }
        match spec.start() {
            Ok(successor) => {
                let pid = successor.pid();
                tracing::info!(
                    "received SIGUSR2; upgrading: started {} (pid {pid}) with the listening sockets, waiting for it to serve",
                    spec.program.display()
                );
                self.successor = Some(successor);
                self.emit(Lifecycle::Upgrading { pid });
            }
            Err(e) => {
                tracing::error!("upgrade failed: {e}; still serving");
                self.emit(Lifecycle::UpgradeFailed);
            }
        }
    }

    /// Follows an upgrade in progress: once the new binary serves, the workers stop.
    fn check_upgrade(&mut self) {
        let Some(successor) = self.successor.as_mut() else {
            return;
        };
        match successor.check() {
            Progress::Waiting => {}
            Progress::Ready => {
                let pid = successor.pid();
                self.successor = None;
                tracing::info!(
                    "the new process (pid {pid}) serves; stopping {} worker(s): they finish their connections",
                    self.children.len()
                );
                self.emit(Lifecycle::HandedOver { pid });
                // Closing the write end tells each worker that this stop is a hand-over.
                self.handover_notice = None;
                self.handed_over = true;
                self.begin_stop();
            }
            Progress::Failed(why) => {
                self.successor = None;
                tracing::error!("upgrade failed: {why}; still serving");
                self.emit(Lifecycle::UpgradeFailed);
            }
        }
    }

    /// Asks every worker to stop (SIGTERM) and cancels pending restarts.
    fn begin_stop(&mut self) {
        if let Some(successor) = self.successor.take() {
            tracing::warn!(
                "stopping during an upgrade: asking the new process (pid {}) to stop too",
                successor.pid()
            );
            successor.stop();
            self.emit(Lifecycle::UpgradeFailed);
        }
        // After a hand-over the new process speaks to the service manager.
        if self.stopping.is_none() && !self.handed_over {
            self.emit(Lifecycle::Stopping);
        }
        // No more upgrades or restarts: the copies of the sockets they needed go.
        self.upgrade = None;
        if let Some(hook) = self.on_stop.take() {
            hook();
        }
        self.stopping = Some(self.stop_timeout.map(|t| Instant::now() + t));
        for slot in &mut self.slots {
            slot.restart_at = None;
        }
        self.signal_all(Signal::SIGTERM);
    }

    fn signal_all(&self, sig: Signal) {
        for &pid in self.children.keys() {
            let _ = kill(pid, sig);
        }
    }
}

/// How a worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Code(i32),
    Signal(Signal),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(0) => f.write_str("exited normally"),
            Exit::Code(code) => write!(f, "exited with status {code}"),
            Exit::Signal(sig) => write!(f, "killed by signal {}", *sig as i32),
        }
    }
}
