//! Upgrades, the launcher's part: what the old process hands over on SIGUSR2 (its binary's
//! path, its arguments, every listening socket with its name), and what the new process
//! does with it (serve the sockets it inherits, tell the old one when it serves), plus the
//! pid file that follows the hand-over.
//!
//! The sockets cross as socket activation's do (`LISTEN_FDS`, `LISTEN_FDNAMES`): the
//! application's keep their names (`listen`, or those systemd gave), the admin listener is
//! `admin`, and `SO_REUSEPORT` workers' sockets are `tcpserver-worker-N`, so that a new
//! process with as many workers gives each the same queue again.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::netutil::Listener;
use crate::process::upgrade::UpgradeSpec;

/// The name of the admin listener among the handed-over sockets.
pub(super) const ADMIN_SOCKET: &str = "admin";

/// The name of the application's sockets the launcher bound itself.
pub(super) const LISTEN_SOCKET: &str = "listen";

/// The name of the Unix socket the launcher bound itself.
pub(super) const UNIX_SOCKET: &str = "unix";

const WORKER_SOCKET_PREFIX: &str = "tcpserver-worker-";

/// A listening socket of the application, with its hand-over name and, for
/// `SO_REUSEPORT` workers, the one worker that serves it.
#[derive(Debug)]
pub(super) struct Socket {
    pub(super) listener: Listener,
    pub(super) name: String,
    /// `None`: every process serves it.
    pub(super) worker: Option<usize>,
}

impl Socket {
    /// A socket every process serves.
    pub(super) fn shared(listener: Listener, name: &str) -> Self {
        Socket {
            listener,
            name: name.to_owned(),
            worker: None,
        }
    }

    /// Worker `worker`'s own `SO_REUSEPORT` socket.
    pub(super) fn of_worker(listener: Listener, worker: usize) -> Self {
        Socket {
            listener,
            name: format!("{WORKER_SOCKET_PREFIX}{worker}"),
            worker: Some(worker),
        }
    }

    /// True if the process `task_id` (`None`: the only process) serves it.
    pub(super) fn served_by(&self, task_id: Option<usize>) -> bool {
        match (self.worker, task_id) {
            (None, _) => true,
            (Some(worker), Some(id)) => worker == id,
            (Some(_), None) => true,
        }
    }
}

/// Names the inherited sockets' workers: when every one of `workers` workers has its own
/// `tcpserver-worker-N` socket (and no other worker's is left over), each is served by its
/// worker again, and every process serves the other sockets (a Unix socket beside them);
/// otherwise (another worker count, names from systemd) every process serves every socket.
pub(super) fn assign_workers(sockets: &mut [Socket], workers: Option<usize>) {
    let index = |s: &Socket| {
        s.name
            .strip_prefix(WORKER_SOCKET_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
    };
    let per_worker = workers.is_some_and(|n| {
        (0..n).all(|i| sockets.iter().any(|s| index(s) == Some(i)))
            && sockets.iter().all(|s| index(s).is_none_or(|i| i < n))
    });
    for socket in sockets {
        socket.worker = if per_worker { index(socket) } else { None };
    }
}

/// What SIGUSR2 hands over: copies of every listening socket, taken before the fork.
///
/// # Errors
///
/// A socket cannot be duplicated (out of descriptors).
pub(super) fn spec(
    program: Option<&Path>,
    args: &[OsString],
    sockets: &[Socket],
    admin: Option<&std::net::TcpListener>,
    timeout: Duration,
) -> io::Result<Option<UpgradeSpec>> {
    let Some(program) = program else {
        tracing::debug!("the binary's path is unknown: SIGUSR2 will not upgrade");
        return Ok(None);
    };
    let mut handed = Vec::with_capacity(sockets.len() + 1);
    for socket in sockets {
        handed.push((
            socket.listener.as_fd().try_clone_to_owned()?,
            socket.name.clone(),
        ));
    }
    if let Some(admin) = admin {
        handed.push((admin.as_fd().try_clone_to_owned()?, ADMIN_SOCKET.to_owned()));
    }
    Ok(Some(UpgradeSpec {
        program: program.to_owned(),
        args: args.to_vec(),
        sockets: handed,
        timeout,
    }))
}

/// The old process's report channel, in a process an upgrade started, until it serves.
static PREDECESSOR: Mutex<Option<OwnedFd>> = Mutex::new(None);

/// The pid file, if one is configured.
static PID_FILE: OnceLock<PathBuf> = OnceLock::new();

/// At start-up, before any thread: takes the old process's report channel if an upgrade
/// started this process, and remembers the pid file. Returns the old process's pid.
///
/// # Errors
///
/// The pid file cannot be written where it is asked for (a missing directory, no
/// permission): said at start-up, not discovered once the server serves.
pub(super) fn init(pid_file: Option<&Path>) -> io::Result<Option<u32>> {
    if let Some(path) = pid_file {
        // The file itself is written once the process serves; a file beside it now tells
        // whether that will work.
        let mut probe = path.as_os_str().to_owned();
        probe.push(format!(".{}.probe", std::process::id()));
        std::fs::write(&probe, b"").map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot write the pid file {}: {e}", path.display()),
            )
        })?;
        let _ = std::fs::remove_file(&probe);
        let _ = PID_FILE.set(path.to_owned());
    }
    let Some(fd) = crate::process::take_upgrade_report_fd() else {
        return Ok(None);
    };
    *lock() = Some(fd);
    Ok(Some(std::os::unix::process::parent_id()))
}

/// In a forked worker: the report belongs to the main process.
pub(super) fn forget_predecessor() {
    lock().take();
}

fn lock() -> std::sync::MutexGuard<'static, Option<OwnedFd>> {
    PREDECESSOR.lock().unwrap_or_else(|e| e.into_inner())
}

/// The main process serves: writes the pid file, and tells the old process of an upgrade
/// (the first time). Returns true if it told an old process, which then speaks to the
/// service manager for this one (`MAINPID=`).
pub(super) fn announce_ready() -> bool {
    if let Some(path) = PID_FILE.get()
        && let Err(e) = write_pid_file(path)
    {
        tracing::warn!("cannot write the pid file {}: {e}", path.display());
    }
    let Some(fd) = lock().take() else {
        return false;
    };
    match crate::process::report_upgraded(fd.as_fd()) {
        Ok(()) => {
            tracing::info!("serving; the previous process stops now");
            true
        }
        Err(e) => {
            tracing::warn!("cannot tell the previous process that this one serves: {e}");
            false
        }
    }
}

/// Writes this process's pid, replacing the file at once (never half-written).
fn write_pid_file(path: &Path) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&temporary, format!("{}\n", std::process::id()))?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// At the main process's exit: removes the pid file if it still holds this process's pid
/// (after an upgrade it holds the new one's).
pub(super) fn remove_pid_file() {
    let Some(path) = PID_FILE.get() else { return };
    let ours = std::fs::read_to_string(path)
        .is_ok_and(|text| text.trim() == std::process::id().to_string());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(name: &str) -> Socket {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Socket::shared(Listener::Tcp(listener), name)
    }

    #[test]
    fn worker_sockets_go_back_to_their_workers_only_when_every_worker_has_one() {
        let names = ["tcpserver-worker-1", "tcpserver-worker-0"];
        let mut sockets: Vec<Socket> = names.iter().map(|n| socket(n)).collect();
        assign_workers(&mut sockets, Some(2));
        assert_eq!(sockets[0].worker, Some(1));
        assert_eq!(sockets[1].worker, Some(0));
        assert!(sockets[0].served_by(Some(1)) && !sockets[0].served_by(Some(0)));
        // Three workers now: no queue is left without a worker, every worker serves all.
        assign_workers(&mut sockets, Some(3));
        assert!(sockets.iter().all(|s| s.worker.is_none()));
        // One process serves everything.
        assign_workers(&mut sockets, None);
        assert!(sockets.iter().all(|s| s.served_by(None)));
        // Beside the workers' sockets, a Unix socket every worker serves.
        let mut mixed = vec![socket("tcpserver-worker-0"), socket("unix")];
        assign_workers(&mut mixed, Some(1));
        assert_eq!(mixed[0].worker, Some(0));
        assert_eq!(mixed[1].worker, None);
        assert!(mixed[1].served_by(Some(0)));
    }
}
