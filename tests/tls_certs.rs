//! The test certificates under `tests/certs/` and `examples/certs/`: vendored, so the
//! suite is deterministic and offline (as tokio-rustls does), and regenerated with rcgen by
//! one command:
//!
//! ```sh
//! cargo test --test tls_certs -- --ignored
//! ```
//!
//! `tests/certs/`:
//!
//! | file | what |
//! |---|---|
//! | `ca.pem` | the test root CA (trust it in clients; the client-CA file of the server) |
//! | `server.pem` | chain (leaf serial `1001` for localhost, 127.0.0.1 and ::1, then an intermediate CA) and key |
//! | `server.crt`, `server.key` | the same, as separate chain and key files |
//! | `server2.pem` | a second server certificate (serial `1002`, another key), for the reload tests |
//! | `sni.pem` | a server certificate for `other.test` (serial `1003`), for the SNI tests |
//! | `client.pem` | a client certificate (CN `test client`, serial `2001`) and key, signed by the root |
//! | `expired.pem` | a certificate for localhost, client and server use, expired on 2020-01-01 (serial `3001`) |
//! | `untrusted-client.pem` | a client certificate signed by a CA nobody trusts |
//!
//! `examples/certs/` holds the same kinds for the examples (`ca.pem`, `server.pem`,
//! `server.crt`, `server.key`, `client.pem`), under a CA of their own.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber, date_time_ymd,
};
use tcpserver::tls::{ClientAuth, TlsConfig};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(sub)
}

/// Every vendored file loads as what it is meant to be.
#[test]
fn vendored_certificates_load() {
    let certs = dir("tests/certs");
    for pem in ["server.pem", "server2.pem", "sni.pem", "expired.pem"] {
        TlsConfig::from_pem(certs.join(pem)).unwrap_or_else(|e| panic!("{pem}: {e}"));
    }
    TlsConfig::from_cert_key(certs.join("server.crt"), certs.join("server.key")).unwrap();
    TlsConfig::builder()
        .pem(certs.join("server.pem"))
        .client_ca(certs.join("ca.pem"), ClientAuth::Required)
        .sni_pem("other.test", certs.join("sni.pem"))
        .build()
        .unwrap();
    let examples = dir("examples/certs");
    TlsConfig::builder()
        .pem(examples.join("server.pem"))
        .client_ca(examples.join("ca.pem"), ClientAuth::Required)
        .build()
        .unwrap();
    TlsConfig::from_cert_key(examples.join("server.crt"), examples.join("server.key")).unwrap();
}

#[test]
#[ignore = "rewrites the vendored certificates; run with --ignored to regenerate them"]
fn regenerate() {
    write_test_certs(&dir("tests/certs"));
    write_example_certs(&dir("examples/certs"));
}

fn write_test_certs(out: &Path) {
    fs::create_dir_all(out).unwrap();
    let root = Ca::root("tcpserver test root CA");
    let intermediate = root.intermediate("tcpserver test intermediate CA");

    let server = intermediate.leaf(Leaf::server(0x1001));
    write(
        out,
        "server.pem",
        &[&server.cert, &intermediate.cert, &server.key],
    );
    write(out, "server.crt", &[&server.cert, &intermediate.cert]);
    write(out, "server.key", &[&server.key]);

    let server2 = intermediate.leaf(Leaf::server(0x1002));
    write(
        out,
        "server2.pem",
        &[&server2.cert, &intermediate.cert, &server2.key],
    );

    let mut sni = Leaf::server(0x1003);
    sni.names = vec!["other.test".into()];
    let sni = intermediate.leaf(sni);
    write(out, "sni.pem", &[&sni.cert, &intermediate.cert, &sni.key]);

    let client = root.leaf(Leaf::client(0x2001));
    write(out, "client.pem", &[&client.cert, &client.key]);

    let mut expired = Leaf::server(0x3001);
    expired.client_too = true;
    expired.not_before = (2019, 1, 1);
    expired.not_after = (2020, 1, 1);
    let expired = root.leaf(expired);
    write(out, "expired.pem", &[&expired.cert, &expired.key]);

    let stranger = Ca::root("tcpserver untrusted CA");
    let untrusted = stranger.leaf(Leaf::client(0x4001));
    write(
        out,
        "untrusted-client.pem",
        &[&untrusted.cert, &untrusted.key],
    );

    write(out, "ca.pem", &[&root.cert]);
}

fn write_example_certs(out: &Path) {
    fs::create_dir_all(out).unwrap();
    let root = Ca::root("tcpserver example CA");
    let server = root.leaf(Leaf::server(0x01));
    write(out, "server.pem", &[&server.cert, &server.key]);
    write(out, "server.crt", &[&server.cert]);
    write(out, "server.key", &[&server.key]);
    let client = root.leaf(Leaf::client(0x02));
    write(out, "client.pem", &[&client.cert, &client.key]);
    write(out, "ca.pem", &[&root.cert]);
}

fn write(dir: &Path, name: &str, sections: &[&str]) {
    fs::write(dir.join(name), sections.concat()).unwrap();
}

/// A certificate authority: its PEM certificate and what signs with it.
struct Ca {
    cert: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A PEM certificate and its PEM private key.
struct Issued {
    cert: String,
    key: String,
}

/// What an end-entity certificate says.
struct Leaf {
    common_name: String,
    names: Vec<String>,
    serial: u64,
    server: bool,
    client_too: bool,
    not_before: (i32, u8, u8),
    not_after: (i32, u8, u8),
}

impl Leaf {
    fn server(serial: u64) -> Self {
        Leaf {
            common_name: "localhost".into(),
            names: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            serial,
            server: true,
            client_too: false,
            not_before: (2025, 1, 1),
            not_after: (2125, 1, 1),
        }
    }

    fn client(serial: u64) -> Self {
        Leaf {
            common_name: "test client".into(),
            names: vec!["client.test".into()],
            serial,
            server: false,
            client_too: true,
            not_before: (2025, 1, 1),
            not_after: (2125, 1, 1),
        }
    }
}

impl Ca {
    fn root(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.self_signed(&key).unwrap().pem();
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    fn intermediate(&self, name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.signed_by(&key, &self.issuer).unwrap().pem();
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(&self, leaf: Leaf) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(leaf.names).unwrap();
        params.distinguished_name = distinguished_name(&leaf.common_name);
        params.serial_number = Some(SerialNumber::from(leaf.serial));
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if leaf.server {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if leaf.client_too {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        let (y, m, d) = leaf.not_before;
        params.not_before = date_time_ymd(y, m, d);
        let (y, m, d) = leaf.not_after;
        params.not_after = date_time_ymd(y, m, d);
        Issued {
            cert: params.signed_by(&key, &self.issuer).unwrap().pem(),
            key: key.serialize_pem(),
        }
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(2025, 1, 1);
    params.not_after = date_time_ymd(2125, 1, 1);
    params
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "tcpserver tests");
    dn.push(DnType::CommonName, common_name);
    dn
}
