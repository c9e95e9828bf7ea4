//! Example binaries run as a user would: started with arguments, their `listening on ADDR`
//! lines read from stderr, signalled, and awaited with a deadline.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// The path of an example binary, built on demand if `cargo test` did not build it.
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test binary> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--example", name])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build --example {name} failed");
    }
    path
}

/// A server process started from an example binary, in its own process group (so that
/// cleanup can reach every worker it forked).
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// The addresses from its `listening on ADDR` lines.
    pub addrs: Vec<SocketAddr>,
    status: Option<ExitStatus>,
}

impl ServerProcess {
    /// Starts `example` with `args` and waits (up to 30 s) for its `listening on` lines
    /// (TCP addresses land in [`addrs`](Self::addrs); a Unix socket's line counts too).
    /// Panics, showing stderr, if it exits or says nothing first.
    pub fn start(example: &str, args: &[&str]) -> Self {
        Self::start_command(example, Command::new(example_path(example)).args(args))
    }

    /// [`start`](Self::start) for a prepared command (its environment set), named
    /// `example` in messages.
    pub fn start_command(example: &str, command: &mut Command) -> Self {
        let mut process = Self::spawn_command(command);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if process.stderr().contains("listening on ") {
                // More sockets are logged right after the first one.
                std::thread::sleep(Duration::from_millis(100));
                process.addrs = listening_addrs(&process.stderr());
                return process;
            }
            if let Some(status) = process.try_wait() {
                panic!(
                    "{example} exited with {status} before listening; stderr:\n{}",
                    process.stderr()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{example} printed no `listening on` line in 30 s; stderr:\n{}",
                    process.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts `example` without waiting for anything.
    pub fn spawn(example: &str, args: &[&str]) -> Self {
        Self::spawn_command(Command::new(example_path(example)).args(args))
    }

    /// Starts a prepared command (stdin null, stdout inherited, stderr captured).
    pub fn spawn_command(command: &mut Command) -> Self {
        use std::os::unix::process::CommandExt;
        command
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        // A binary the test just wrote may still be open for writing in a child another
        // test thread forked meanwhile (until that child execs): ETXTBSY, for a moment.
        let mut attempts = 0;
        let mut child = loop {
            match command.spawn() {
                Err(e) if e.raw_os_error() == Some(nix::libc::ETXTBSY) && attempts < 100 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                spawned => break spawned.expect("spawn server process"),
            }
        };
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr pipe");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        ServerProcess {
            child,
            stderr,
            addrs: Vec::new(),
            status: None,
        }
    }

    /// SIGTERM, then waits (up to 20 s) for exit status 0, panicking with stderr otherwise;
    /// returns what the server wrote on stderr.
    pub fn stop(mut self) -> String {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let status = self
            .wait_timeout(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("no exit 20 s after SIGTERM; stderr:\n{}", self.stderr()));
        assert_eq!(status.code(), Some(0), "{}", self.stderr());
        self.stderr()
    }

    /// The first listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until its stderr contains `needle`, up to `timeout`.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> bool {
        crate::wait_until(timeout, || self.stderr().contains(needle))
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.pid() as i32), signal);
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits up to `timeout` for it to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                // Let the stderr reader catch up with the last lines.
                std::thread::sleep(Duration::from_millis(50));
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Live processes in its process group (itself and its workers).
    pub fn group_members(&self) -> Vec<u32> {
        processes_in_group(self.pid())
    }

    /// The pids of its child processes (its workers).
    pub fn children(&self) -> Vec<u32> {
        child_pids(self.pid())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.pid() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The addresses in `listening on ADDR` log lines.
pub fn listening_addrs(stderr: &str) -> Vec<SocketAddr> {
    stderr
        .lines()
        .filter_map(|line| line.split("listening on ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|addr| addr.parse().ok())
        .collect()
}

/// `(pid, ppid, pgrp, state)` of every process, from `/proc`.
fn all_processes() -> Vec<(u32, u32, u32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may contain spaces; fields resume after its closing paren.
        let rest = &stat[stat.rfind(')')? + 2..];
        let mut fields = rest.split(' ');
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgrp = fields.next()?.parse().ok()?;
        Some((pid, ppid, pgrp, state))
    })
    .collect()
}

/// Live (not zombie) processes whose process group is `pgid`.
pub fn processes_in_group(pgid: u32) -> Vec<u32> {
    all_processes()
        .into_iter()
        .filter(|&(_, _, pgrp, state)| pgrp == pgid && state != 'Z')
        .map(|(pid, ..)| pid)
        .collect()
}

/// Live (not zombie) children of `parent`.
pub fn child_pids(parent: u32) -> Vec<u32> {
    all_processes()
        .into_iter()
        .filter(|&(_, ppid, _, state)| ppid == parent && state != 'Z')
        .map(|(pid, ..)| pid)
        .collect()
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
    // Fields 14 and 15 (utime, stime) are at indices 11 and 12 after the command name.
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}
