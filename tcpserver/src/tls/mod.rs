//! TLS for [`TcpServer`](crate::TcpServer): Tornado's `ssl_options` as a [`TlsConfig`], and
//! what a handshake negotiated as a [`TlsInfo`].
//!
//! TLS is rustls (through tokio-rustls) with one crypto provider, *ring*; PEM files are read
//! with `rustls::pki_types::pem`. The [`rustls`] crate is re-exported so that a ready
//! `ServerConfig` can be built without depending on it separately.
//!
//! # How connections are served
//!
//! - **The handler runs after the handshake.** Tornado calls `handle_stream` at once and
//!   lets the handler await `wait_for_handshake()`; we complete the handshake first, in the
//!   connection's own task, and call the handler only if it succeeded. A failed handshake
//!   therefore never reaches the handler, [`IoStream::wait_for_handshake`] answers at
//!   once, and a server that writes first cannot busy-loop while the client has not
//!   finished its handshake (Tornado #2373).
//! - **The accept loop never waits for a handshake.** It accepts and spawns; each
//!   connection's task does its own handshake.
//! - **Every handshake has a deadline**
//!   ([`Builder::handshake_timeout`](crate::tcpserver::Builder::handshake_timeout), default
//!   10 s, counted from the accept). A client that connects and never speaks is closed at
//!   the deadline (Tornado keeps it forever).
//! - **Handshakes in progress are capped**
//!   ([`Builder::max_handshakes`](crate::tcpserver::Builder::max_handshakes), default
//!   [`DEFAULT_MAX_HANDSHAKES`]) to bound the CPU spent on a burst of new clients; a client
//!   over the cap waits for a slot, under its deadline. A connection takes a slot only
//!   once its first bytes arrive, so clients that connect and stay silent cost a socket
//!   until the deadline, but never a slot: they cannot keep a real client waiting.
//! - **A failed handshake closes that connection only** and is logged once, without a
//!   trace: at debug level when the client went away or was too slow, at info level when
//!   it spoke badly (plain text, a certificate we reject, no shared protocol version).
//!   Tornado logs these at warning, with a traceback for some.
//! - A [`drain`](crate::TcpServer::drain) or a graceful
//!   [`shutdown`](crate::TcpServer::shutdown) gives handshakes in progress one more second
//!   (within their deadline) to finish, then closes them: a client whose connection was
//!   accepted just before is served (an upgrade's old process hands over without a reset),
//!   and a silent client does not hold the shutdown until its deadline.
//! - [`IoStream::close`] sends a TLS `close_notify` first, best-effort; dropping a stream
//!   does not (so a stream dropped half-way is not mistaken for a complete one).
//!
//! # Certificate reload
//!
//! [`TlsConfig::reload`] (or [`TcpServer::reload_tls`](crate::TcpServer::reload_tls), which
//! a [`Launcher`](crate::Launcher) binary calls on SIGHUP) reads the files again: new
//! connections get the new certificates, open ones keep theirs. If a file is broken, the
//! error is returned (and logged by the server) and the old certificates stay in use.
//!
//! [`IoStream::wait_for_handshake`]: crate::IoStream::wait_for_handshake
//! [`IoStream::close`]: crate::IoStream::close
//!
//! # Examples
//!
//! A TLS echo server, and a rustls client trusting the test CA:
//!
//! ```
//! use std::net::SocketAddr;
//! use tcpserver::tls::TlsConfig;
//! use tcpserver::{IoStream, TcpServer};
//! # use std::sync::Arc;
//! # use tcpserver::tls::rustls::{self, pki_types::{pem::PemObject, CertificateDer, ServerName}};
//!
//! async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
//!     loop {
//!         let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
//!         stream.write(&line).await?;
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/certs");
//! let tls = TlsConfig::from_pem(format!("{certs}/server.pem"))?;
//! let server = TcpServer::builder().tls(tls).build(echo);
//! let addr = server.listen(0, Some("127.0.0.1"))?[0];
//! # let mut roots = rustls::RootCertStore::empty();
//! # for cert in CertificateDer::pem_file_iter(format!("{certs}/ca.pem"))? { roots.add(cert?)?; }
//! # let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
//! #     .with_safe_default_protocol_versions()?
//! #     .with_root_certificates(roots)
//! #     .with_no_client_auth();
//! # let tcp = tokio::net::TcpStream::connect(addr).await?;
//! # let mut client = tokio_rustls::TlsConnector::from(Arc::new(client))
//! #     .connect(ServerName::try_from("localhost")?, tcp)
//! #     .await?;
//! # use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # client.write_all(b"hello\n").await?;
//! # let mut reply = [0; 6];
//! # client.read_exact(&mut reply).await?;
//! # assert_eq!(&reply, b"hello\n");
//! server.shutdown(std::time::Duration::from_secs(1)).await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub(crate) mod handshake;
mod info;
mod pem;
mod resolver;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::{ServerConfig, WebPkiClientVerifier};

pub use info::TlsInfo;
pub use rustls;

use crate::error::Result;
use pem::{CertFiles, Quoted, rustls_message, tls_error};
use resolver::CertResolver;

/// Default of [`Builder::handshake_timeout`](crate::tcpserver::Builder::handshake_timeout):
/// 10 seconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default of [`Builder::max_handshakes`](crate::tcpserver::Builder::max_handshakes): 256
/// handshakes in progress per server (per process), as ntex's `max_concurrent_ssl_accept`.
pub const DEFAULT_MAX_HANDSHAKES: usize = 256;

/// Whether clients must present a certificate (Tornado's `cert_reqs`).
///
/// # Examples
///
/// ```no_run
/// use tcpserver::tls::{ClientAuth, TlsConfig};
/// let tls = TlsConfig::builder()
///     .pem("server.pem")
///     .client_ca("clients-ca.pem", ClientAuth::Optional)
///     .build()?;
/// # Ok::<(), tcpserver::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client without a valid certificate is refused (`ssl.CERT_REQUIRED`).
    Required,
    /// A client may present a certificate; if it does, it must be valid
    /// (`ssl.CERT_OPTIONAL`). See [`TlsInfo::peer_certificate`].
    Optional,
}

/// A server's TLS settings: Tornado's `ssl_options`, checked when built.
///
/// Three ways to make one, as in Tornado:
/// - [`from_pem`](TlsConfig::from_pem): one PEM file holding the certificate chain and the
///   private key;
/// - [`from_cert_key`](TlsConfig::from_cert_key): separate chain and key files
///   (`certfile`/`keyfile`);
/// - [`from_server_config`](TlsConfig::from_server_config): a ready rustls `ServerConfig`
///   (Tornado's `SSLContext` form), used as it is.
///
/// [`builder`](TlsConfig::builder) adds client certificates, ALPN and certificates chosen
/// by SNI name. Unlike Tornado, which only checks that `certfile` exists and fails per
/// connection later, every file is read and checked when the configuration is built: a
/// missing or unreadable file, a file with no certificate or no key, a key that does not
/// match its certificate are each an error naming the file and the problem.
///
/// Cloning gives another handle to the same configuration (a reload through one is seen by
/// all).
///
/// # Examples
///
/// ```no_run
/// use tcpserver::tls::TlsConfig;
/// use tcpserver::TcpServer;
/// # use std::net::SocketAddr;
/// # async fn handler(_s: tcpserver::IoStream, _a: SocketAddr) {}
///
/// let tls = TlsConfig::from_cert_key("/etc/ssl/example.crt", "/etc/ssl/example.key")?;
/// let server = TcpServer::builder().tls(tls).build(handler);
/// # Ok::<(), tcpserver::Error>(())
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    inner: Arc<Inner>,
}

struct Inner {
    /// How to build the rustls configuration again; `None` for a ready `ServerConfig`.
    spec: Option<Spec>,
    /// Read once per connection (not per read or write), replaced by `reload`.
    current: RwLock<Arc<ServerConfig>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Spec {
    default: Option<CertFiles>,
    by_name: Vec<(String, CertFiles)>,
    client_ca: Option<(PathBuf, ClientAuth)>,
    alpn: Vec<Vec<u8>>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TlsConfig");
        match &self.inner.spec {
            Some(spec) => d
                .field("certificate", &spec.default)
                .field("sni", &spec.by_name)
                .field("client_ca", &spec.client_ca)
                .field("alpn", &spec.alpn),
            None => d.field("server_config", &"(ready rustls ServerConfig)"),
        };
        d.finish()
    }
}

impl TlsConfig {
    /// One PEM file holding the certificate chain (the server's certificate first) and its
    /// private key, as Tornado's `ssl_options={"certfile": path}`.
    ///
    /// # Errors
    ///
    /// An error of kind [`Tls`](crate::ErrorKind::Tls) naming the file if it cannot be
    /// read, holds no certificate or no key, or the key does not match the certificate.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = tcpserver::tls::TlsConfig::from_pem("no/such/server.pem").unwrap_err();
    /// assert!(err.to_string().starts_with("cannot read TLS certificate file \"no/such/server.pem\""));
    /// ```
    pub fn from_pem(path: impl Into<PathBuf>) -> Result<Self> {
        TlsConfig::builder().pem(path).build()
    }

    /// A certificate-chain file and a private-key file (Tornado's `certfile` and
    /// `keyfile`).
    ///
    /// # Errors
    ///
    /// As [`from_pem`](TlsConfig::from_pem), naming the file at fault.
    pub fn from_cert_key(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Result<Self> {
        TlsConfig::builder().cert_key(cert, key).build()
    }

    /// A ready rustls configuration, used as it is (Tornado's `SSLContext` form).
    /// [`reload`](TlsConfig::reload) has no files to read again; replace the configuration
    /// with [`set_server_config`](TlsConfig::set_server_config) instead.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use tcpserver::tls::{rustls, TlsConfig};
    /// # fn doc(chain: Vec<rustls::pki_types::CertificateDer<'static>>, key: rustls::pki_types::PrivateKeyDer<'static>) -> Result<(), rustls::Error> {
    /// let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
    ///     .with_safe_default_protocol_versions()?
    ///     .with_no_client_auth()
    ///     .with_single_cert(chain, key)?;
    /// let tls = TlsConfig::from_server_config(Arc::new(config));
    /// # Ok(()) }
    /// ```
    pub fn from_server_config(config: Arc<ServerConfig>) -> Self {
        TlsConfig {
            inner: Arc::new(Inner {
                spec: None,
                current: RwLock::new(config),
            }),
        }
    }

    /// A builder, for client certificates, ALPN or certificates chosen by SNI name; see
    /// [`TlsConfigBuilder`].
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder::default()
    }

    /// The rustls configuration new connections get now.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.inner
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the rustls configuration for new connections; open connections keep the
    /// one they started with. A later [`reload`](TlsConfig::reload) of a file-based
    /// configuration replaces it again.
    pub fn set_server_config(&self, config: Arc<ServerConfig>) {
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Reads the certificate, key and CA files again and, if they are all good, gives new
    /// connections the new configuration; open connections are untouched. If a file is
    /// broken, returns the error and keeps the configuration in use. Does nothing for a
    /// configuration made [`from_server_config`](TlsConfig::from_server_config).
    ///
    /// # Errors
    ///
    /// The same errors as building the configuration, naming the file at fault.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn doc(tls: &tcpserver::tls::TlsConfig) {
    /// // After renewing the certificate on disk:
    /// if let Err(e) = tls.reload() {
    ///     eprintln!("keeping the old certificate: {e}");
    /// }
    /// # }
    /// ```
    pub fn reload(&self) -> Result<()> {
        let Some(spec) = &self.inner.spec else {
            return Ok(());
        };
        self.set_server_config(spec.build()?);
        Ok(())
    }

    /// The certificate files this configuration reads, for log lines; empty for a ready
    /// `ServerConfig`.
    pub(crate) fn describe_files(&self) -> String {
        let Some(spec) = &self.inner.spec else {
            return String::new();
        };
        let mut files: Vec<String> = Vec::new();
        for certs in spec
            .default
            .iter()
            .chain(spec.by_name.iter().map(|(_, c)| c))
        {
            files.push(Quoted(certs.cert_path()).to_string());
        }
        files.join(", ")
    }
}

/// Builds a [`TlsConfig`]; every file is read and checked by [`build`](Self::build).
///
/// # Examples
///
/// A default certificate, another one for clients that ask for `api.example.com`, client
/// certificates required, and HTTP/2 preferred over HTTP/1.1:
///
/// ```no_run
/// use tcpserver::tls::{ClientAuth, TlsConfig};
///
/// let tls = TlsConfig::builder()
///     .cert_key("certs/server.crt", "certs/server.key")
///     .sni_pem("api.example.com", "certs/api.pem")
///     .client_ca("certs/clients-ca.pem", ClientAuth::Required)
///     .alpn_protocols(["h2", "http/1.1"])
///     .build()?;
/// # Ok::<(), tcpserver::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct TlsConfigBuilder {
    spec: Spec,
    bad_alpn: bool,
}

impl TlsConfigBuilder {
    /// The default certificate: one PEM file holding the chain and the private key. It is
    /// served to clients that send no SNI name or one without a certificate of its own.
    ///
    /// Default: none; [`build`](Self::build) needs a default certificate (this or
    /// [`cert_key`](Self::cert_key), the last one given wins) or an SNI certificate.
    pub fn pem(mut self, path: impl Into<PathBuf>) -> Self {
        self.spec.default = Some(CertFiles::Pem(path.into()));
        self
    }

    /// The default certificate from a chain file and a key file; see [`pem`](Self::pem).
    pub fn cert_key(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.spec.default = Some(CertFiles::CertKey {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// The certificate for clients that ask for `name` through SNI (exact DNS name,
    /// case-insensitive), from one PEM file with chain and key. The certificate must be
    /// valid for `name`. Call it once per name; default: none.
    pub fn sni_pem(mut self, name: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        self.spec
            .by_name
            .push((name.into(), CertFiles::Pem(path.into())));
        self
    }

    /// [`sni_pem`](Self::sni_pem) with separate chain and key files.
    pub fn sni_cert_key(
        mut self,
        name: impl Into<String>,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        let files = CertFiles::CertKey {
            cert: cert.into(),
            key: key.into(),
        };
        self.spec.by_name.push((name.into(), files));
        self
    }

    /// Ask clients for a certificate signed by one of the CAs in this PEM file (Tornado's
    /// `ca_certs` with `cert_reqs`), required or optional. Default: clients are not asked
    /// for a certificate.
    pub fn client_ca(mut self, ca_file: impl Into<PathBuf>, auth: ClientAuth) -> Self {
        self.spec.client_ca = Some((ca_file.into(), auth));
        self
    }

    /// The application protocols offered through ALPN, in order of preference (the first
    /// one the client also offers wins). Default: no ALPN.
    pub fn alpn_protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.spec.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self.bad_alpn = self.spec.alpn.iter().any(|p| p.is_empty() || p.len() > 255);
        self
    }

    /// Reads and checks every file and builds the configuration.
    ///
    /// # Errors
    ///
    /// An error of kind [`Tls`](crate::ErrorKind::Tls), one line naming the file and the
    /// problem: a file missing or unreadable, no certificate or no private key in it, a key
    /// that does not match its certificate, a certificate that does not cover its SNI
    /// name, no CA certificate in the client-CA file; or no certificate configured at all,
    /// or an ALPN name that is empty or longer than 255 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = tcpserver::tls::TlsConfig::builder().build().unwrap_err();
    /// assert_eq!(err.kind(), tcpserver::ErrorKind::Tls);
    /// ```
    pub fn build(self) -> Result<TlsConfig> {
        if self.spec.default.is_none() && self.spec.by_name.is_empty() {
            return Err(tls_error(
                "no TLS certificate configured (give a PEM file, or a certificate and a key)"
                    .into(),
            ));
        }
        if self.bad_alpn {
            return Err(tls_error(
                "ALPN protocol names must be 1 to 255 bytes long".into(),
            ));
        }
        let current = self.spec.build()?;
        Ok(TlsConfig {
            inner: Arc::new(Inner {
                spec: Some(self.spec),
                current: RwLock::new(current),
            }),
        })
    }
}

impl Spec {
    fn build(&self) -> Result<Arc<ServerConfig>> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(format!("TLS provider: {}", rustls_message(&e))))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some((path, auth)) => {
                builder.with_client_cert_verifier(client_verifier(path, *auth, provider.clone())?)
            }
        };
        let resolver = CertResolver::load(self.default.as_ref(), &self.by_name, &provider)?;
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }
}

fn client_verifier(
    path: &std::path::Path,
    auth: ClientAuth,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    for cert in pem::ca_certs(path)? {
        roots.add(cert).map_err(|e| {
            tls_error(format!(
                "invalid CA certificate in TLS client CA file {}: {}",
                Quoted(path),
                rustls_message(&e)
            ))
        })?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let builder = match auth {
        ClientAuth::Required => builder,
        ClientAuth::Optional => builder.allow_unauthenticated(),
    };
    builder
        .build()
        .map_err(|e| tls_error(format!("TLS client CA file {}: {e}", Quoted(path))))
}

/// The one crypto provider: *ring*, named explicitly so that another crate enabling a
/// second rustls provider cannot make configuration building panic.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}
