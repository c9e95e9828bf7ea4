//! Listening sockets inherited from the process that started this one: systemd's socket
//! activation (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`; see `sd_listen_fds(3)`).
//!
//! The one module of `netutil` with `unsafe`: taking ownership of descriptors by number,
//! and removing the variables from the environment.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use socket2::{Domain, Socket, Type};

use super::Listener;

/// A listening socket handed over at start-up, with the name the service manager gave it
/// (`FileDescriptorName=` in a socket unit; `"unknown"` when none was given).
#[derive(Debug)]
pub struct InheritedSocket {
    /// The name from `LISTEN_FDNAMES`.
    pub name: String,
    /// The socket, TCP or Unix, listening and close-on-exec.
    pub listener: Listener,
}

/// The listening sockets this process was started with by a service manager (systemd
/// socket activation), in order, or none.
///
/// The sockets are taken only when `LISTEN_PID` is this process's pid, as
/// `sd_listen_fds(3)` requires; the three variables are then removed from the environment
/// (while the process has a single thread: removing a variable is not thread-safe), so that
/// a child process does not take them for its own. Each socket is made close-on-exec.
///
/// # Errors
///
/// Malformed variables, or a descriptor that is not a listening TCP or Unix stream socket
/// (a datagram socket, a regular file, ...): the error names it.
///
/// # Examples
///
/// ```no_run
/// use tcpserver::netutil::inherited_sockets;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// # async fn handler(_s: tcpserver::IoStream, _a: std::net::SocketAddr) {}
/// let server = tcpserver::TcpServer::new(handler);
/// for socket in inherited_sockets()? {
///     server.add_socket(socket.listener)?;
/// }
/// # Ok(()) }
/// ```
pub fn inherited_sockets() -> io::Result<Vec<InheritedSocket>> {
    let fds: Vec<(i32, String)> = sd_notify::listen_fds_with_names()?.collect();
    if fds.is_empty() {
        return Ok(Vec::new());
    }
    if single_threaded() {
        // SAFETY: the process has one thread (checked just above, and only this thread
        // could start another), so no other thread can read or write the environment
        // while these variables are removed.
        unsafe {
            std::env::remove_var("LISTEN_PID");
            std::env::remove_var("LISTEN_FDS");
            std::env::remove_var("LISTEN_FDNAMES");
        }
    } else {
        tracing::debug!(
            "LISTEN_FDS kept in the environment: this process already runs several threads"
        );
    }
    fds.into_iter()
        .map(|(fd, name)| {
            // SAFETY: the service manager passed these descriptors to this process
            // (LISTEN_PID is our pid) for it to own; nothing else in the process refers to
            // them by number, and the variables that name them are gone (or, with several
            // threads, read by nothing else in this crate), so each is owned exactly once.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            listener(Socket::from(fd), &name)
        })
        .collect()
}

/// The socket as a [`Listener`], if it is a listening stream socket.
fn listener(socket: Socket, name: &str) -> io::Result<InheritedSocket> {
    let not_a_listener = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "inherited socket \"{name}\" is {what}, not a listening TCP or Unix stream socket"
            ),
        )
    };
    if socket.r#type()? != Type::STREAM {
        return Err(not_a_listener("not a stream socket"));
    }
    if !socket.is_listener()? {
        return Err(not_a_listener("not listening"));
    }
    socket.set_cloexec(true)?;
    let domain = socket.domain()?;
    let fd = OwnedFd::from(socket);
    let listener = if domain == Domain::UNIX {
        Listener::Unix(fd.into())
    } else if domain == Domain::IPV4 || domain == Domain::IPV6 {
        Listener::Tcp(fd.into())
    } else {
        return Err(not_a_listener("of another address family"));
    };
    Ok(InheritedSocket {
        name: name.to_owned(),
        listener,
    })
}

/// Threads of this process, from `/proc` (1 where `/proc` is unavailable).
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").map_or(true, |dir| dir.count() <= 1)
}
