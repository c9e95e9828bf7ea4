//! Helpers shared by the integration tests of `tcpserver` (this package owns `examples/`
//! and `tests/`; it is not published): log capture, example binaries run as a user would,
//! and small blocking clients.
#![forbid(unsafe_code)]

pub mod admin;
pub mod fuzzing;
pub mod logs;
pub mod nginx;
pub mod notify;
pub mod proc;
pub mod python;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A blocking line client with timeouts, for tests that talk to a server process: over
/// TCP, or over a Unix socket.
#[derive(Debug)]
pub struct LineClient<S = TcpStream> {
    reader: BufReader<S>,
}

impl LineClient {
    /// Connects with a 10 s timeout on every operation.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(LineClient {
            reader: BufReader::new(stream),
        })
    }
}

impl LineClient<UnixStream> {
    /// Connects to the Unix socket at `path` (`@name`: a Linux abstract socket), with a
    /// 10 s timeout on every operation.
    pub fn connect_unix(path: &Path) -> std::io::Result<Self> {
        let stream = match path.to_str().and_then(|p| p.strip_prefix('@')) {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                UnixStream::connect_addr(&addr)?
            }
            None => UnixStream::connect(path)?,
        };
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(LineClient {
            reader: BufReader::new(stream),
        })
    }
}

impl<S: Read + Write> LineClient<S> {
    /// Sends `line` plus a newline.
    pub fn send(&mut self, line: &str) -> std::io::Result<()> {
        let stream = self.reader.get_mut();
        stream.write_all(line.as_bytes())?;
        stream.write_all(b"\n")
    }

    /// Reads one line, without its newline; `None` at end of stream.
    pub fn recv(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches('\n').to_owned()))
    }

    /// Sends a line and returns the reply line.
    pub fn roundtrip(&mut self, line: &str) -> std::io::Result<String> {
        self.send(line)?;
        self.recv()?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))
    }
}

impl LineClient {
    /// True if the server closed the connection (EOF or reset) within `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let _ = self.reader.get_ref().set_read_timeout(Some(timeout));
        let mut buf = [0u8; 1];
        match self.reader.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    /// The underlying socket.
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }
}

/// `curl --silent --show-error --max-time 20 ARGS...`: what it printed. Panics, with
/// curl's own message, if it fails.
pub fn curl(args: &[&str]) -> String {
    let out = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A directory of its own under the system's temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory, named after `tag`, this process and a counter.
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tcpserver-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to `name` in the directory (replacing the file in one step, as a
    /// certificate renewal tool does) and returns its path.
    pub fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, contents).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
