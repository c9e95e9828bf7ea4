//! Where the server listens: Tornado's `bind_sockets` arguments, and `bind_unix_socket`'s.

use std::io;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use tcpserver_options::keys::Id;
use tcpserver_options::value::Value;

use super::{OptionGroup, Setting, choice, set_or_default};
use crate::launch::Launcher;
use crate::netutil::{self, Family};

/// The bind group: port, address, family, backlog, `SO_REUSEPORT`, and a Unix socket.
#[derive(Debug, Clone)]
pub(crate) struct Bind {
    /// `None`: no TCP port, only the Unix socket.
    pub(crate) port: Option<u16>,
    /// `None`: all interfaces.
    pub(crate) address: Option<String>,
    pub(crate) family: Family,
    pub(crate) backlog: u32,
    pub(crate) reuse_port: bool,
    /// A Unix socket to listen on too: a path, or `@name` for a Linux abstract socket.
    pub(crate) unix: Option<PathBuf>,
    /// `None`: Tornado's default, 0o600.
    pub(crate) unix_mode: Option<u32>,
}

impl Bind {
    /// Tornado's defaults on `port`.
    pub(crate) fn new(port: u16) -> Self {
        Bind {
            port: Some(port),
            address: None,
            family: Family::Unspec,
            backlog: netutil::DEFAULT_BACKLOG,
            reuse_port: false,
            unix: None,
            unix_mode: None,
        }
    }

    /// Binds the TCP sockets on `port` (see [`netutil::bind_sockets`]), each with
    /// `SO_REUSEPORT` if `reuse_port` (one worker's own sockets in `reuse_port` mode, bound
    /// before the fork).
    pub(crate) fn bind(&self, port: u16, reuse_port: bool) -> io::Result<Vec<TcpListener>> {
        let address = self.address.as_deref();
        netutil::bind_sockets(port, address, self.family, self.backlog, reuse_port)
    }

    /// Binds the Unix socket, if there is one (see [`netutil::bind_unix_socket`]).
    pub(crate) fn bind_unix(&self) -> io::Result<Option<UnixListener>> {
        let Some(path) = &self.unix else {
            return Ok(None);
        };
        let mode = self.unix_mode.unwrap_or(netutil::DEFAULT_UNIX_MODE);
        netutil::bind_unix_socket(socket_path(path), mode, self.backlog).map(Some)
    }
}

/// `@name` names a Linux abstract socket (as systemd and `ss` write it): `\0name` for
/// [`netutil::bind_unix_socket`]. A file whose name starts with `@` is `./@name`.
fn socket_path(path: &Path) -> PathBuf {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    match path.as_os_str().as_bytes().strip_prefix(b"@") {
        Some(name) => PathBuf::from(std::ffi::OsString::from_vec([b"\0", name].concat())),
        None => path.to_owned(),
    }
}

impl OptionGroup for Bind {
    fn set(&mut self, id: Id, value: &Value) {
        match id {
            Id::Port => self.port = Some(u16::try_from(value.integer()).unwrap_or(u16::MAX)),
            Id::Address => self.address = Some(value.text().to_owned()).filter(|a| !a.is_empty()),
            Id::Family => self.family = value.choice().name.parse().unwrap_or_default(),
            Id::Backlog => self.backlog = u32::try_from(value.integer()).unwrap_or(u32::MAX),
            Id::ReusePort => self.reuse_port = value.bool(),
            Id::Unix => self.unix = Some(PathBuf::from(value.text())),
            Id::UnixMode => self.unix_mode = Some(value.mode()),
            _ => unreachable!("`{id}` is not a bind option"),
        }
    }

    fn get(&self, id: Id) -> Setting {
        match id {
            Id::Port => self.port.map_or(Setting::Unset, |port| {
                Setting::Set(Value::Integer(port.into()))
            }),
            Id::Address => match &self.address {
                Some(address) => Setting::Set(Value::Text(address.clone())),
                None => Setting::Unset,
            },
            Id::Family => Setting::Set(choice(id, &self.family.to_string())),
            Id::Backlog => Setting::Set(Value::Integer(self.backlog.into())),
            Id::ReusePort => Setting::Set(Value::Bool(self.reuse_port)),
            Id::Unix => self.unix.as_ref().map_or(Setting::Unset, |path| {
                Setting::Set(Value::Text(path.display().to_string()))
            }),
            Id::UnixMode => set_or_default(
                self.unix_mode.is_some(),
                Value::Mode(self.unix_mode.unwrap_or(netutil::DEFAULT_UNIX_MODE)),
            ),
            _ => unreachable!("`{id}` is not a bind option"),
        }
    }
}

impl Launcher {
    /// A launcher for a server on the Unix socket at `path` only, with every other
    /// setting at its default: `#[tcp_server(unix = "...")]` without a `port`. `--port`
    /// adds a TCP port at run time; see [`unix`](Self::unix) for the socket.
    pub fn new_unix(path: impl Into<PathBuf>) -> Self {
        let mut launcher = Launcher::new(0).unix(path);
        launcher.bind.port = None;
        launcher
    }

    /// The port to listen on (`--port`); 0 picks a free one, logged at start-up.
    pub fn port(mut self, port: u16) -> Self {
        self.bind.port = Some(port);
        self
    }

    /// The address or host name to bind (`--address`; default all interfaces). A host
    /// name binds every address it resolves to.
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.bind.address = Some(address.into()).filter(|a: &String| !a.is_empty());
        self
    }

    /// The address families to bind (`--family`; default both).
    pub fn family(mut self, family: Family) -> Self {
        self.bind.family = family;
        self
    }

    /// The listen backlog, of the TCP sockets and the Unix socket (`--backlog`; default
    /// 128).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.bind.backlog = backlog;
        self
    }

    /// Sets `SO_REUSEPORT` (`--reuse-port`; default false). With several processes, each
    /// worker then binds its own socket and the kernel balances connections between them.
    pub fn reuse_port(mut self, reuse_port: bool) -> Self {
        self.bind.reuse_port = reuse_port;
        self
    }

    /// Listen on a Unix socket at `path` too (`--unix`; default none), as Tornado's
    /// `bind_unix_socket` makes it: a stale socket file left there by an earlier run is
    /// replaced, any other file is a start-up error naming it, and the file gets
    /// [`unix_mode`](Self::unix_mode). `@name` (or `\0name`) is a Linux abstract socket,
    /// which has no file. The socket is bound before the workers are forked, and every
    /// worker serves it; it is handed over on an upgrade like the TCP sockets (so the file
    /// is left in place at exit, for the next start to replace). Handlers see its peers
    /// at `0.0.0.0:0`.
    pub fn unix(mut self, path: impl Into<PathBuf>) -> Self {
        self.bind.unix = Some(path.into());
        self
    }

    /// The permissions of the Unix socket's file (`--unix-mode`, in octal; default
    /// `0o600`, Tornado's: the owner only).
    pub fn unix_mode(mut self, mode: u32) -> Self {
        self.bind.unix_mode = Some(mode);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_names_an_abstract_socket() {
        assert_eq!(socket_path(Path::new("@app")), Path::new("\0app"));
        assert_eq!(socket_path(Path::new("./@app")), Path::new("./@app"));
        assert_eq!(
            socket_path(Path::new("/run/app.sock")),
            Path::new("/run/app.sock")
        );
    }
}
