//! [`Network`]: an IP network written `10.0.0.0/8`, for the trusted proxies.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use tcpserver_options::net::{NetworkError, check_network, network_contains, parse_network};

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `fd00::/8`, `::1/128`).
///
/// An IPv4 network also holds the IPv4-mapped IPv6 addresses of its range
/// (`::ffff:10.0.0.1`), which is how an IPv4 peer of a dual-stack socket appears.
///
/// # Examples
///
/// ```
/// use tcpserver::proxy::Network;
///
/// let private: Network = "10.0.0.0/8".parse()?;
/// assert!(private.contains("10.1.2.3".parse().unwrap()));
/// assert!(!private.contains("11.0.0.1".parse().unwrap()));
/// assert_eq!(private.to_string(), "10.0.0.0/8");
/// // A single address is a network of one.
/// assert_eq!("::1".parse::<Network>()?.to_string(), "::1/128");
/// assert!("10.0.0.1/8".parse::<Network>().is_err()); // host bits set: write 10.0.0.0/8
/// # Ok::<(), tcpserver::proxy::NetworkParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// The network of `addr` with `prefix` leading bits.
    ///
    /// # Panics
    ///
    /// If `prefix` is longer than the address (32 bits for IPv4, 128 for IPv6) or `addr`
    /// has bits set past it; parse a string to get an error instead.
    pub const fn new(addr: IpAddr, prefix: u8) -> Self {
        match check_network(addr, prefix) {
            Ok(()) => Network { addr, prefix },
            Err(_) => panic!("not a network: the prefix is too long or host bits are set"),
        }
    }

    /// The network's first address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True if `ip` is in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        network_contains(self.addr, self.prefix, ip)
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why a string is not a [`Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkParseError(NetworkError);

impl fmt::Display for NetworkParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.describe())
    }
}

impl std::error::Error for NetworkParseError {}

impl FromStr for Network {
    type Err = NetworkParseError;

    /// `ADDR/PREFIX`, or a single address (a `/32` or `/128` network).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = parse_network(s).map_err(NetworkParseError)?;
        Ok(Network { addr, prefix })
    }
}
