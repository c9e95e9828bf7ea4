//! Where the server listens: Tornado's `bind_sockets` arguments.

use std::io;
use std::net::TcpListener;

use tcpserver_options::keys::Id;
use tcpserver_options::value::Value;

use super::{OptionGroup, Setting, choice};
use crate::launch::Launcher;
use crate::netutil::{self, Family};

/// The bind group: port, address, family, backlog, `SO_REUSEPORT`.
#[derive(Debug, Clone)]
pub(crate) struct Bind {
    pub(crate) port: u16,
    /// `None`: all interfaces.
    pub(crate) address: Option<String>,
    pub(crate) family: Family,
    pub(crate) backlog: u32,
    pub(crate) reuse_port: bool,
}

impl Bind {
    /// Tornado's defaults on `port`.
    pub(crate) fn new(port: u16) -> Self {
        Bind {
            port,
            address: None,
            family: Family::Unspec,
            backlog: netutil::DEFAULT_BACKLOG,
            reuse_port: false,
        }
    }

    /// Binds the listening sockets (see [`netutil::bind_sockets`]).
    pub(crate) fn bind(&self) -> io::Result<Vec<TcpListener>> {
        netutil::bind_sockets(
            self.port,
            self.address.as_deref(),
            self.family,
            self.backlog,
            self.reuse_port,
        )
    }

    /// The same addresses on `port`, each socket with `SO_REUSEPORT` (one worker's own
    /// sockets in `reuse_port` mode, bound before the fork).
    pub(crate) fn bind_reuse_port(&self, port: u16) -> io::Result<Vec<TcpListener>> {
        let address = self.address.as_deref();
        netutil::bind_sockets(port, address, self.family, self.backlog, true)
    }
}

impl OptionGroup for Bind {
    fn set(&mut self, id: Id, value: &Value) {
        match id {
            Id::Port => self.port = u16::try_from(value.integer()).unwrap_or(u16::MAX),
            Id::Address => self.address = Some(value.text().to_owned()).filter(|a| !a.is_empty()),
            Id::Family => self.family = value.choice().name.parse().unwrap_or_default(),
            Id::Backlog => self.backlog = u32::try_from(value.integer()).unwrap_or(u32::MAX),
            Id::ReusePort => self.reuse_port = value.bool(),
            _ => unreachable!("`{id}` is not a bind option"),
        }
    }

    fn get(&self, id: Id) -> Setting {
        match id {
            Id::Port => Setting::Set(Value::Integer(self.port.into())),
            Id::Address => match &self.address {
                Some(address) => Setting::Set(Value::Text(address.clone())),
                None => Setting::Unset,
            },
            Id::Family => Setting::Set(choice(id, &self.family.to_string())),
            Id::Backlog => Setting::Set(Value::Integer(self.backlog.into())),
            Id::ReusePort => Setting::Set(Value::Bool(self.reuse_port)),
            _ => unreachable!("`{id}` is not a bind option"),
        }
    }
}

impl Launcher {
    /// The port to listen on (`--port`); 0 picks a free one, logged at start-up.
    pub fn port(mut self, port: u16) -> Self {
        self.bind.port = port;
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

    /// The listen backlog (`--backlog`; default 128).
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
}
