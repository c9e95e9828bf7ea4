//! The PROXY protocol (HAProxy's `proxy-protocol.txt`, v1 and v2): behind a load balancer,
//! the client's real address arrives in a header at the start of each connection.
//!
//! Off by default. [`Builder::proxy_protocol`](crate::tcpserver::Builder::proxy_protocol)
//! turns it on for every connection of a server, as the spec requires (a listener either
//! expects a header or not; it never guesses):
//!
//! - the header is read in full, under a deadline ([`DEFAULT_TIMEOUT`], 5 s), before the TLS
//!   handshake or the handler; a header split over many packets, even byte by byte, is
//!   accepted;
//! - v1 is at most 107 bytes (the spec's limit); v2 at most [`MAX_V2_LENGTH`] bytes in all
//!   (16 fixed bytes, then addresses and TLVs), far above what HAProxy, nginx or Envoy send;
//! - the handler's `SocketAddr` is the client's address from the header, and
//!   [`IoStream::proxy_header`](crate::iostream::IoStream::proxy_header) gives the rest:
//!   the proxy's own address, the destination and the v2 TLVs (ALPN, authority, unique id,
//!   SSL); a CRC32C TLV is checked when present;
//! - a v2 `LOCAL` header (the proxy's health checks) and a v1 `UNKNOWN` one keep the
//!   socket's own addresses;
//! - bytes after the header stay readable, by the handler or the TLS handshake;
//! - only [trusted](ProxyConfig::trusted) source networks may send a header.
//!
//! A connection without a valid header (none, a malformed or oversize one, a wrong
//! signature or version, a bad CRC, one still incomplete at the deadline) or from an
//! untrusted source is closed before the handler runs, with a log line (at most one a
//! second per server, with a count of those held back); nothing else is disturbed.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use tcpserver::proxy::{ProxyConfig, Version};
//! # use std::net::SocketAddr;
//! # async fn handler(_s: tcpserver::IoStream, _a: SocketAddr) {}
//!
//! let proxy = ProxyConfig::new(Version::V2)
//!     .trusted(["10.0.0.0/8".parse()?, "fd00::/8".parse()?])
//!     .timeout(Duration::from_secs(3));
//! let server = tcpserver::TcpServer::builder().proxy_protocol(proxy).build(handler);
//! # Ok::<(), tcpserver::proxy::NetworkParseError>(())
//! ```
#![forbid(unsafe_code)]

mod crc32c;
mod header;
mod network;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncRead;

use crate::metrics;
use header::{HeaderError, read_header};
pub use header::{ProxyHeader, Ssl, Tlv};
pub use network::{Network, NetworkParseError};

/// Default of [`ProxyConfig::timeout`]: 5 seconds (the spec recommends at least 3).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most bytes a v2 header may take, the 16 fixed ones included. The spec bounds v2 only
/// by its 16-bit length; this bound keeps a connection from making the server buffer 64 KiB
/// before its first byte of data.
pub const MAX_V2_LENGTH: usize = 2048;

/// The networks trusted by default: loopback and the private ranges (RFC 1918, RFC 4193).
/// Load balancers reach a server from these (the same host, or the private network of a
/// cloud region), and a client that reaches the port from the internet cannot forge its
/// address; list your proxies with [`ProxyConfig::trusted`] for a tighter set.
pub const DEFAULT_TRUSTED: &[&str] = &[
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
];

/// Which header versions a server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The text header only (`PROXY TCP4 ...\r\n`).
    V1,
    /// The binary header only.
    V2,
    /// Either, told apart by their first byte (both are still required).
    Any,
}

impl Version {
    /// `v1`, `v2` or `any`, as the flag writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::Any => "any",
        }
    }
}

impl FromStr for Version {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" => Ok(Version::V1),
            "v2" => Ok(Version::V2),
            "any" => Ok(Version::Any),
            _ => Err(format!(
                "`{s}` is not a PROXY protocol version: v1, v2 or any"
            )),
        }
    }
}

/// The PROXY protocol settings of a server.
///
/// # Examples
///
/// See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    version: Version,
    trusted: Arc<[Network]>,
    timeout: Duration,
}

impl ProxyConfig {
    /// Requires a header of `version` on every connection, from the [default trusted
    /// networks](DEFAULT_TRUSTED), within the [default deadline](DEFAULT_TIMEOUT).
    pub fn new(version: Version) -> Self {
        ProxyConfig {
            version,
            trusted: DEFAULT_TRUSTED
                .iter()
                .map(|n| n.parse().expect("the default networks parse"))
                .collect(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The source networks allowed to send a header (default [`DEFAULT_TRUSTED`]); a
    /// connection from anywhere else is closed before the handler runs. Peers of a Unix
    /// socket are on this host and always trusted.
    pub fn trusted(mut self, networks: impl IntoIterator<Item = Network>) -> Self {
        self.trusted = networks.into_iter().collect();
        self
    }

    /// How long a client has, from its accept, to send the whole header (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The versions accepted.
    pub fn get_version(&self) -> Version {
        self.version
    }

    /// The trusted source networks.
    pub fn get_trusted(&self) -> &[Network] {
        &self.trusted
    }

    /// The deadline for the header.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    fn trusts(&self, peer: Option<SocketAddr>) -> bool {
        match peer {
            Some(addr) => self.trusted.iter().any(|n| n.contains(addr.ip())),
            None => true,
        }
    }
}

/// Reads the headers of one server's connections.
#[derive(Debug)]
pub(crate) struct ProxyReader {
    config: ProxyConfig,
    log: LogLimiter,
}

impl ProxyReader {
    pub(crate) fn new(config: ProxyConfig) -> Self {
        ProxyReader {
            config,
            log: LogLimiter::default(),
        }
    }

    /// Checks the source and reads the header of a fresh connection: the header and the
    /// bytes that came after it in the same reads. `None` if the connection must be
    /// closed, which has been logged. A header without addresses (see
    /// [`ProxyHeader::is_local`]) still needs the socket's own address, from
    /// [`ProxyHeader::set_socket_local`].
    pub(crate) async fn accept<IO: AsyncRead + Unpin>(
        &self,
        io: &mut IO,
        peer: Option<SocketAddr>,
    ) -> Option<(ProxyHeader, Vec<u8>)> {
        let from = Peer(peer);
        if !self.config.trusts(peer) {
            metrics::proxy_error(metrics::ProxyError::Untrusted);
            self.log.warn(format_args!(
                "closing connection from {from}: not a trusted proxy (add its network with \
                 --proxy-trusted)"
            ));
            return None;
        }
        let read = read_header(io, self.config.version, MAX_V2_LENGTH);
        match tokio::time::timeout(self.config.timeout, read).await {
            Ok(Ok((mut header, rest))) => {
                header.set_proxy(peer);
                Some((header, rest))
            }
            Ok(Err(HeaderError::Closed)) => {
                tracing::debug!("connection from {from} closed before its PROXY header");
                None
            }
            Ok(Err(e)) => {
                metrics::proxy_error(metrics::ProxyError::BadHeader);
                self.log.info(format_args!(
                    "closing connection from {from}: bad PROXY header: {e}"
                ));
                None
            }
            Err(_elapsed) => {
                metrics::proxy_error(metrics::ProxyError::Timeout);
                self.log.info(format_args!(
                    "closing connection from {from}: no complete PROXY header within {}",
                    tcpserver_options::units::format_duration(self.config.timeout)
                ));
                None
            }
        }
    }
}

/// A peer for log lines: its address, or "a Unix-socket client".
struct Peer(Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("a Unix-socket client"),
        }
    }
}

/// At most one log line a second per server, however many bad connections arrive, with a
/// count of the lines held back.
#[derive(Debug)]
struct LogLimiter {
    start: Instant,
    /// Milliseconds since `start` of the last line, plus one (0: none yet).
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter {
            start: Instant::now(),
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }
}

const LOG_INTERVAL_MS: u64 = 1000;

impl LogLimiter {
    /// `Some(lines held back since the last one)` if a line may be logged now.
    fn allow(&self) -> Option<u64> {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX) + 1;
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= LOG_INTERVAL_MS;
        if due
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }

    fn info(&self, message: fmt::Arguments<'_>) {
        if let Some(held) = self.allow() {
            tracing::info!("{message}{}", Held(held));
        }
    }

    fn warn(&self, message: fmt::Arguments<'_>) {
        if let Some(held) = self.allow() {
            tracing::warn!("{message}{}", Held(held));
        }
    }
}

/// ` (N more not logged)`, or nothing.
struct Held(u64);

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, " ({n} more such connections not logged)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_trust_is_loopback_and_private_networks() {
        let config = ProxyConfig::new(Version::Any);
        for ip in [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "172.31.0.1",
            "192.168.1.1",
            "fd12::1",
        ] {
            assert!(
                config.trusts(Some(SocketAddr::new(ip.parse().unwrap(), 1))),
                "{ip}"
            );
        }
        for ip in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(
                !config.trusts(Some(SocketAddr::new(ip.parse().unwrap(), 1))),
                "{ip}"
            );
        }
        assert!(config.trusts(None), "a Unix-socket peer is on this host");
    }

    #[test]
    fn the_log_holds_back_lines_within_a_second() {
        let log = LogLimiter::default();
        assert_eq!(log.allow(), Some(0));
        assert_eq!(log.allow(), None);
        assert_eq!(log.allow(), None);
        log.last.store(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(1001));
        assert_eq!(log.allow(), Some(2));
    }
}
