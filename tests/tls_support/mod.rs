//! Helpers of the TLS tests: certificate paths, real clients (Python's `ssl` module,
//! `openssl s_client`, a rustls client), temporary directories.
#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tcpserver::tls::rustls::{
    self, ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The longest any single client step may take before a test fails; generous, because
/// the machine is small and shared.
pub const STEP: Duration = Duration::from_secs(20);

/// A file under `tests/certs/` (see `tests/tls_certs.rs`).
pub fn cert(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/certs")
        .join(name)
}

/// A file under `examples/certs/`.
pub fn example_cert(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/certs")
        .join(name)
}

/// The DER of the first certificate in a PEM file.
pub fn first_cert_der(path: &Path) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

/// Runs `tests/tls_client.py` against `port` and returns what it printed, as
/// `key -> values` (`echo` may appear several times).
pub async fn python(port: u16, args: &[&str]) -> HashMap<String, Vec<String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_client.py");
    let out = tokio::time::timeout(
        STEP,
        Command::new("python3")
            .arg(script)
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("python client timed out")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut facts: HashMap<String, Vec<String>> = HashMap::new();
    for line in stdout.lines() {
        if let Some((k, v)) = line.split_once('=') {
            facts.entry(k.to_owned()).or_default().push(v.to_owned());
        }
    }
    facts
}

/// The single value of `key` in a python client's report.
pub fn fact<'a>(facts: &'a HashMap<String, Vec<String>>, key: &str) -> Option<&'a str> {
    facts.get(key).and_then(|v| v.first()).map(String::as_str)
}

/// An `openssl s_client` session: starts it, sends `line`, and returns the line that came
/// back (`None` if the connection ended first) with everything s_client said on stderr.
pub async fn s_client_echo(port: u16, args: &[&str], line: &str) -> (Option<String>, String) {
    let mut session = SClient::start(port, args).await;
    let echo = session.echo(line).await;
    let stderr = session.finish().await;
    (echo, stderr)
}

/// A running `openssl s_client -quiet`: stdout carries only the application data.
pub struct SClient {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
}

impl SClient {
    pub async fn start(port: u16, args: &[&str]) -> Self {
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-verify_return_error", "-connect"])
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("openssl runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
        SClient {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one line; returns the line read back, or `None` at end of stream.
    pub async fn echo(&mut self, line: &str) -> Option<String> {
        // A write error means s_client already exited; the read below reports it.
        let _ = self.stdin.write_all(format!("{line}\n").as_bytes()).await;
        let _ = self.stdin.flush().await;
        let mut reply = String::new();
        match tokio::time::timeout(STEP, self.stdout.read_line(&mut reply)).await {
            Ok(Ok(n)) if n > 0 => Some(reply.trim_end().to_owned()),
            Ok(_) => None,
            Err(_) => panic!("openssl s_client: no reply within {STEP:?}"),
        }
    }

    /// Stops s_client and returns its stderr.
    pub async fn finish(mut self) -> String {
        let _ = self.child.start_kill();
        let out = tokio::time::timeout(STEP, self.child.wait_with_output())
            .await
            .expect("s_client exits")
            .expect("s_client output");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// A rustls client configuration trusting `ca`, optionally with a client certificate and
/// ALPN protocols.
pub fn client_config(ca: &Path, client_cert: Option<&Path>, alpn: &[&str]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    let mut config = match client_cert {
        Some(path) => {
            let chain = CertificateDer::pem_file_iter(path)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(path).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// Connects with rustls and completes the handshake, as `localhost`.
pub async fn rustls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    rustls_handshake(tcp, config).await
}

/// The client side of a handshake on a connected socket, as `localhost`.
pub async fn rustls_handshake(
    tcp: TcpStream,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let name = ServerName::try_from("localhost").unwrap();
    tokio::time::timeout(STEP, TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

/// Writes `line` and reads the echo back.
pub async fn echo<S>(stream: &mut S, line: &str) -> std::io::Result<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    stream.flush().await?;
    let mut reader = tokio::io::BufReader::new(stream);
    let mut reply = String::new();
    tokio::time::timeout(STEP, reader.read_line(&mut reply))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok(reply.trim_end().to_owned())
}

#[allow(unused_imports)] // not every test file uses it
pub use tcpserver_tests::TempDir;

/// Reads a PEM file (for copying certificates around).
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}
