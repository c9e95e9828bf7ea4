//! bind_sockets and bind_unix_socket: Tornado's `tornado/test/netutil_test.py`
//! (`TestPortAllocation.test_same_port_allocation`, `test_reuse_port`) and every rule of
//! `tornado/netutil.py`'s `bind_sockets` and `bind_unix_socket`.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::Duration;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use tcpserver::netutil::{
    DEFAULT_BACKLOG, DEFAULT_UNIX_MODE, Family, bind_sockets, bind_unix_socket,
};

fn connects(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok()
}

fn ipv6_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn test_same_port_allocation() {
    // Port 0 on every interface: both families get the first socket's port.
    let sockets = bind_sockets(0, None, Family::Unspec, DEFAULT_BACKLOG, false).unwrap();
    let addrs: Vec<SocketAddr> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
    let port = addrs[0].port();
    assert!(addrs.iter().all(|a| a.port() == port), "{addrs:?}");
    assert!(addrs[0].is_ipv4(), "IPv4 comes first: {addrs:?}");
    assert!(connects(SocketAddr::from(([127, 0, 0, 1], port))));
    if ipv6_available() {
        assert_eq!(addrs.len(), 2, "{addrs:?}");
        assert!(connects(SocketAddr::from((
            std::net::Ipv6Addr::LOCALHOST,
            port
        ))));
    }
}

#[test]
fn test_reuse_port() {
    let first = bind_sockets(0, Some("127.0.0.1"), Family::Unspec, DEFAULT_BACKLOG, true).unwrap();
    let port = first[0].local_addr().unwrap().port();
    let second = bind_sockets(
        port,
        Some("127.0.0.1"),
        Family::Unspec,
        DEFAULT_BACKLOG,
        true,
    );
    assert_eq!(second.unwrap()[0].local_addr().unwrap().port(), port);
}

#[test]
fn port_in_use_names_the_address() {
    let first = bind_sockets(0, Some("127.0.0.1"), Family::Unspec, DEFAULT_BACKLOG, false).unwrap();
    let addr = first[0].local_addr().unwrap();
    let err = bind_sockets(
        addr.port(),
        Some("127.0.0.1"),
        Family::Unspec,
        DEFAULT_BACKLOG,
        false,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn ipv6_sockets_are_v6_only() {
    if !ipv6_available() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let sockets = bind_sockets(0, Some("::"), Family::Unspec, DEFAULT_BACKLOG, false).unwrap();
    assert_eq!(sockets.len(), 1);
    let port = sockets[0].local_addr().unwrap().port();
    assert!(connects(SocketAddr::from((
        std::net::Ipv6Addr::LOCALHOST,
        port
    ))));
    // IPv4 is not served by the IPv6 socket (no v4-mapped addresses).
    assert!(!connects(SocketAddr::from(([127, 0, 0, 1], port))));
}

#[test]
fn family_filters_addresses() {
    let v4 = bind_sockets(0, None, Family::V4, DEFAULT_BACKLOG, false).unwrap();
    assert!(v4.iter().all(|s| s.local_addr().unwrap().is_ipv4()));
    assert_eq!(v4.len(), 1);
    if ipv6_available() {
        let v6 = bind_sockets(0, None, Family::V6, DEFAULT_BACKLOG, false).unwrap();
        assert_eq!(v6.len(), 1);
        assert!(v6[0].local_addr().unwrap().is_ipv6());
    }
    // An address of the wrong family binds nothing: a clear error.
    let err = bind_sockets(0, Some("127.0.0.1"), Family::V6, DEFAULT_BACKLOG, false).unwrap_err();
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

#[test]
fn localhost_and_literals() {
    let sockets =
        bind_sockets(0, Some("localhost"), Family::Unspec, DEFAULT_BACKLOG, false).unwrap();
    assert!(!sockets.is_empty());
    for s in &sockets {
        assert!(s.local_addr().unwrap().ip().is_loopback());
    }
    if ipv6_available() {
        let bracketed =
            bind_sockets(0, Some("[::1]"), Family::Unspec, DEFAULT_BACKLOG, false).unwrap();
        assert!(bracketed[0].local_addr().unwrap().is_ipv6());
    }
    // "" means all interfaces, like None.
    let all = bind_sockets(0, Some(""), Family::V4, DEFAULT_BACKLOG, false).unwrap();
    assert!(all[0].local_addr().unwrap().ip().is_unspecified());
}

#[test]
fn unknown_host_is_an_error_naming_it() {
    let err = bind_sockets(
        0,
        Some("no-such-host.invalid"),
        Family::Unspec,
        DEFAULT_BACKLOG,
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
}

#[test]
fn sockets_are_nonblocking_and_close_on_exec() {
    for s in bind_sockets(0, Some("127.0.0.1"), Family::Unspec, DEFAULT_BACKLOG, false).unwrap() {
        let fl = OFlag::from_bits_truncate(fcntl(s.as_fd(), FcntlArg::F_GETFL).unwrap());
        assert!(fl.contains(OFlag::O_NONBLOCK));
        let fd = FdFlag::from_bits_truncate(fcntl(s.as_fd(), FcntlArg::F_GETFD).unwrap());
        assert!(fd.contains(FdFlag::FD_CLOEXEC));
    }
}

#[test]
fn backlog_is_applied() {
    let sockets = bind_sockets(0, Some("127.0.0.1"), Family::Unspec, 37, false).unwrap();
    let port = sockets[0].local_addr().unwrap().port();
    // For a listening socket, `ss` reports the backlog as Send-Q.
    let Ok(out) = std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
    else {
        eprintln!("skipped: no ss");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let send_q: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(send_q.get(2), Some(&"37"), "{text}");
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpserver-netutil-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn unix_socket_mode_and_stale_file() {
    let dir = temp_dir("unix");
    let path = dir.join("s.sock");
    let listener = bind_unix_socket(&path, DEFAULT_UNIX_MODE, DEFAULT_BACKLOG).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    std::os::unix::net::UnixStream::connect(&path).unwrap();
    drop(listener);
    // A stale socket from an earlier run is replaced; another mode is applied.
    let _again = bind_unix_socket(&path, 0o660, DEFAULT_BACKLOG).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o660
    );
    std::os::unix::net::UnixStream::connect(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_socket_refuses_to_replace_a_regular_file() {
    let dir = temp_dir("file");
    let path = dir.join("not-a-socket");
    std::fs::write(&path, b"precious").unwrap();
    let err = bind_unix_socket(&path, DEFAULT_UNIX_MODE, DEFAULT_BACKLOG).unwrap_err();
    assert!(
        err.to_string().contains("exists and is not a socket"),
        "{err}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn abstract_unix_socket() {
    let name = format!("\0tcpserver-test-{}", std::process::id());
    let listener = bind_unix_socket(&name, DEFAULT_UNIX_MODE, DEFAULT_BACKLOG).unwrap();
    let addr = listener.local_addr().unwrap();
    use std::os::linux::net::SocketAddrExt;
    assert!(addr.as_abstract_name().is_some());
    std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
}
