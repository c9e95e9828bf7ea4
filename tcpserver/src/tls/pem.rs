//! Certificates and keys from PEM files, with errors that name the file and the problem.
//!
//! Files are read whole and parsed with `rustls::pki_types::pem::PemObject`
//! (`rustls-pemfile` is unmaintained). Each error is one line, because the launcher prints
//! it as the whole start-up failure message.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::error::{Error, ErrorKind, Result};

/// Where a certificate chain and its private key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum CertFiles {
    /// One PEM file holding the chain (leaf first) and the key.
    Pem(PathBuf),
    /// A chain file and a key file.
    CertKey { cert: PathBuf, key: PathBuf },
}

impl CertFiles {
    /// Reads and checks the chain and key: both present, the key usable by the provider,
    /// and the key the one the leaf certificate certifies.
    pub(super) fn load(&self, provider: &CryptoProvider) -> Result<CertifiedKey> {
        let (chain, key, cert_path, key_path) = match self {
            CertFiles::Pem(path) => {
                let pem = read(path, "TLS certificate file")?;
                let chain = certs(&pem, path, "TLS certificate file")?;
                let key = private_key(&pem, path, "TLS certificate file")?;
                (chain, key, path, path)
            }
            CertFiles::CertKey { cert, key } => {
                let chain = certs(
                    &read(cert, "TLS certificate file")?,
                    cert,
                    "TLS certificate file",
                )?;
                let private = private_key(&read(key, "TLS key file")?, key, "TLS key file")?;
                (chain, private, cert, key)
            }
        };
        let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
            tls_error(format!(
                "unusable private key in {}: {}",
                Quoted(key_path),
                rustls_message(&e)
            ))
        })?;
        let certified = CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            // `Unknown`: the provider cannot tell (it can for ring's keys); let it through,
            // as rustls's own `with_single_cert` does.
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                Ok(certified)
            }
            Err(rustls::Error::InconsistentKeys(_)) if cert_path == key_path => {
                Err(tls_error(format!(
                    "the private key in {} does not match its certificate",
                    Quoted(key_path)
                )))
            }
            Err(rustls::Error::InconsistentKeys(_)) => Err(tls_error(format!(
                "the private key in {} does not match the certificate in {}",
                Quoted(key_path),
                Quoted(cert_path)
            ))),
            Err(e) => Err(tls_error(format!(
                "invalid certificate in {}: {}",
                Quoted(cert_path),
                rustls_message(&e)
            ))),
        }
    }

    /// The file holding the certificate chain, for messages.
    pub(super) fn cert_path(&self) -> &Path {
        match self {
            CertFiles::Pem(path) => path,
            CertFiles::CertKey { cert, .. } => cert,
        }
    }
}

/// Reads the trust anchors of a client-CA file.
pub(super) fn ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    certs(
        &read(path, "TLS client CA file")?,
        path,
        "TLS client CA file",
    )
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| tls_error(format!("cannot read {what} {}: {e}", Quoted(path))))
}

fn certs(pem: &[u8], path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| malformed(path, what, &e))?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "no certificate in {what} {} (expected a PEM \"BEGIN CERTIFICATE\" section)",
            Quoted(path)
        )));
    }
    Ok(certs)
}

fn private_key(pem: &[u8], path: &Path, what: &str) -> Result<PrivateKeyDer<'static>> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) if contains(pem, b"BEGIN ENCRYPTED PRIVATE KEY") => {
            Err(tls_error(format!(
                "the private key in {what} {} is encrypted; decrypt it first (openssl pkey -in KEY -out KEY.plain)",
                Quoted(path)
            )))
        }
        Err(pem::Error::NoItemsFound) => Err(tls_error(format!(
            "no private key in {what} {} (expected a PEM \"BEGIN PRIVATE KEY\", \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" section)",
            Quoted(path)
        ))),
        Err(e) => Err(malformed(path, what, &e)),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn malformed(path: &Path, what: &str, err: &pem::Error) -> Error {
    let problem = match err {
        pem::Error::MissingSectionEnd { end_marker } => {
            format!("missing \"{}\" line", String::from_utf8_lossy(end_marker))
        }
        pem::Error::IllegalSectionStart { line } => {
            format!(
                "bad section start \"{}\"",
                String::from_utf8_lossy(line).trim()
            )
        }
        other => other.to_string(),
    };
    tls_error(format!(
        "malformed PEM in {what} {}: {problem}",
        Quoted(path)
    ))
}

/// rustls errors print well, but some carry a trailing debug structure; one line is enough.
pub(super) fn rustls_message(err: &rustls::Error) -> String {
    err.to_string().replace('\n', " ")
}

pub(super) fn tls_error(message: String) -> Error {
    Error::new(ErrorKind::Tls).with_message(message)
}

/// A path in double quotes, as Tornado's `certfile "<path>" does not exist`.
pub(super) struct Quoted<'a>(pub(super) &'a Path);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.display())
    }
}
