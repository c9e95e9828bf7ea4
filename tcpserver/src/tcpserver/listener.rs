//! Listening sockets once they are registered with the runtime.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, ready};

use crate::iostream::Transport;
use crate::netutil::Listener as StdListener;

/// A TCP or Unix listener registered with the current tokio runtime.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener),
}

/// A connection fresh from `accept`: the socket and the peer's IP address (none for Unix).
pub(crate) struct Accepted {
    pub(crate) transport: Transport,
    pub(crate) peer: Option<SocketAddr>,
}

impl Listener {
    /// Registers a std listener with the current runtime, making it non-blocking first
    /// (sockets inherited from systemd or a parent may be blocking).
    pub(crate) fn register(listener: StdListener) -> io::Result<Self> {
        match listener {
            StdListener::Tcp(l) => {
                l.set_nonblocking(true)?;
                Ok(Listener::Tcp(tokio::net::TcpListener::from_std(l)?))
            }
            StdListener::Unix(l) => {
                l.set_nonblocking(true)?;
                Ok(Listener::Unix(tokio::net::UnixListener::from_std(l)?))
            }
        }
    }

    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Accepted>> {
        Poll::Ready(match self {
            Listener::Tcp(l) => ready!(l.poll_accept(cx)).map(|(s, peer)| Accepted {
                transport: Transport::Tcp(s),
                peer: Some(peer),
            }),
            Listener::Unix(l) => ready!(l.poll_accept(cx)).map(|(s, _)| Accepted {
                transport: Transport::Unix(s),
                peer: None,
            }),
        })
    }

    pub(crate) fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(_) => None,
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => a.to_string(),
                Err(_) => "tcp socket".into(),
            },
            Listener::Unix(l) => match l.local_addr() {
                Ok(a) => match a.as_pathname() {
                    Some(p) => format!("unix:{}", p.display()),
                    None => "unix socket".into(),
                },
                Err(_) => "unix socket".into(),
            },
        }
    }
}
