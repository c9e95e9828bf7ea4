//! The PROXY protocol: whether a header is required, from which networks, how fast.

use std::time::Duration;

use tcpserver_options::keys::Id;
use tcpserver_options::value::Value;

use super::{OptionGroup, Setting, choice};
use crate::launch::Launcher;
use crate::proxy::{Network, ProxyConfig, Version};

/// The PROXY group; [`ProxyConfig`] owns the defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct Proxy {
    /// `None`: no header expected.
    version: Option<Version>,
    trusted: Option<Vec<Network>>,
    timeout: Option<Duration>,
}

impl Proxy {
    /// The server's PROXY settings, if a header is required.
    pub(crate) fn config(&self) -> Option<ProxyConfig> {
        let mut config = ProxyConfig::new(self.version?);
        if let Some(trusted) = &self.trusted {
            config = config.trusted(trusted.iter().copied());
        }
        if let Some(timeout) = self.timeout {
            config = config.timeout(timeout);
        }
        Some(config)
    }
}

impl OptionGroup for Proxy {
    fn set(&mut self, id: Id, value: &Value) {
        match (id, value) {
            (Id::ProxyProtocol, _) => {
                self.version = Some(value.choice().name.parse().unwrap_or(Version::Any));
            }
            (Id::ProxyTrusted, Value::Networks(networks)) => {
                let networks = networks
                    .iter()
                    .map(|&(addr, prefix)| Network::new(addr, prefix));
                self.trusted = Some(networks.collect());
            }
            (Id::ProxyTimeout, _) => self.timeout = value.duration(),
            _ => unreachable!("`{id}` is not a PROXY option"),
        }
    }

    fn get(&self, id: Id) -> Setting {
        let defaults = ProxyConfig::new(Version::Any);
        match id {
            Id::ProxyProtocol => self
                .version
                .map_or(Setting::Unset, |v| Setting::Set(choice(id, v.as_str()))),
            Id::ProxyTrusted => match &self.trusted {
                Some(networks) => Setting::Set(networks_value(networks)),
                None => Setting::Unset,
            },
            Id::ProxyTimeout => match self.timeout {
                Some(timeout) => Setting::Set(Value::Duration(Some(timeout))),
                None => Setting::Default(Value::Duration(Some(defaults.get_timeout()))),
            },
            _ => unreachable!("`{id}` is not a PROXY option"),
        }
    }
}

fn networks_value(networks: &[Network]) -> Value {
    Value::Networks(networks.iter().map(|n| (n.addr(), n.prefix())).collect())
}

impl Launcher {
    /// Require a PROXY protocol header of `version` on every connection
    /// (`--proxy-protocol v1|v2|any`; default off); see [`proxy`](crate::proxy).
    pub fn proxy_protocol(mut self, version: Version) -> Self {
        self.proxy.version = Some(version);
        self
    }

    /// The networks allowed to send PROXY headers (`--proxy-trusted CIDR`; default
    /// [`DEFAULT_TRUSTED`](crate::proxy::DEFAULT_TRUSTED): loopback and private networks).
    pub fn proxy_trusted(mut self, networks: impl IntoIterator<Item = Network>) -> Self {
        self.proxy.trusted = Some(networks.into_iter().collect());
        self
    }

    /// How long a client has to send its whole PROXY header (`--proxy-timeout`; default
    /// 5 s).
    pub fn proxy_timeout(mut self, timeout: Duration) -> Self {
        self.proxy.timeout = Some(timeout);
        self
    }
}
