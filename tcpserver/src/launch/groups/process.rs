//! Processes and runtimes: how many workers, how often they may crash, which tokio runtime
//! each one runs, how long a graceful shutdown may take, and how the binary is replaced
//! (an upgrade's deadline, the pid file that follows it).

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tcpserver_options::keys::Id;
use tcpserver_options::value::Value;

use super::{OptionGroup, Setting, choice};
use crate::launch::Launcher;
use crate::launch::notify::Notifier;
use crate::process::upgrade::UpgradeSpec;
use crate::process::{DEFAULT_MAX_RESTARTS, Outcome, Started, Supervisor};

/// Default of [`Launcher::shutdown_timeout`]: 30 seconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Default of [`Launcher::upgrade_timeout`]: 30 seconds.
pub const DEFAULT_UPGRADE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the supervisor gives a worker past the shutdown timeout before killing it.
const STOP_MARGIN: Duration = Duration::from_secs(5);

/// Which tokio runtime each server process runs ([`Launcher::runtime`]).
///
/// # Examples
///
/// ```
/// use tcpserver::Launcher;
/// use tcpserver::launch::RuntimeFlavor;
///
/// // Four workers, each with a two-thread runtime (then `launcher.run(handler)`):
/// let launcher = Launcher::new(8888)
///     .processes(4)
///     .runtime(RuntimeFlavor::MultiThread)
///     .worker_threads(2);
///
/// // `--runtime` spells the flavors `multi-thread` and `current-thread`.
/// assert_eq!(RuntimeFlavor::CurrentThread.as_str(), "current-thread");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFlavor {
    /// One thread per CPU (or [`Launcher::worker_threads`]); the default for one process.
    MultiThread,
    /// Everything on the process's main thread; the default for forked workers, as in
    /// Tornado (one event loop per process).
    CurrentThread,
}

impl RuntimeFlavor {
    /// The flag spelling: `multi-thread` or `current-thread`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeFlavor::MultiThread => "multi-thread",
            RuntimeFlavor::CurrentThread => "current-thread",
        }
    }

    /// The attribute spelling, as the option table names the choice.
    fn name(self) -> &'static str {
        match self {
            RuntimeFlavor::MultiThread => "multi_thread",
            RuntimeFlavor::CurrentThread => "current_thread",
        }
    }
}

/// The process group: workers, restarts, runtime, shutdown deadline.
#[derive(Debug, Clone)]
pub(crate) struct Process {
    /// 1: no fork; 0: one worker per CPU.
    pub(crate) processes: usize,
    pub(crate) max_restarts: usize,
    /// `None`: multi-thread for one process, current-thread per forked worker.
    pub(crate) runtime: Option<RuntimeFlavor>,
    /// `None`: one thread per CPU.
    pub(crate) worker_threads: Option<usize>,
    pub(crate) shutdown_timeout: Duration,
    /// After SIGTERM, how long to keep accepting before the graceful shutdown.
    pub(crate) drain_delay: Duration,
    /// On SIGUSR2, how long the new binary has to serve.
    pub(crate) upgrade_timeout: Duration,
    /// Where the main process writes its pid once it serves.
    pub(crate) pid_file: Option<PathBuf>,
}

impl Default for Process {
    fn default() -> Self {
        Process {
            processes: 1,
            max_restarts: DEFAULT_MAX_RESTARTS,
            runtime: None,
            worker_threads: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            drain_delay: Duration::ZERO,
            upgrade_timeout: DEFAULT_UPGRADE_TIMEOUT,
            pid_file: None,
        }
    }
}

impl Process {
    /// True if the server runs in forked workers under a supervisor.
    pub(crate) fn forks(&self) -> bool {
        self.processes != 1
    }

    /// Forks the workers and, in the supervisor, supervises them. Returns the task id in
    /// a worker, or the supervisor's exit status once supervision is over.
    pub(crate) fn supervise(
        &self,
        notifier: Notifier,
        upgrade: Option<UpgradeSpec>,
        on_stop: impl FnOnce() + 'static,
    ) -> io::Result<Result<usize, ExitCode>> {
        // Workers get the drain delay and the shutdown timeout, plus a margin, before the
        // supervisor kills them.
        let mut supervisor = Supervisor::new(self.processes)
            .max_restarts(self.max_restarts)
            .stop_timeout(self.drain_delay + self.shutdown_timeout + STOP_MARGIN)
            .on_lifecycle(move |event| notifier.lifecycle(event))
            .on_stop(on_stop);
        if let Some(interval) = notifier.watchdog_interval() {
            supervisor = supervisor.watchdog(interval);
        }
        if let Some(upgrade) = upgrade {
            supervisor = supervisor.upgrades(upgrade);
        }
        let outcome = match supervisor.start()? {
            Started::Worker(id) => Outcome::Worker(id),
            Started::Supervisor(supervision) => supervision.run()?,
        };
        Ok(match outcome {
            Outcome::Worker(id) => Ok(id),
            Outcome::Exit(code) => Err(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        })
    }

    /// This process's runtime, built after the fork.
    pub(crate) fn build_runtime(&self) -> io::Result<tokio::runtime::Runtime> {
        // Explicit worker threads ask for a multi-thread runtime, in forked workers too.
        let flavor = self
            .runtime
            .unwrap_or(if self.forks() && self.worker_threads.is_none() {
                RuntimeFlavor::CurrentThread
            } else {
                RuntimeFlavor::MultiThread
            });
        let mut builder = match flavor {
            RuntimeFlavor::MultiThread => tokio::runtime::Builder::new_multi_thread(),
            RuntimeFlavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        };
        if let (RuntimeFlavor::MultiThread, Some(n)) = (flavor, self.worker_threads) {
            builder.worker_threads(n);
        }
        builder.enable_all().build()
    }
}

impl OptionGroup for Process {
    fn set(&mut self, id: Id, value: &Value) {
        match id {
            Id::Processes => self.processes = value.usize(),
            Id::MaxRestarts => self.max_restarts = value.usize(),
            Id::Runtime => {
                self.runtime = Some(match value.choice().name {
                    "current_thread" => RuntimeFlavor::CurrentThread,
                    _ => RuntimeFlavor::MultiThread,
                });
            }
            Id::WorkerThreads => self.worker_threads = Some(value.usize()),
            Id::ShutdownTimeout => self.shutdown_timeout = value.duration().unwrap_or_default(),
            Id::DrainDelay => self.drain_delay = value.duration().unwrap_or_default(),
            Id::UpgradeTimeout => {
                self.upgrade_timeout = value.duration().unwrap_or(DEFAULT_UPGRADE_TIMEOUT);
            }
            Id::PidFile => self.pid_file = Some(PathBuf::from(value.text())),
            _ => unreachable!("`{id}` is not a process option"),
        }
    }

    fn get(&self, id: Id) -> Setting {
        let count = |n: usize| Setting::Set(Value::Integer(n as u64));
        match id {
            Id::Processes => count(self.processes),
            Id::MaxRestarts => count(self.max_restarts),
            Id::Runtime => self
                .runtime
                .map_or(Setting::Unset, |r| Setting::Set(choice(id, r.name()))),
            Id::WorkerThreads => self.worker_threads.map_or(Setting::Unset, count),
            Id::ShutdownTimeout => Setting::Set(Value::Duration(Some(self.shutdown_timeout))),
            Id::DrainDelay => Setting::Set(Value::Duration(Some(self.drain_delay))),
            Id::UpgradeTimeout => Setting::Set(Value::Duration(Some(self.upgrade_timeout))),
            Id::PidFile => self.pid_file.as_ref().map_or(Setting::Unset, |path| {
                Setting::Set(Value::Text(path.display().to_string()))
            }),
            _ => unreachable!("`{id}` is not a process option"),
        }
    }
}

impl Launcher {
    /// How many worker processes to fork (`--processes`; default 1, no fork; 0 means one
    /// per CPU available to the process).
    pub fn processes(mut self, processes: usize) -> Self {
        self.process.processes = processes;
        self
    }

    /// How many worker crashes the supervisor tolerates in total (`--max-restarts`;
    /// default 100).
    pub fn max_restarts(mut self, max_restarts: usize) -> Self {
        self.process.max_restarts = max_restarts;
        self
    }

    /// The runtime of each process (`--runtime`; default multi-thread for one process,
    /// current-thread per forked worker).
    pub fn runtime(mut self, flavor: RuntimeFlavor) -> Self {
        self.process.runtime = Some(flavor);
        self
    }

    /// Threads of a multi-thread runtime (`--worker-threads`; default one per CPU). Given
    /// with several processes, each worker runs a multi-thread runtime of this many threads
    /// instead of a current-thread one.
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.process.worker_threads = Some(threads);
        self
    }

    /// How long connections may take to finish after SIGTERM/SIGINT before they are
    /// closed (`--shutdown-timeout`; default 30 s), after the drain delay.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.process.shutdown_timeout = timeout;
        self
    }

    /// After SIGTERM, how long to keep accepting and serving while readiness reports not
    /// ready, before stopping (`--drain-delay`; default 0): the time a load balancer or a
    /// Kubernetes Service takes to stop sending new clients. HTTP connections are told to
    /// close as soon as it begins (see [`TcpServer::drain`](crate::tcpserver::TcpServer::drain)).
    /// A stop then takes at most `drain_delay + shutdown_timeout`: keep that below
    /// Kubernetes' `terminationGracePeriodSeconds`. SIGINT stops without a drain.
    pub fn drain_delay(mut self, delay: Duration) -> Self {
        self.process.drain_delay = delay;
        self
    }

    /// On SIGUSR2, how long the new binary has to report that it serves before it is
    /// killed and this one serves on (`--upgrade-timeout`; default 30 s). See the
    /// [module documentation](crate::launch) for the upgrade.
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.process.upgrade_timeout = timeout;
        self
    }

    /// Write the main process's pid to this file once it serves (`--pid-file`; default
    /// none). After an upgrade the new binary writes its own; a process removes the file at
    /// exit only while it still holds its own pid.
    pub fn pid_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.process.pid_file = Some(path.into());
        self
    }
}
