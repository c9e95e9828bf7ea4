//! IP networks written `10.0.0.0/8`: one parser for the attribute, the flags and the
//! runtime's `proxy::Network`.

use std::net::IpAddr;

/// Why a string is not a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkError {
    /// Not an IP address before the `/`.
    Address,
    /// The prefix length is not a number, or longer than the address.
    Prefix,
    /// Bits are set past the prefix (`10.0.0.1/8`).
    HostBits,
}

impl NetworkError {
    /// What is wrong, in words.
    pub fn describe(self) -> &'static str {
        match self {
            NetworkError::Address => "not an IP address",
            NetworkError::Prefix => "the prefix length is not a number within the address's bits",
            NetworkError::HostBits => {
                "bits are set past the prefix length: write the network's first address"
            }
        }
    }
}

/// `ADDR/PREFIX`, or a single address (a `/32` or `/128` network): the address and the
/// prefix length.
///
/// # Errors
///
/// Says which part is wrong.
pub fn parse_network(text: &str) -> Result<(IpAddr, u8), NetworkError> {
    let (addr, prefix) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| NetworkError::Address)?;
    let prefix = match prefix {
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse::<u8>().map_err(|_| NetworkError::Prefix)?
        }
        Some(_) => return Err(NetworkError::Prefix),
        None => bits(addr),
    };
    check_network(addr, prefix)?;
    Ok((addr, prefix))
}

/// Checks that `prefix` fits `addr` and that no bit is set past it.
///
/// # Errors
///
/// Says which part is wrong.
pub const fn check_network(addr: IpAddr, prefix: u8) -> Result<(), NetworkError> {
    if prefix > bits(addr) {
        return Err(NetworkError::Prefix);
    }
    if to_bits(addr) & !mask(prefix, bits(addr)) != 0 {
        return Err(NetworkError::HostBits);
    }
    Ok(())
}

/// True if `ip` is in the network `addr/prefix`. An IPv4 network also holds the
/// IPv4-mapped IPv6 addresses of its range (`::ffff:10.0.0.1`), which is how an IPv4 peer
/// of a dual-stack socket appears.
pub fn network_contains(addr: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    addr.is_ipv4() == ip.is_ipv4() && to_bits(ip) & mask(prefix, bits(addr)) == to_bits(addr)
}

const fn bits(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

const fn to_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => v4.to_bits() as u128,
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

/// The `prefix` leading bits of a `width`-bit address, as a mask.
const fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let ones = if prefix == 128 {
        u128::MAX
    } else {
        (1u128 << prefix) - 1
    };
    ones << (width - prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(network: &str, ip: &str) -> bool {
        let (addr, prefix) = parse_network(network).unwrap();
        network_contains(addr, prefix, ip.parse().unwrap())
    }

    #[test]
    fn networks_hold_their_addresses() {
        assert!(contains("0.0.0.0/0", "203.0.113.9"));
        assert!(contains("::/0", "2001:db8::1"));
        assert!(!contains("::/0", "10.0.0.1"));
        assert!(contains("172.16.0.0/12", "172.31.255.255"));
        assert!(!contains("172.16.0.0/12", "172.32.0.0"));
        assert!(contains("10.0.0.0/8", "::ffff:10.9.9.9"));
        assert!(contains("192.168.1.7", "192.168.1.7"));
        assert!(!contains("192.168.1.7/32", "192.168.1.8"));
        assert!(contains("fc00::/7", "fdff::1"));
        assert!(!contains("fc00::/7", "fe00::1"));
        assert!(contains("::1/128", "::1"));
    }

    #[test]
    fn what_is_not_a_network() {
        assert_eq!(parse_network("10.0.0.0/33"), Err(NetworkError::Prefix));
        assert_eq!(parse_network("10.0.0.0/"), Err(NetworkError::Prefix));
        assert_eq!(parse_network("10.0.0.0/+8"), Err(NetworkError::Prefix));
        assert_eq!(parse_network("10.0.0.1/8"), Err(NetworkError::HostBits));
        assert_eq!(parse_network("example.com/8"), Err(NetworkError::Address));
        assert_eq!(parse_network("::/129"), Err(NetworkError::Prefix));
        assert_eq!(parse_network("::1"), Ok(("::1".parse().unwrap(), 128)));
    }
}
