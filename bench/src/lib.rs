//! Shared bits of the benchmark binaries (`bench/run` drives them; see BENCHMARKS.md).
#![forbid(unsafe_code)]

/// Latency percentiles in microseconds from unsorted samples (sorted in place).
pub fn percentiles(samples: &mut [u32], points: &[f64]) -> Vec<u32> {
    samples.sort_unstable();
    points
        .iter()
        .map(|p| {
            if samples.is_empty() {
                0
            } else {
                let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
                samples[idx.min(samples.len() - 1)]
            }
        })
        .collect()
}

/// `--name value` from the command line, parsed, or `default`.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// True if `--name` is present.
pub fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

/// The name the test certificates are issued for (`examples/certs/`).
pub fn server_name() -> tokio_rustls::rustls::pki_types::ServerName<'static> {
    tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").expect("a valid name")
}

/// A TLS client trusting the CA certificates in the PEM file `ca`.
pub fn tls_connector(ca: &str) -> tokio_rustls::TlsConnector {
    use std::sync::Arc;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots
            .add(cert.expect("CA certificate"))
            .expect("CA certificate");
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The resident memory (VmRSS) of process `pid` in KiB, 0 if it cannot be read.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
