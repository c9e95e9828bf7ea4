//! TLS certificate files named by the configuration; read and checked at start-up into a
//! [`TlsConfig`].

use std::path::PathBuf;

use tcpserver_options::keys::Id;
use tcpserver_options::value::{SniCertificate, Value};

use super::{OptionGroup, Setting};
use crate::error::Result;
use crate::launch::Launcher;
use crate::tls::{ClientAuth, TlsConfig};

/// The options that together name the server's own certificate: a TLS file given on the
/// command line replaces the compiled-in certificate as a whole, so `--tls-cert` and
/// `--tls-key` never mix with a compiled-in single PEM file.
pub(crate) const IDENTITY: [Id; 3] = [Id::TlsPem, Id::TlsCert, Id::TlsKey];

/// The TLS group: certificate files, client CA, ALPN, SNI.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsFiles {
    pem: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    alpn: Vec<String>,
    sni: Vec<SniCertificate>,
}

impl TlsFiles {
    fn has_identity(&self) -> bool {
        self.pem.is_some() || self.cert.is_some() || !self.sni.is_empty()
    }

    /// Forgets the server's own certificate, before a flag names another.
    pub(crate) fn clear_identity(&mut self) {
        (self.pem, self.cert, self.key) = (None, None, None);
    }

    /// Reads and checks the files (`None` without TLS). Run before forking, so that a bad
    /// certificate is one start-up error, not one per worker.
    pub(crate) fn load(&self) -> Result<Option<TlsConfig>> {
        if !self.has_identity() {
            return Ok(None);
        }
        let mut builder = TlsConfig::builder();
        builder = match (&self.pem, &self.cert, &self.key) {
            (Some(pem), _, _) => builder.pem(pem),
            (None, Some(cert), Some(key)) => builder.cert_key(cert, key),
            _ => builder,
        };
        for sni in &self.sni {
            builder = match &sni.key {
                Some(key) => builder.sni_cert_key(&sni.name, &sni.cert, key),
                None => builder.sni_pem(&sni.name, &sni.cert),
            };
        }
        if let Some(ca) = &self.client_ca {
            builder = builder.client_ca(ca, ClientAuth::Required);
        }
        if !self.alpn.is_empty() {
            builder = builder.alpn_protocols(&self.alpn);
        }
        builder.build().map(Some)
    }
}

impl OptionGroup for TlsFiles {
    fn set(&mut self, id: Id, value: &Value) {
        let path = || Some(PathBuf::from(value.text()));
        match (id, value) {
            (Id::TlsPem, _) => self.pem = path(),
            (Id::TlsCert, _) => self.cert = path(),
            (Id::TlsKey, _) => self.key = path(),
            (Id::TlsClientCa, _) => self.client_ca = path(),
            (Id::TlsAlpn, Value::Protocols(names)) => self.alpn.clone_from(names),
            (Id::TlsSni, Value::Sni(all)) => self.sni.extend(all.iter().cloned()),
            _ => unreachable!("`{id}` is not a TLS option"),
        }
    }

    fn get(&self, id: Id) -> Setting {
        let path = |p: &Option<PathBuf>| match p {
            Some(p) => Setting::Set(Value::Text(p.display().to_string())),
            None => Setting::Unset,
        };
        match id {
            Id::TlsPem => path(&self.pem),
            Id::TlsCert => path(&self.cert),
            Id::TlsKey => path(&self.key),
            Id::TlsClientCa => path(&self.client_ca),
            Id::TlsAlpn if self.alpn.is_empty() => Setting::Unset,
            Id::TlsAlpn => Setting::Set(Value::Protocols(self.alpn.clone())),
            Id::TlsSni if self.sni.is_empty() => Setting::Unset,
            Id::TlsSni => Setting::Set(Value::Sni(self.sni.clone())),
            _ => unreachable!("`{id}` is not a TLS option"),
        }
    }
}

impl Launcher {
    /// Serve TLS with one PEM file holding the certificate chain and the private key
    /// (`--tls`).
    pub fn tls(mut self, pem: impl Into<PathBuf>) -> Self {
        self.tls.clear_identity();
        self.tls.pem = Some(pem.into());
        self
    }

    /// Serve TLS with separate certificate-chain and key files (`--tls-cert`,
    /// `--tls-key`).
    pub fn tls_cert_key(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls.clear_identity();
        self.tls.cert = Some(cert.into());
        self.tls.key = Some(key.into());
        self
    }

    /// Require client certificates signed by the CAs in this PEM file
    /// (`--tls-client-ca`).
    pub fn tls_client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.tls.client_ca = Some(ca.into());
        self
    }

    /// The application protocols offered through ALPN, in order of preference
    /// (`--tls-alpn h2,http/1.1`; default none).
    pub fn tls_alpn<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.tls.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The certificate for clients that ask for `name` through SNI, from one PEM file
    /// with chain and key (`--tls-sni NAME=PEM`; call it once per name).
    pub fn tls_sni(mut self, name: impl Into<String>, pem: impl Into<PathBuf>) -> Self {
        self.tls.sni.push(SniCertificate {
            name: name.into(),
            cert: pem.into().display().to_string(),
            key: None,
        });
        self
    }

    /// [`tls_sni`](Self::tls_sni) with separate chain and key files
    /// (`--tls-sni NAME=CERT,KEY`).
    pub fn tls_sni_cert_key(
        mut self,
        name: impl Into<String>,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls.sni.push(SniCertificate {
            name: name.into(),
            cert: cert.into().display().to_string(),
            key: Some(key.into().display().to_string()),
        });
        self
    }
}
