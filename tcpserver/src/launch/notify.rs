//! Telling the service manager how the server is doing (`sd_notify(3)`, through the
//! `sd-notify` crate): `READY=1` once every process accepts, `RELOADING=1` with
//! `MONOTONIC_USEC=` on SIGHUP and `READY=1` after the reload (systemd's
//! `Type=notify-reload`), `STOPPING=1` when a stop begins, `STATUS=` lines on the way, and
//! `WATCHDOG=1` at half of `WATCHDOG_USEC` while every worker is up. An upgrade (SIGUSR2)
//! is a reload too: `RELOADING=1` when the new binary starts, then `MAINPID=` its pid with
//! `READY=1` once it serves (it is the main process from then on), or `READY=1` alone if it
//! failed.
//!
//! Only the main process speaks (systemd's default `NotifyAccess=main`): with workers,
//! the supervisor speaks for them. Without `NOTIFY_SOCKET` nothing is sent.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::process::Lifecycle;

/// The main process's line to the service manager.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notifier {
    /// `NOTIFY_SOCKET` is set.
    enabled: bool,
    /// Half of `WATCHDOG_USEC`, when the service manager watches.
    watchdog: Option<Duration>,
    /// The drain delay, for the status line of a stop.
    drain: Duration,
}

impl Notifier {
    /// From the environment the service manager set; `drain` is the drain delay.
    pub(crate) fn from_env(drain: Duration) -> Self {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        Notifier {
            enabled,
            watchdog: sd_notify::watchdog_enabled()
                .filter(|_| enabled)
                .map(|usec| usec / 2),
            drain,
        }
    }

    /// The status line of a stop.
    pub(crate) fn stop_status(&self) -> String {
        if self.drain.is_zero() {
            "stopping".to_owned()
        } else {
            format!(
                "draining: accepting for {} more, not ready; then stopping",
                tcpserver_options::units::format_duration(self.drain)
            )
        }
    }

    /// How often to send `WATCHDOG=1`, if the service manager watches.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            tracing::debug!("cannot notify the service manager: {e}");
        }
    }

    /// The main process serves: the pid file is written, and the first time, in a process
    /// an upgrade started, the old process is told instead of the service manager (it
    /// then sends `MAINPID=` with `READY=1` for this one).
    pub(crate) fn ready(&self, status: &str) {
        if super::upgrade::announce_ready() {
            return;
        }
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    pub(crate) fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    pub(crate) fn reloading(&self, status: &str) {
        if !self.enabled {
            return;
        }
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now, NotifyState::Status(status)]),
            Err(e) => tracing::debug!("cannot read the monotonic clock: {e}"),
        }
    }

    /// SIGUSR2 started the new binary `pid`.
    pub(crate) fn upgrading(&self, pid: u32) {
        self.reloading(&format!("upgrading: new process (pid {pid}) starting"));
    }

    /// The new binary `pid` serves: it is the main process now.
    pub(crate) fn handed_over(&self, pid: u32) {
        self.send(&[
            NotifyState::MainPid(pid),
            NotifyState::Ready,
            NotifyState::Status(&format!("serving (pid {pid}, upgraded)")),
        ]);
    }

    /// The new binary failed: this process serves on.
    pub(crate) fn upgrade_failed(&self) {
        self.send(&[
            NotifyState::Ready,
            NotifyState::Status("serving; the upgrade failed (see the log)"),
        ]);
    }

    pub(crate) fn stopping(&self, status: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    pub(crate) fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// What the supervisor of several workers says about them.
    pub(crate) fn lifecycle(&self, event: Lifecycle) {
        match event {
            Lifecycle::Ready { workers } => self.ready(&format!("serving, {workers} worker(s)")),
            Lifecycle::Degraded { ready, workers } => self.status(&format!(
                "{ready} of {workers} worker(s) serving, restarting the others"
            )),
            Lifecycle::Reloading => self.reloading("reloading TLS certificates"),
            Lifecycle::Reloaded => self.ready("serving, certificates reloaded"),
            Lifecycle::Stopping => self.stopping(&self.stop_status()),
            Lifecycle::Watchdog => self.watchdog(),
            Lifecycle::Upgrading { pid } => self.upgrading(pid),
            Lifecycle::HandedOver { pid } => self.handed_over(pid),
            Lifecycle::UpgradeFailed => self.upgrade_failed(),
        }
    }
}
