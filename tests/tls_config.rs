//! `TlsConfig` is checked when built: every problem is one line naming the file and what
//! is wrong with it; a reload with a broken file keeps the configuration in use.

mod tls_support;

use std::path::Path;
use std::sync::Arc;

use tcpserver::ErrorKind;
use tcpserver::tls::{ClientAuth, TlsConfig};
use tls_support::{TempDir, cert, read};

/// Asserts that `result` failed with one line naming `file` and containing `problem`.
fn assert_error(result: tcpserver::Result<TlsConfig>, file: &Path, problem: &str) {
    let err = result.expect_err("the configuration should be refused");
    let message = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Tls, "{message}");
    assert!(!message.contains('\n'), "not one line: {message}");
    assert!(
        message.contains(&format!("\"{}\"", file.display())),
        "does not name {}: {message}",
        file.display()
    );
    assert!(
        message.contains(problem),
        "does not say {problem:?}: {message}"
    );
}

#[test]
fn missing_or_unreadable_files() {
    let dir = TempDir::new("tls-config");
    let missing = dir.path().join("missing.pem");
    assert_error(
        TlsConfig::from_pem(&missing),
        &missing,
        "No such file or directory",
    );
    assert_error(
        TlsConfig::from_pem(dir.path()),
        dir.path(),
        "cannot read TLS certificate file",
    );
    assert_error(
        TlsConfig::from_cert_key(cert("server.crt"), &missing),
        &missing,
        "cannot read TLS key file",
    );
    assert_error(
        TlsConfig::builder()
            .pem(cert("server.pem"))
            .client_ca(&missing, ClientAuth::Required)
            .build(),
        &missing,
        "cannot read TLS client CA file",
    );
}

#[test]
fn no_certificate_or_no_key() {
    assert_error(
        TlsConfig::from_pem(cert("server.key")),
        &cert("server.key"),
        "no certificate in TLS certificate file",
    );
    assert_error(
        TlsConfig::from_pem(cert("server.crt")),
        &cert("server.crt"),
        "no private key in TLS certificate file",
    );
    assert_error(
        TlsConfig::from_cert_key(cert("server.crt"), cert("server.crt")),
        &cert("server.crt"),
        "no private key in TLS key file",
    );
    assert_error(
        TlsConfig::builder()
            .pem(cert("server.pem"))
            .client_ca(cert("server.key"), ClientAuth::Optional)
            .build(),
        &cert("server.key"),
        "no certificate in TLS client CA file",
    );
}

#[test]
fn key_that_does_not_match_its_certificate() {
    assert_error(
        TlsConfig::from_cert_key(cert("server.crt"), cert("client.pem")),
        &cert("client.pem"),
        &format!(
            "does not match the certificate in \"{}\"",
            cert("server.crt").display()
        ),
    );
    let dir = TempDir::new("tls-config");
    let mixed = dir.write(
        "mixed.pem",
        &[read(&cert("server.crt")), read(&cert("client.pem"))].concat(),
    );
    // The first key in the file is the client's: it does not match the server's leaf.
    assert_error(
        TlsConfig::from_pem(&mixed),
        &mixed,
        "does not match its certificate",
    );
}

#[test]
fn malformed_and_encrypted_pem() {
    let dir = TempDir::new("tls-config");
    let garbage = dir.write(
        "garbage.pem",
        b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    );
    assert_error(TlsConfig::from_pem(&garbage), &garbage, "malformed PEM");
    let truncated = dir.write("truncated.pem", b"-----BEGIN CERTIFICATE-----\nMIIB\n");
    assert_error(TlsConfig::from_pem(&truncated), &truncated, "missing");
    let encrypted = dir.write(
        "encrypted.pem",
        &[
            read(&cert("server.crt")),
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .to_vec(),
        ]
        .concat(),
    );
    assert_error(TlsConfig::from_pem(&encrypted), &encrypted, "is encrypted");
}

#[test]
fn sni_certificate_must_cover_its_name() {
    assert_error(
        TlsConfig::builder()
            .sni_pem("elsewhere.test", cert("server.pem"))
            .build(),
        &cert("server.pem"),
        "cannot serve the SNI name \"elsewhere.test\"",
    );
    TlsConfig::builder()
        .sni_pem("other.test", cert("sni.pem"))
        .build()
        .expect("an SNI certificate alone is enough");
}

#[test]
fn nothing_to_serve_and_bad_alpn() {
    let err = TlsConfig::builder().build().unwrap_err();
    assert!(
        err.to_string().contains("no TLS certificate configured"),
        "{err}"
    );
    let err = TlsConfig::builder()
        .pem(cert("server.pem"))
        .alpn_protocols(["h2", ""])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("ALPN"), "{err}");
}

#[test]
fn reload_keeps_the_configuration_in_use_when_a_file_is_broken() {
    let dir = TempDir::new("tls-config");
    let pem = dir.write("server.pem", &read(&cert("server.pem")));
    let tls = TlsConfig::from_pem(&pem).unwrap();
    let before = tls.server_config();

    dir.write("server.pem", &read(&cert("server.key")));
    let err = tls.reload().unwrap_err();
    assert!(err.to_string().contains("no certificate"), "{err}");
    assert!(Arc::ptr_eq(&tls.server_config(), &before));

    dir.write("server.pem", &read(&cert("server2.pem")));
    tls.reload().unwrap();
    assert!(!Arc::ptr_eq(&tls.server_config(), &before));
    // Clones share the configuration.
    let clone = tls.clone();
    assert!(Arc::ptr_eq(&clone.server_config(), &tls.server_config()));
}
