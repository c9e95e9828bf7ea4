//! Listening sockets, as Tornado's `tornado.netutil` makes them: [`bind_sockets`] and
//! [`bind_unix_socket`]; and those a service manager hands over
//! ([`inherited_sockets`], systemd socket activation).
//!
//! Everything here is plain `std`/`socket2` and needs no runtime, so sockets can be bound
//! in a supervisor before it forks its workers (see [`crate::process`]). `unsafe` is
//! allowed in `inherited` only, which takes descriptors by number.

mod inherited;

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

pub use inherited::{InheritedSocket, inherited_sockets};

/// Tornado's `_DEFAULT_BACKLOG`: the default `listen()` backlog, 128.
pub const DEFAULT_BACKLOG: u32 = 128;

/// Which address families [`bind_sockets`] binds (Tornado's `family` argument).
///
/// # Examples
///
/// ```
/// use tcpserver::netutil::Family;
/// assert_eq!("ipv6".parse::<Family>().unwrap(), Family::V6);
/// assert_eq!(Family::default(), Family::Unspec);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// Every family the address resolves to (`AF_UNSPEC`).
    #[default]
    Unspec,
    /// IPv4 only (`AF_INET`).
    V4,
    /// IPv6 only (`AF_INET6`).
    V6,
}

impl Family {
    fn admits(self, addr: &SocketAddr) -> bool {
        match self {
            Family::Unspec => true,
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Unspec => "unspec",
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        })
    }
}

impl std::str::FromStr for Family {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "unspec" | "any" | "af_unspec" => Ok(Family::Unspec),
            "ipv4" | "inet" | "v4" | "af_inet" => Ok(Family::V4),
            "ipv6" | "inet6" | "v6" | "af_inet6" => Ok(Family::V6),
            _ => Err(format!(
                "unknown address family `{s}`; expected `unspec`, `ipv4` or `ipv6`"
            )),
        }
    }
}

/// Creates listening sockets bound to `port` on every address `address` resolves to.
///
/// This is Tornado's `bind_sockets`, rule for rule:
///
/// - `address` `None` or `""` binds all interfaces (`0.0.0.0` and `::`); a hostname binds
///   every address it resolves to, IPv4 before IPv6, duplicates skipped;
/// - `family` restricts the families; an address family the system lacks is skipped;
/// - `SO_REUSEADDR` is set; `SO_REUSEPORT` only when `reuse_port` is true;
/// - IPv6 sockets get `IPV6_V6ONLY`, so IPv4 is served by its own socket;
/// - with `port` 0, every returned socket shares the ephemeral port of the first one;
/// - for `localhost`, a `::1` that cannot be bound (`EADDRNOTAVAIL`) is skipped;
/// - sockets are listening, non-blocking and close-on-exec.
///
/// Errors name the address that failed, and keep the OS error's kind.
///
/// # Examples
///
/// ```
/// use tcpserver::netutil::{bind_sockets, Family, DEFAULT_BACKLOG};
///
/// assert_eq!(DEFAULT_BACKLOG, 128); // Tornado's
/// let sockets = bind_sockets(0, Some("127.0.0.1"), Family::Unspec, DEFAULT_BACKLOG, false)?;
/// assert_eq!(sockets.len(), 1);
/// assert_ne!(sockets[0].local_addr()?.port(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bind_sockets(
    port: u16,
    address: Option<&str>,
    family: Family,
    backlog: u32,
    reuse_port: bool,
) -> io::Result<Vec<TcpListener>> {
    bind_sockets_inner(port, address, family, backlog, reuse_port)
}

fn bind_sockets_inner(
    port: u16,
    address: Option<&str>,
    family: Family,
    backlog: u32,
    reuse_port: bool,
) -> io::Result<Vec<TcpListener>> {
    let address = address.filter(|a| !a.is_empty());
    let candidates = resolve(address, port, family)?;
    let is_localhost = address.is_some_and(|a| a.eq_ignore_ascii_case("localhost"));

    let mut sockets = Vec::with_capacity(candidates.len());
    let mut bound_port: Option<u16> = None;
    for mut addr in candidates {
        // Ephemeral port sharing: later families reuse the port the first socket got.
        if addr.port() == 0
            && let Some(p) = bound_port
        {
            addr.set_port(p);
        }
        let socket = match Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        {
            Ok(s) => s,
            // The system lacks this family (an IPv6-less kernel): skip it, as Tornado does.
            Err(e) if e.raw_os_error() == Some(nix::libc::EAFNOSUPPORT) => continue,
            Err(e) => return Err(annotate(e, "cannot create a socket for", &addr)),
        };
        configure(&socket, &addr, reuse_port)
            .map_err(|e| annotate(e, "cannot configure", &addr))?;
        match socket.bind(&SockAddr::from(addr)) {
            Ok(()) => {}
            // Docker and friends: `localhost` resolves to ::1 but IPv6 is half-disabled.
            Err(e)
                if is_localhost
                    && addr.ip() == IpAddr::V6(Ipv6Addr::LOCALHOST)
                    && e.raw_os_error() == Some(nix::libc::EADDRNOTAVAIL) =>
            {
                continue;
            }
            Err(e) => return Err(annotate(e, "cannot bind", &addr)),
        }
        socket
            .listen(backlog.min(i32::MAX as u32) as i32)
            .map_err(|e| annotate(e, "cannot listen on", &addr))?;
        let listener = TcpListener::from(socket);
        bound_port = Some(listener.local_addr()?.port());
        sockets.push(listener);
    }
    if sockets.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!(
                "no address to bind for {}:{port} (family {family})",
                address.unwrap_or("*")
            ),
        ));
    }
    Ok(sockets)
}

/// The addresses to bind, in Tornado's order: stable-sorted by family, duplicates skipped.
fn resolve(address: Option<&str>, port: u16, family: Family) -> io::Result<Vec<SocketAddr>> {
    let resolved: Vec<SocketAddr> = match address {
        // AI_PASSIVE with no host: the wildcard of each family.
        None => vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
        ],
        Some(host) => {
            // A bracketed IPv6 literal is accepted too, as users copy it from URLs.
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            match host.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => (host, port)
                    .to_socket_addrs()
                    .map_err(|e| io::Error::new(e.kind(), format!("cannot resolve {host}: {e}")))?
                    .collect(),
            }
        }
    };
    let mut seen = HashSet::new();
    let mut addrs: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| family.admits(a))
        .filter(|a| seen.insert(*a))
        .collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            format!("{} has no {family} address to bind", address.unwrap_or("*")),
        ));
    }
    Ok(addrs)
}

fn configure(socket: &Socket, addr: &SocketAddr, reuse_port: bool) -> io::Result<()> {
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)
}

fn annotate(err: io::Error, what: &str, addr: &SocketAddr) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {addr}: {err}"))
}

/// Tornado's default mode for [`bind_unix_socket`]: read and write for the owner only
/// (`0o600`).
pub const DEFAULT_UNIX_MODE: u32 = 0o600;

/// Creates a listening Unix-domain socket at `path` (Tornado's `bind_unix_socket`).
///
/// A stale socket file left at `path` by an earlier run is replaced; any other kind of file
/// there is refused with an error that names it. After binding, the file gets `mode`
/// ([`DEFAULT_UNIX_MODE`] is Tornado's default). A path starting with a NUL byte names a
/// Linux abstract socket, which has no file and no mode. The socket is non-blocking and
/// close-on-exec.
///
/// # Examples
///
/// ```
/// use tcpserver::netutil::{bind_unix_socket, DEFAULT_BACKLOG, DEFAULT_UNIX_MODE};
///
/// let dir = std::env::temp_dir().join(format!("tcpserver-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("server.sock");
/// let listener = bind_unix_socket(&path, DEFAULT_UNIX_MODE, DEFAULT_BACKLOG)?;
/// // Binding again over the stale file works.
/// drop(listener);
/// let _again = bind_unix_socket(&path, DEFAULT_UNIX_MODE, DEFAULT_BACKLOG)?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bind_unix_socket(
    path: impl AsRef<Path>,
    mode: u32,
    backlog: u32,
) -> io::Result<UnixListener> {
    let path = path.as_ref();
    let abstract_name = path.as_os_str().as_encoded_bytes().first() == Some(&0);
    let show = path.display();
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    if !abstract_name {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                std::fs::remove_file(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot remove stale socket {show}: {e}"))
                })?
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("File {show} exists and is not a socket"),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("cannot stat {show}: {e}"))),
        }
    }
    // socket2 treats a leading NUL as a Linux abstract name.
    let addr = SockAddr::unix(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {}: {e}", show_unix(path))))?;
    socket
        .bind(&addr)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {}: {e}", show_unix(path))))?;
    if !abstract_name {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| io::Error::new(e.kind(), format!("cannot chmod {show}: {e}")))?;
    }
    socket
        .listen(backlog.min(i32::MAX as u32) as i32)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}", show_unix(path)),
            )
        })?;
    Ok(UnixListener::from(std::os::fd::OwnedFd::from(socket)))
}

fn show_unix(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.first() == Some(&0) {
        format!("@{}", String::from_utf8_lossy(&bytes[1..]))
    } else {
        path.display().to_string()
    }
}

/// A listening socket of either kind, as [`TcpServer::add_sockets`](crate::TcpServer::add_sockets)
/// takes them.
///
/// # Examples
///
/// ```
/// use tcpserver::netutil::Listener;
/// let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let listener = Listener::from(tcp);
/// assert!(matches!(listener, Listener::Tcp(_)));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub enum Listener {
    /// A TCP socket, from [`bind_sockets`] or elsewhere.
    Tcp(TcpListener),
    /// A Unix-domain socket, from [`bind_unix_socket`] or elsewhere.
    Unix(UnixListener),
}

impl Listener {
    /// The local address as log lines show it: `127.0.0.1:8888`, `[::1]:8888`,
    /// `unix:/run/app.sock`, `unix:@name` (a Linux abstract socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use tcpserver::netutil::Listener;
    /// let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = tcp.local_addr()?.port();
    /// assert_eq!(Listener::from(tcp).describe(), format!("127.0.0.1:{port}"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "a TCP socket".to_owned(), |a| a.to_string()),
            Listener::Unix(l) => match l.local_addr() {
                Ok(a) => {
                    use std::os::linux::net::SocketAddrExt;
                    match (a.as_pathname(), a.as_abstract_name()) {
                        (Some(p), _) => format!("unix:{}", p.display()),
                        // `@name`, as `ss` and systemd write an abstract name.
                        (_, Some(name)) => format!("unix:@{}", name.escape_ascii()),
                        _ => "an unnamed Unix socket".to_owned(),
                    }
                }
                Err(_) => "a Unix socket".to_owned(),
            },
        }
    }
}

impl std::os::fd::AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l) => l.as_fd(),
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Self {
        Listener::Tcp(l)
    }
}

impl From<UnixListener> for Listener {
    fn from(l: UnixListener) -> Self {
        Listener::Unix(l)
    }
}
