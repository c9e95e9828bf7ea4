//! What a completed handshake negotiated, as [`IoStream::wait_for_handshake`] reports it.
//!
//! [`IoStream::wait_for_handshake`]: crate::IoStream::wait_for_handshake
#![forbid(unsafe_code)]

use rustls::pki_types::CertificateDer;
use rustls::{CipherSuite, CommonState, ProtocolVersion};

/// The outcome of a TLS handshake: peer certificates, ALPN protocol, SNI name, TLS version
/// and cipher suite (what Tornado's `SSLIOStream` exposes through `getpeercert()`,
/// `selected_alpn_protocol()`, `version()` and `cipher()`).
///
/// Captured once, when the handshake completes, so it stays readable after the stream is
/// closed.
///
/// # Examples
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tcpserver::IoStream;
///
/// async fn handler(mut stream: IoStream, addr: SocketAddr) -> tcpserver::Result<()> {
///     if let Some(tls) = stream.wait_for_handshake()? {
///         let who = if tls.peer_certificate().is_some() { "a known client" } else { "anonymous" };
///         let host = tls.server_name().unwrap_or("(no SNI)");
///         let http2 = tls.alpn_protocol() == Some(b"h2");
///         let (version, suite) = (tls.protocol_version(), tls.cipher_suite());
///         let line = format!("hello {who} at {host} over {version:?} with {suite:?}, h2: {http2}\n");
///         stream.write(line.as_bytes()).await?;
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    peer_certificates: Vec<CertificateDer<'static>>,
    alpn_protocol: Option<Vec<u8>>,
    server_name: Option<Box<str>>,
    protocol_version: ProtocolVersion,
    cipher_suite: CipherSuite,
}

impl TlsInfo {
    /// Reads the negotiated parameters of a connection whose handshake is complete; a
    /// server passes the name the client asked for, a client the name it checked.
    pub(crate) fn from_state(conn: &CommonState, server_name: Option<&str>) -> Self {
        TlsInfo {
            peer_certificates: conn
                .peer_certificates()
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            alpn_protocol: conn.alpn_protocol().map(<[u8]>::to_vec),
            server_name: server_name.map(Into::into),
            protocol_version: conn
                .protocol_version()
                .unwrap_or(ProtocolVersion::Unknown(0)),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map_or(CipherSuite::Unknown(0), |s| s.suite()),
        }
    }

    /// The peer's certificate chain, its own certificate first. On a server's stream, the
    /// client's: empty when the client sent none (client certificates not requested, or
    /// optional and not given); when client certificates are requested, the chain has been
    /// verified against the configured CA file before the handler runs. On a client's
    /// stream ([`IoStream::connect_tls`](crate::IoStream::connect_tls)), the server's,
    /// verified against the client's roots.
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        &self.peer_certificates
    }

    /// The client's own (end-entity) certificate, DER-encoded, if it sent one.
    pub fn peer_certificate(&self) -> Option<&CertificateDer<'static>> {
        self.peer_certificates.first()
    }

    /// The application protocol agreed through ALPN (`b"h2"`, `b"http/1.1"`, ...), if the
    /// server offers ALPN and the client asked for one of its protocols.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn_protocol.as_deref()
    }

    /// The host name the client asked for (SNI), lower-cased; `None` if it sent none
    /// (clients connecting to an IP address do not). On a client's stream, the name the
    /// server's certificate was checked against.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The TLS version in use (`TLSv1_2` or `TLSv1_3`).
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.protocol_version
    }

    /// The cipher suite in use, for example `TLS13_AES_128_GCM_SHA256`.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.cipher_suite
    }
}
