//! Option values: read from command-line text (the attribute macros read the same values
//! from Rust literals), checked against their [`Kind`], and shown back as text.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::keys::{Choice, Key, Kind, Zero};
use crate::units;

/// A value of an option, of the type its [`Kind`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// [`Kind::Integer`].
    Integer(u64),
    /// [`Kind::Size`], in bytes.
    Size(u64),
    /// [`Kind::Duration`]; `None` for a zero that unsets the option ([`Zero::Unsets`]).
    Duration(Option<Duration>),
    /// [`Kind::Bool`].
    Bool(bool),
    /// [`Kind::Text`], [`Kind::File`], [`Kind::Path`] and [`Kind::SocketAddress`] (written
    /// back in its canonical form).
    Text(String),
    /// [`Kind::Mode`]: permission bits.
    Mode(u32),
    /// [`Kind::Choice`].
    Choice(&'static Choice),
    /// [`Kind::IpList`].
    IpList(Vec<IpAddr>),
    /// [`Kind::Networks`]: each network's address and prefix length.
    Networks(Vec<(IpAddr, u8)>),
    /// [`Kind::Protocols`].
    Protocols(Vec<String>),
    /// [`Kind::SniCertificates`].
    Sni(Vec<SniCertificate>),
}

/// The certificate served to clients that ask for `name` through SNI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniCertificate {
    /// The DNS name.
    pub name: String,
    /// One PEM file with the chain and the key, or the chain file.
    pub cert: String,
    /// The key file, when separate from the chain.
    pub key: Option<String>,
}

impl Value {
    /// The integer of an [`Integer`](Value::Integer) or [`Size`](Value::Size).
    ///
    /// # Panics
    ///
    /// On any other value: the table gives every key one kind, so a group reading its
    /// own key with the wrong accessor is a bug.
    pub fn integer(&self) -> u64 {
        match self {
            Value::Integer(n) | Value::Size(n) => *n,
            other => mismatch("an integer", other),
        }
    }

    /// [`integer`](Self::integer) as a `usize` (counts and sizes are at most
    /// [`MAX_COUNT`](crate::keys::MAX_COUNT)).
    pub fn usize(&self) -> usize {
        usize::try_from(self.integer()).unwrap_or(usize::MAX)
    }

    /// The duration of a [`Duration`](Value::Duration); `None` for an unsetting zero.
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Value::Duration(d) => *d,
            other => mismatch("a duration", other),
        }
    }

    /// The flag of a [`Bool`](Value::Bool).
    pub fn bool(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            other => mismatch("a bool", other),
        }
    }

    /// The text of a [`Text`](Value::Text).
    pub fn text(&self) -> &str {
        match self {
            Value::Text(t) => t,
            other => mismatch("text", other),
        }
    }

    /// The bits of a [`Mode`](Value::Mode).
    pub fn mode(&self) -> u32 {
        match self {
            Value::Mode(m) => *m,
            other => mismatch("a mode", other),
        }
    }

    /// The word of a [`Choice`](Value::Choice).
    pub fn choice(&self) -> &'static Choice {
        match self {
            Value::Choice(c) => c,
            other => mismatch("a choice", other),
        }
    }

    /// Reads `text`, a command-line value of `key`.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong and what would be right, without the flag's name
    /// (the caller adds it).
    pub fn parse(key: &Key, text: &str) -> Result<Value, String> {
        match key.kind {
            Kind::Integer { min, max, what } => {
                let n: u64 = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{text}` is not a whole number: expected {what}"))?;
                if n < min || n > max {
                    return Err(format!("{n} is out of range: expected {what}"));
                }
                Ok(Value::Integer(n))
            }
            Kind::Size => {
                let n = units::parse_size(text)?;
                check_size(n).map(Value::Size)
            }
            Kind::Duration(zero) => {
                let d = units::parse_duration(text)?;
                match (d.is_zero(), zero) {
                    (true, Zero::Refused(why)) => Err(format!("must be more than 0: {why}")),
                    (true, Zero::Unsets(_)) => Ok(Value::Duration(None)),
                    _ => Ok(Value::Duration(Some(d))),
                }
            }
            Kind::Bool => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("`{text}` is not `true` or `false`")),
            },
            Kind::Text
            | Kind::Path
            | Kind::Section
            | Kind::Function
            | Kind::Expression
            | Kind::Type => Ok(Value::Text(text.to_owned())),
            Kind::File if text.trim().is_empty() => Err("expected a file path".to_owned()),
            Kind::File => Ok(Value::Text(text.to_owned())),
            Kind::Mode => parse_mode(text).map(Value::Mode),
            Kind::SocketAddress => parse_socket_address(text).map(|a| Value::Text(a.to_string())),
            Kind::Choice(choices) => choices
                .iter()
                .find(|c| c.matches(text))
                .map(Value::Choice)
                .ok_or_else(|| {
                    let listed: Vec<&str> = choices.iter().map(|c| c.flag).collect();
                    format!("`{text}` is not one of: {}", listed.join(", "))
                }),
            Kind::IpList => list(text)
                .map(|a| {
                    parse_ip(a).map_err(|e| format!("{e} (addresses are separated by commas)"))
                })
                .collect::<Result<_, _>>()
                .map(Value::IpList),
            Kind::Networks => list(text)
                .map(|n| {
                    crate::net::parse_network(n)
                        .map_err(|e| format!("\"{n}\" is not a network: {}", e.describe()))
                })
                .collect::<Result<_, _>>()
                .map(Value::Networks),
            Kind::Protocols => list(text)
                .map(|p| check_protocol(p).map(str::to_owned))
                .collect::<Result<_, _>>()
                .map(Value::Protocols),
            Kind::SniCertificates => parse_sni(text).map(|sni| Value::Sni(vec![sni])),
        }
    }

    /// Adds the entries of `more`, a later value of the same list key, to this one.
    pub fn extend(&mut self, more: Value) {
        match (self, more) {
            (Value::Sni(all), Value::Sni(more)) => all.extend(more),
            (Value::Networks(all), Value::Networks(more)) => all.extend(more),
            (this, more) => *this = more,
        }
    }
}

/// The value as the command line writes it: `64KiB`, `30s`, `current-thread`, `a,b`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(n) => n.fmt(f),
            Value::Size(n) => f.write_str(&units::format_size(*n)),
            Value::Duration(Some(d)) => f.write_str(&units::format_duration(*d)),
            Value::Duration(None) => f.write_str("0"),
            Value::Bool(b) => b.fmt(f),
            Value::Text(t) => f.write_str(t),
            Value::Mode(m) => write!(f, "{m:04o}"),
            Value::Choice(c) => f.write_str(c.flag),
            Value::IpList(ips) => join(f, ips),
            Value::Networks(networks) => {
                for (i, (addr, prefix)) in networks.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(f, "{sep}{addr}/{prefix}")?;
                }
                Ok(())
            }
            Value::Protocols(names) => join(f, names),
            Value::Sni(all) => {
                for (i, sni) in all.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    match &sni.key {
                        Some(key) => write!(f, "{sep}{}={},{key}", sni.name, sni.cert)?,
                        None => write!(f, "{sep}{}={}", sni.name, sni.cert)?,
                    }
                }
                Ok(())
            }
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, items: &[impl fmt::Display]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

#[track_caller]
fn mismatch(expected: &str, got: &Value) -> ! {
    panic!("option value {got:?} read as {expected}: the key table and its group disagree")
}

/// The pieces of a comma-separated list, trimmed.
fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim)
}

/// A byte count within [`MAX_COUNT`](crate::keys::MAX_COUNT), at least 1.
///
/// # Errors
///
/// Says what is out of range.
pub fn check_size(bytes: u64) -> Result<u64, String> {
    match bytes {
        0 => Err("must be at least 1 byte".to_owned()),
        n if n > crate::keys::MAX_COUNT => {
            Err("is too large: at most 4294967295 bytes (just under 4 GiB)".to_owned())
        }
        n => Ok(n),
    }
}

/// File permission bits written in octal, as `chmod` takes them: `660`, `0660` or `0o660`,
/// at most `777`.
///
/// # Errors
///
/// Says why `text` is not one.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let digits = text
        .strip_prefix("0o")
        .or_else(|| text.strip_prefix("0O"))
        .unwrap_or(text);
    let octal = !digits.is_empty() && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if octal && mode <= 0o777 => Ok(mode),
        _ if octal => Err(format!(
            "`{text}` is out of range: permission bits go up to 777 (octal)"
        )),
        _ => Err(format!(
            "`{text}` is not a mode: expected permission bits in octal, such as 600, 0660 or 0o660"
        )),
    }
}

/// An IP address in standard text (no host names, networks or zones).
///
/// # Errors
///
/// Says why `text` is not one.
pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse().map_err(|_| {
        if text.contains('/') {
            format!("\"{text}\" is a network, not an address: list each proxy's address")
        } else {
            format!("\"{text}\" is not an IP address (IPv4 or IPv6, not a host name)")
        }
    })
}

/// An IP address and a port (`127.0.0.1:9100`, `[::1]:9100`).
///
/// # Errors
///
/// Says why `text` is not one.
pub fn parse_socket_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    text.parse().map_err(|_| {
        let expected = "expected an IP address and a port, such as 127.0.0.1:9100 or [::1]:9100";
        if text.parse::<IpAddr>().is_ok() {
            format!("\"{text}\" has no port: {expected}")
        } else {
            format!("\"{text}\" is not an address and port: {expected} (no host names)")
        }
    })
}

/// An ALPN protocol name: 1 to 255 bytes.
///
/// # Errors
///
/// Says why `name` is not one.
pub fn check_protocol(name: &str) -> Result<&str, String> {
    match name.len() {
        1..=255 => Ok(name),
        0 => Err("an ALPN protocol name cannot be empty".to_owned()),
        _ => Err(format!(
            "ALPN protocol names are at most 255 bytes; \"{name}\" has {}",
            name.len()
        )),
    }
}

/// A DNS name for SNI: letters, digits, `-` and `.`, not empty.
///
/// # Errors
///
/// Says why `name` is not one.
pub fn check_sni_name(name: &str) -> Result<&str, String> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(name)
    } else {
        Err(format!("\"{name}\" is not a DNS name"))
    }
}

/// `NAME=PEM` or `NAME=CERT,KEY`.
fn parse_sni(text: &str) -> Result<SniCertificate, String> {
    let form = "write NAME=PEM or NAME=CERT,KEY";
    let Some((name, files)) = text.split_once('=') else {
        return Err(format!("`{text}` has no `=`; {form}"));
    };
    let name = check_sni_name(name.trim())?.to_owned();
    let mut files = files.split(',').map(str::trim);
    let (cert, key) = (files.next().unwrap_or(""), files.next());
    if cert.is_empty() || key == Some("") || files.next().is_some() {
        return Err(format!("`{text}` names no file or too many; {form}"));
    }
    Ok(SniCertificate {
        name,
        cert: cert.to_owned(),
        key: key.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Id, key};

    fn parse(id: Id, text: &str) -> Result<Value, String> {
        Value::parse(key(id), text)
    }

    #[test]
    fn integers_within_their_range() {
        assert_eq!(parse(Id::Port, "8080"), Ok(Value::Integer(8080)));
        assert!(
            parse(Id::Port, "70000")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            parse(Id::Port, "-1")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            parse(Id::WorkerThreads, "0")
                .unwrap_err()
                .contains("at least 1")
        );
    }

    #[test]
    fn sizes_and_durations_in_the_shared_grammar() {
        assert_eq!(parse(Id::MaxBufferSize, "1MiB"), Ok(Value::Size(1 << 20)));
        assert!(
            parse(Id::MaxBufferSize, "0")
                .unwrap_err()
                .contains("at least 1")
        );
        assert!(
            parse(Id::MaxBufferSize, "4GiB")
                .unwrap_err()
                .contains("too large")
        );
        assert_eq!(
            parse(Id::ShutdownTimeout, "1.5"),
            Ok(Value::Duration(Some(Duration::from_millis(1500))))
        );
        assert_eq!(parse(Id::BodyTimeout, "0"), Ok(Value::Duration(None)));
        assert!(
            parse(Id::HandshakeTimeout, "0s")
                .unwrap_err()
                .contains("more than 0")
        );
    }

    #[test]
    fn words_and_lists() {
        assert_eq!(
            parse(Id::Runtime, "current-thread").unwrap().choice().name,
            "current_thread"
        );
        assert_eq!(
            parse(Id::Runtime, "current_thread").unwrap().choice().flag,
            "current-thread"
        );
        assert!(
            parse(Id::Protocol, "gopher")
                .unwrap_err()
                .contains("http, https")
        );
        assert_eq!(
            parse(Id::TrustedDownstream, "10.0.0.1, ::1")
                .unwrap()
                .to_string(),
            "10.0.0.1,::1"
        );
        assert!(
            parse(Id::TrustedDownstream, "10.0.0.0/8")
                .unwrap_err()
                .contains("network")
        );
        assert_eq!(
            parse(Id::TlsAlpn, "h2,http/1.1"),
            Ok(Value::Protocols(vec!["h2".into(), "http/1.1".into()]))
        );
        assert!(parse(Id::TlsAlpn, "h2,").is_err());
        let mut networks = parse(Id::ProxyTrusted, "10.0.0.0/8, ::1").unwrap();
        networks.extend(parse(Id::ProxyTrusted, "192.168.0.0/16").unwrap());
        assert_eq!(networks.to_string(), "10.0.0.0/8,::1/128,192.168.0.0/16");
        let e = parse(Id::ProxyTrusted, "10.0.0.1/8").unwrap_err();
        assert!(e.contains("write the network's first address"), "{e}");
        assert!(parse(Id::Xheaders, "yes").is_err());
    }

    #[test]
    fn modes_are_octal() {
        for text in ["660", "0660", "0o660", " 0O660 "] {
            assert_eq!(parse(Id::UnixMode, text), Ok(Value::Mode(0o660)), "{text}");
        }
        assert_eq!(parse(Id::UnixMode, "0").unwrap().to_string(), "0000");
        assert_eq!(Value::Mode(0o600).to_string(), "0600");
        assert!(
            parse(Id::UnixMode, "1777")
                .unwrap_err()
                .contains("out of range")
        );
        for bad in ["", "8", "rw-", "+600", "0x1a4", "-1"] {
            assert!(
                parse(Id::UnixMode, bad).unwrap_err().contains("not a mode"),
                "{bad}"
            );
        }
    }

    #[test]
    fn sni_certificates() {
        let mut all = parse(Id::TlsSni, "api.example.com=api.pem").unwrap();
        all.extend(parse(Id::TlsSni, "Mail.example.com = mail.crt, mail.key").unwrap());
        assert_eq!(
            all.to_string(),
            "api.example.com=api.pem Mail.example.com=mail.crt,mail.key"
        );
        for bad in ["api.pem", "=a.pem", "a..b=x.pem", "a=", "a=x,", "a=x,y,z"] {
            assert!(parse(Id::TlsSni, bad).is_err(), "{bad}");
        }
    }
}
