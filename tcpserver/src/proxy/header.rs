//! Reading one PROXY header off a fresh connection, and what it says ([`ProxyHeader`]).
//!
//! Parsing is `ppp`'s (both versions, no I/O); this module does the reading: it never
//! guesses whether a header is present, needs the whole header before parsing it, bounds
//! how much it buffers, and hands back the bytes that came after the header.

use std::fmt;
use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::Version;
use super::crc32c::crc32c;

/// The longest v1 header, CRLF included (the spec's limit).
const MAX_V1_LENGTH: usize = 107;
/// The fixed part of a v2 header: signature, version and command, family, length.
const V2_FIXED: usize = 16;
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_SIGNATURE: &[u8] = b"PROXY ";
/// How many more bytes each read asks for.
const READ_SIZE: usize = 512;

const TLV_ALPN: u8 = 0x01;
const TLV_AUTHORITY: u8 = 0x02;
const TLV_CRC32C: u8 = 0x03;
const TLV_UNIQUE_ID: u8 = 0x05;
const TLV_SSL: u8 = 0x20;

/// What a connection's PROXY header said: the addresses the proxy saw and, for v2, its
/// TLVs. [`IoStream::proxy_header`](crate::iostream::IoStream::proxy_header) gives it to a
/// handler; the handler's `SocketAddr` is already [`client`](Self::client).
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use tcpserver::IoStream;
///
/// async fn whoami(mut stream: IoStream, client: SocketAddr) -> tcpserver::Result<()> {
///     let line = match stream.proxy_header() {
///         Some(proxy) => format!(
///             "{client} via {:?}, to {:?}, authority {:?}\n",
///             proxy.proxy_addr(),
///             proxy.destination(),
///             proxy.authority(),
///         ),
///         None => format!("{client}, no proxy\n"),
///     };
///     stream.write(line.as_bytes()).await
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    version: u8,
    /// The header carries no addresses to use (v2 `LOCAL`, v1 `UNKNOWN`, an unspecified or
    /// Unix family): the socket's own are used.
    local: bool,
    source: Option<SocketAddr>,
    destination: Option<SocketAddr>,
    /// The socket's peer: the proxy itself.
    proxy: Option<SocketAddr>,
    /// The socket's own address.
    socket_local: Option<SocketAddr>,
    tlvs: Vec<Tlv>,
}

/// One type-length-value entry of a v2 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// The type (`0x01` ALPN, `0x02` authority, `0x05` unique id, `0x20` SSL, ...).
    pub kind: u8,
    /// The value, as sent.
    pub value: Box<[u8]>,
}

/// The SSL TLV of a v2 header: what the proxy learned terminating the client's TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ssl {
    /// The `client` bit field: 0x01 the client connected over TLS, 0x02 it sent a
    /// certificate on this connection, 0x04 on this session.
    pub client: u8,
    /// 0 if the client's certificate was verified.
    pub verify: u32,
    /// The TLS version (`TLSv1.3`).
    pub version: Option<String>,
    /// The client certificate's common name.
    pub common_name: Option<String>,
    /// The cipher (`ECDHE-RSA-AES128-GCM-SHA256`).
    pub cipher: Option<String>,
    /// The signature algorithm of the server's certificate.
    pub signature_algorithm: Option<String>,
    /// The key algorithm of the server's certificate.
    pub key_algorithm: Option<String>,
}

impl ProxyHeader {
    /// 1 or 2.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// True if the header carries no addresses (a v2 `LOCAL` health check, a v1
    /// `UNKNOWN`): then [`client`](Self::client) and [`destination`](Self::destination)
    /// are the socket's own addresses.
    pub fn is_local(&self) -> bool {
        self.local
    }

    /// The client's address: the header's source, or the proxy's socket address when the
    /// header has none. `None` only for a Unix-socket proxy that sent none.
    pub fn client(&self) -> Option<SocketAddr> {
        self.source.or(self.proxy)
    }

    /// The address the client connected to: the header's destination, or this socket's
    /// own address when the header has none.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.destination.or(self.socket_local)
    }

    /// The proxy's own address: the peer of this socket (`None` over a Unix socket).
    pub fn proxy_addr(&self) -> Option<SocketAddr> {
        self.proxy
    }

    /// Every TLV of a v2 header, in order (none for v1).
    pub fn tlvs(&self) -> &[Tlv] {
        &self.tlvs
    }

    /// The value of the first TLV of type `kind`.
    pub fn tlv(&self, kind: u8) -> Option<&[u8]> {
        self.tlvs.iter().find(|t| t.kind == kind).map(|t| &*t.value)
    }

    /// The application protocol the client negotiated with the proxy (TLV `0x01`).
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tlv(TLV_ALPN)
    }

    /// The host name the client asked for (TLV `0x02`, from SNI or the HTTP host), if it
    /// is UTF-8.
    pub fn authority(&self) -> Option<&str> {
        self.tlv(TLV_AUTHORITY)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The proxy's unique id of the connection (TLV `0x05`, HAProxy's `unique-id`).
    pub fn unique_id(&self) -> Option<&[u8]> {
        self.tlv(TLV_UNIQUE_ID)
    }

    /// The SSL TLV (`0x20`) and its sub-TLVs, if present and well formed.
    pub fn ssl(&self) -> Option<Ssl> {
        let value = self.tlv(TLV_SSL)?;
        let (&client, rest) = value.split_first()?;
        let verify = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
        let mut ssl = Ssl {
            client,
            verify,
            ..Ssl::default()
        };
        for (kind, value, _) in Tlvs::new(&rest[4..]) {
            let text = Some(String::from_utf8_lossy(value).into_owned());
            match kind {
                0x21 => ssl.version = text,
                0x22 => ssl.common_name = text,
                0x23 => ssl.cipher = text,
                0x24 => ssl.signature_algorithm = text,
                0x25 => ssl.key_algorithm = text,
                _ => {}
            }
        }
        Some(ssl)
    }

    /// Records the socket's peer: the proxy.
    pub(super) fn set_proxy(&mut self, peer: Option<SocketAddr>) {
        self.proxy = peer;
    }

    /// Records the socket's own address, the destination of a header that carries none.
    pub(crate) fn set_socket_local(&mut self, local: Option<SocketAddr>) {
        self.socket_local = local;
    }
}

/// Why a connection's header was refused.
#[derive(Debug)]
pub(super) enum HeaderError {
    /// The peer closed before sending anything.
    Closed,
    /// The peer closed in the middle of the header.
    Truncated,
    /// The first bytes are neither a v1 nor a v2 signature.
    NoHeader,
    /// A header of the other version.
    Version {
        sent: u8,
        accepted: Version,
    },
    /// A v1 header with no CRLF within 107 bytes.
    TooLong,
    /// A v2 header longer than the bound.
    Oversize {
        length: usize,
        max: usize,
    },
    /// The parser refused it.
    Malformed(String),
    /// A CRC32C TLV that does not match the header.
    Checksum,
    Io(io::Error),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Closed => f.write_str("the connection closed before the header"),
            HeaderError::Truncated => {
                f.write_str("the connection closed in the middle of the header")
            }
            HeaderError::NoHeader => f.write_str("no PROXY signature (is the client a proxy?)"),
            HeaderError::Version { sent, accepted } => write!(
                f,
                "a v{sent} header, but this server takes {} headers only",
                accepted.as_str()
            ),
            HeaderError::TooLong => write!(f, "a v1 header longer than {MAX_V1_LENGTH} bytes"),
            HeaderError::Oversize { length, max } => {
                write!(
                    f,
                    "a v2 header of {length} bytes, over the {max}-byte limit"
                )
            }
            HeaderError::Malformed(why) => f.write_str(why),
            HeaderError::Checksum => f.write_str("its CRC32C does not match"),
            HeaderError::Io(e) => e.fmt(f),
        }
    }
}

/// Reads one header from `io`: the header, and the bytes read after it.
pub(super) async fn read_header<IO: AsyncRead + Unpin>(
    io: &mut IO,
    accepted: Version,
    max_v2: usize,
) -> Result<(ProxyHeader, Vec<u8>), HeaderError> {
    let mut buf = Vec::with_capacity(READ_SIZE);
    loop {
        buf.reserve(READ_SIZE);
        let n = io.read_buf(&mut buf).await.map_err(HeaderError::Io)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                HeaderError::Closed
            } else {
                HeaderError::Truncated
            });
        }
        if let Some(length) = header_length(&buf, accepted, max_v2)? {
            let header = parse(&buf[..length])?;
            let rest = buf.split_off(length);
            return Ok((header, rest));
        }
    }
}

/// The header's length once `buf` holds all of it, `None` while it may still come.
fn header_length(
    buf: &[u8],
    accepted: Version,
    max_v2: usize,
) -> Result<Option<usize>, HeaderError> {
    let (sent, signature) = match buf.first() {
        None => return Ok(None),
        Some(b'P') => (1, V1_SIGNATURE),
        Some(b'\r') => (2, V2_SIGNATURE),
        Some(_) => return Err(HeaderError::NoHeader),
    };
    let shown = buf.len().min(signature.len());
    if buf[..shown] != signature[..shown] {
        return Err(HeaderError::NoHeader);
    }
    match (accepted, sent) {
        (Version::V1, 2) | (Version::V2, 1) => {
            return Err(HeaderError::Version { sent, accepted });
        }
        _ => {}
    }
    if sent == 1 {
        let window = &buf[..buf.len().min(MAX_V1_LENGTH)];
        return match memchr::memchr(b'\n', window) {
            Some(at) if at > 0 && window[at - 1] == b'\r' => Ok(Some(at + 1)),
            Some(_) => Err(HeaderError::Malformed(
                "a v1 header must end in CRLF".to_owned(),
            )),
            None if buf.len() >= MAX_V1_LENGTH => Err(HeaderError::TooLong),
            None => Ok(None),
        };
    }
    if buf.len() < V2_FIXED {
        return Ok(None);
    }
    let length = V2_FIXED + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if length > max_v2 {
        return Err(HeaderError::Oversize {
            length,
            max: max_v2,
        });
    }
    Ok((buf.len() >= length).then_some(length))
}

/// Parses a whole header with `ppp`, and checks its CRC32C TLV if it has one.
fn parse(bytes: &[u8]) -> Result<ProxyHeader, HeaderError> {
    let malformed = |e: &dyn fmt::Display| HeaderError::Malformed(e.to_string());
    let mut header = ProxyHeader {
        version: 1,
        local: true,
        source: None,
        destination: None,
        proxy: None,
        socket_local: None,
        tlvs: Vec::new(),
    };
    if bytes[0] == b'P' {
        let v1 = ppp::v1::Header::try_from(bytes).map_err(|e| malformed(&e))?;
        let (source, destination) = match v1.addresses {
            ppp::v1::Addresses::Tcp4(a) => (
                SocketAddrV4::new(a.source_address, a.source_port).into(),
                SocketAddrV4::new(a.destination_address, a.destination_port).into(),
            ),
            ppp::v1::Addresses::Tcp6(a) => (
                SocketAddrV6::new(a.source_address, a.source_port, 0, 0).into(),
                SocketAddrV6::new(a.destination_address, a.destination_port, 0, 0).into(),
            ),
            ppp::v1::Addresses::Unknown => return Ok(header),
        };
        header.local = false;
        header.source = Some(source);
        header.destination = Some(destination);
        return Ok(header);
    }
    let v2 = ppp::v2::Header::try_from(bytes).map_err(|e| malformed(&e))?;
    header.version = 2;
    let tlv_start = bytes.len() - v2.tlv_bytes().len();
    for (kind, value, at) in Tlvs::new(v2.tlv_bytes()) {
        if kind == TLV_CRC32C {
            let Ok(sent) = <[u8; 4]>::try_from(value) else {
                return Err(HeaderError::Malformed(
                    "a CRC32C TLV must hold 4 bytes".to_owned(),
                ));
            };
            // The checksum covers the whole header with its own field zeroed.
            let field = tlv_start + at;
            let sum = crc32c([&bytes[..field], &[0; 4], &bytes[field + 4..]]);
            if sum != u32::from_be_bytes(sent) {
                return Err(HeaderError::Checksum);
            }
        }
        header.tlvs.push(Tlv {
            kind,
            value: value.into(),
        });
    }
    if Tlvs::new(v2.tlv_bytes()).rest_is_malformed() {
        return Err(HeaderError::Malformed(
            "its TLVs overrun the header".to_owned(),
        ));
    }
    if v2.command == ppp::v2::Command::Local {
        return Ok(header);
    }
    let addresses = match v2.addresses {
        ppp::v2::Addresses::IPv4(a) => Some((
            SocketAddrV4::new(a.source_address, a.source_port).into(),
            SocketAddrV4::new(a.destination_address, a.destination_port).into(),
        )),
        ppp::v2::Addresses::IPv6(a) => Some((
            SocketAddrV6::new(a.source_address, a.source_port, 0, 0).into(),
            SocketAddrV6::new(a.destination_address, a.destination_port, 0, 0).into(),
        )),
        // A Unix or unspecified source has no IP address: keep the socket's.
        ppp::v2::Addresses::Unix(_) | ppp::v2::Addresses::Unspecified => None,
    };
    if let Some((source, destination)) = addresses {
        header.local = false;
        header.source = Some(source);
        header.destination = Some(destination);
    }
    Ok(header)
}

/// The TLVs of a byte run: `(type, value, offset of the value)`. Stops at the first
/// entry that overruns the run.
struct Tlvs<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Tlvs<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Tlvs { bytes, at: 0 }
    }

    /// True if the entries do not end exactly at the end of the run.
    fn rest_is_malformed(mut self) -> bool {
        while self.next().is_some() {}
        self.at != self.bytes.len()
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = (u8, &'a [u8], usize);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.bytes.get(self.at..)?;
        let (&kind, rest) = rest.split_first()?;
        let length = usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?));
        let value = rest.get(2..2 + length)?;
        let offset = self.at + 3;
        self.at = offset + length;
        Some((kind, value, offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[(u8, &[u8])]) -> Vec<u8> {
        let mut body = addresses.to_vec();
        for (kind, value) in tlvs {
            body.push(*kind);
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
        }
        let mut header = V2_SIGNATURE.to_vec();
        header.push(0x20 | command);
        header.push(family);
        header.extend_from_slice(&(body.len() as u16).to_be_bytes());
        header.extend_from_slice(&body);
        header
    }

    fn ipv4_block() -> Vec<u8> {
        let mut block = vec![192, 0, 2, 7, 10, 0, 0, 1];
        block.extend_from_slice(&51_000u16.to_be_bytes());
        block.extend_from_slice(&443u16.to_be_bytes());
        block
    }

    /// The header read from `input` split into pieces of `step` bytes.
    async fn read_in_steps(
        input: &[u8],
        step: usize,
        accepted: Version,
    ) -> Result<(ProxyHeader, Vec<u8>), HeaderError> {
        let (mut client, mut server) = tokio::io::duplex(64);
        let input = input.to_vec();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for piece in input.chunks(step) {
                if client.write_all(piece).await.is_err() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        });
        let read = read_header(&mut server, accepted, 2048).await;
        writer.abort();
        read
    }

    fn read(input: &[u8], accepted: Version) -> Result<(ProxyHeader, Vec<u8>), HeaderError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(read_in_steps(input, input.len().max(1), accepted))
    }

    #[test]
    fn v1_tcp4_tcp6_and_unknown() {
        let (h, rest) = read(
            b"PROXY TCP4 192.0.2.7 10.0.0.1 51000 443\r\nhello\n",
            Version::V1,
        )
        .unwrap();
        assert_eq!(h.client(), Some("192.0.2.7:51000".parse().unwrap()));
        assert_eq!(h.destination(), Some("10.0.0.1:443".parse().unwrap()));
        assert_eq!((h.version(), h.is_local()), (1, false));
        assert_eq!(rest, b"hello\n");
        let (h, _) = read(
            b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n",
            Version::Any,
        )
        .unwrap();
        assert_eq!(h.client(), Some("[2001:db8::7]:51000".parse().unwrap()));
        let (h, _) = read(b"PROXY UNKNOWN anything at all\r\n", Version::Any).unwrap();
        assert!(h.is_local() && h.client().is_none());
    }

    #[test]
    fn v2_proxy_local_and_tlvs() {
        let tlvs: &[(u8, &[u8])] = &[
            (TLV_ALPN, b"h2"),
            (TLV_AUTHORITY, b"example.com"),
            (TLV_UNIQUE_ID, b"id-42"),
            (
                TLV_SSL,
                &[
                    0x01, 0, 0, 0, 0, 0x21, 0, 7, b'T', b'L', b'S', b'v', b'1', b'.', b'3', 0x22,
                    0, 2, b'c', b'n',
                ],
            ),
        ];
        let header = v2(1, 0x11, &ipv4_block(), tlvs);
        let mut input = header.clone();
        input.extend_from_slice(b"data");
        let (h, rest) = read(&input, Version::V2).unwrap();
        assert_eq!(h.client(), Some("192.0.2.7:51000".parse().unwrap()));
        assert_eq!(h.destination(), Some("10.0.0.1:443".parse().unwrap()));
        assert_eq!(h.alpn(), Some(&b"h2"[..]));
        assert_eq!(h.authority(), Some("example.com"));
        assert_eq!(h.unique_id(), Some(&b"id-42"[..]));
        let ssl = h.ssl().unwrap();
        assert_eq!((ssl.client, ssl.verify), (1, 0));
        assert_eq!(ssl.version.as_deref(), Some("TLSv1.3"));
        assert_eq!(ssl.common_name.as_deref(), Some("cn"));
        assert_eq!(rest, b"data");

        let (h, _) = read(&v2(0, 0x00, &[], &[]), Version::Any).unwrap();
        assert!(h.is_local() && h.client().is_none() && h.version() == 2);
        // LOCAL with addresses: they are ignored.
        let (h, _) = read(&v2(0, 0x11, &ipv4_block(), &[]), Version::Any).unwrap();
        assert!(h.is_local());
    }

    #[test]
    fn crc32c_is_checked() {
        let mut header = v2(1, 0x11, &ipv4_block(), &[(TLV_CRC32C, &[0; 4])]);
        let sum = crc32c([&header[..]]);
        let field = header.len() - 4;
        header[field..].copy_from_slice(&sum.to_be_bytes());
        assert!(read(&header, Version::V2).is_ok());
        header[field] ^= 1;
        assert!(matches!(
            read(&header, Version::V2),
            Err(HeaderError::Checksum)
        ));
    }

    #[test]
    fn bad_headers() {
        let long = format!("PROXY TCP4 {}\r\n", "1".repeat(120));
        let mut oversize = V2_SIGNATURE.to_vec();
        oversize.extend_from_slice(&[0x21, 0x11, 0x10, 0x00]);
        let cases: Vec<(Vec<u8>, Version, &str)> = vec![
            (
                b"GET / HTTP/1.1\r\n\r\n".to_vec(),
                Version::Any,
                "no PROXY signature",
            ),
            (b"PROXX TCP4".to_vec(), Version::Any, "no PROXY signature"),
            (
                b"\r\n\r\n\0\r\nQUIX\n".to_vec(),
                Version::Any,
                "no PROXY signature",
            ),
            (long.into_bytes(), Version::V1, "longer than 107 bytes"),
            (oversize, Version::V2, "over the 2048-byte limit"),
            (b"PROXY TCP4 1.2.3.4\r\n".to_vec(), Version::V1, "missing"),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n".to_vec(),
                Version::V1,
                "must end in CRLF",
            ),
            (
                b"PROXY UNKNOWN\r\n".to_vec(),
                Version::V2,
                "a v1 header, but this server takes v2 headers only",
            ),
            (
                v2(1, 0x11, &ipv4_block(), &[]),
                Version::V1,
                "a v2 header, but this server takes v1 headers only",
            ),
            (v2(1, 0x11, &[1, 2, 3], &[]), Version::V2, "cannot store"),
            (
                v2(1, 0x11, &[&ipv4_block()[..], &[1, 0, 9]].concat(), &[]),
                Version::V2,
                "overrun",
            ),
            (
                b"PROXY TCP4 192.0.2.7 10.0.0.1 51000".to_vec(),
                Version::V1,
                "in the middle of the header",
            ),
        ];
        for (input, accepted, expected) in cases {
            let error = read(&input, accepted).unwrap_err().to_string();
            assert!(
                error.contains(expected),
                "{:?}: {error}",
                String::from_utf8_lossy(&input)
            );
        }
        assert!(matches!(read(b"", Version::Any), Err(HeaderError::Closed)));
    }

    #[tokio::test]
    async fn a_header_byte_by_byte() {
        let input = [&v2(1, 0x11, &ipv4_block(), &[(TLV_ALPN, b"h2")])[..], b"x"].concat();
        let (h, rest) = read_in_steps(&input, 1, Version::Any).await.unwrap();
        assert_eq!(h.alpn(), Some(&b"h2"[..]));
        // Read one byte at a time, nothing past the header is consumed but what arrived
        // with its last byte.
        assert!(rest.is_empty() || rest == b"x");
        let v1 = b"PROXY TCP6 ::1 ::1 1 2\r\n";
        let (h, _) = read_in_steps(v1, 1, Version::Any).await.unwrap();
        assert_eq!(h.client(), Some("[::1]:1".parse().unwrap()));
    }
}
