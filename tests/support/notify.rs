//! A service manager's notification socket (`NOTIFY_SOCKET`, `sd_notify(3)`), for the
//! tests that check what a server tells systemd.

use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// The datagram socket a service manager listens on, in a fresh directory.
pub struct NotifySocket {
    socket: std::os::unix::net::UnixDatagram,
    dir: std::path::PathBuf,
    /// The socket's path: the value of `NOTIFY_SOCKET`.
    pub path: std::path::PathBuf,
}

impl NotifySocket {
    pub fn new() -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tcpserver-notify-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        NotifySocket { socket, dir, path }
    }

    /// Messages until one contains `needle` (all of them, that one last).
    pub fn until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = message.contains(needle);
                seen.push(message);
                if done {
                    return seen;
                }
            }
        }
        panic!("no {needle:?} within {WAIT:?}; got {seen:?}");
    }
}

impl Default for NotifySocket {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
