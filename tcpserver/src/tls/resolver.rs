//! Picks the certificate for each handshake: by SNI name, else the default one.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, ResolvesServerCertUsingSni};
use rustls::sign::CertifiedKey;

use super::pem::{CertFiles, Quoted, rustls_message, tls_error};
use crate::error::Result;

/// rustls's `ResolvesServerCertUsingSni` has no fallback for clients that send no (or an
/// unknown) name, which is most of them for a server addressed by IP; this one has.
#[derive(Debug)]
pub(super) struct CertResolver {
    default: Option<Arc<CertifiedKey>>,
    /// Lower-case DNS names; rustls lower-cases the client's name before `resolve`.
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl CertResolver {
    pub(super) fn load(
        default: Option<&CertFiles>,
        by_name: &[(String, CertFiles)],
        provider: &CryptoProvider,
    ) -> Result<Self> {
        let default = default
            .map(|files| files.load(provider).map(Arc::new))
            .transpose()?;
        let mut names = HashMap::with_capacity(by_name.len());
        for (name, files) in by_name {
            let key = files.load(provider)?;
            // Used only for its checks: a valid DNS name that the certificate covers.
            ResolvesServerCertUsingSni::new()
                .add(name, key.clone())
                .map_err(|e| {
                    tls_error(format!(
                        "TLS certificate file {} cannot serve the SNI name \"{name}\": {}",
                        Quoted(files.cert_path()),
                        rustls_message(&e)
                    ))
                })?;
            names.insert(name.to_ascii_lowercase(), Arc::new(key));
        }
        Ok(CertResolver {
            default,
            by_name: names,
        })
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        client_hello
            .server_name()
            .and_then(|name| self.by_name.get(name))
            .or(self.default.as_ref())
            .cloned()
    }
}
