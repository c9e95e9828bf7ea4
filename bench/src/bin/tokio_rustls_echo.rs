//! The TLS anchor: the `tls_echo` server written by hand on tokio and tokio-rustls, with
//! nothing of tcpserver in its serving path. `bench/run` compares `tls_echo` with it.
//!
//! Same behaviour as `tls_echo` where it matters for the figures: the same runtime flavor
//! (`--flavor current|multi`), the same certificate, a 10 s handshake deadline, lines of
//! at most 64 KiB echoed as they come, each reply flushed.
//!
//! ```sh
//! tokio_rustls_echo --port 0 --tls examples/certs/server.pem --flavor current
//! ```
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{
    self, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};

const MAX_LINE: u64 = 64 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 8443u16;
    let mut address = "127.0.0.1".to_owned();
    let mut pem = "examples/certs/server.pem".to_owned();
    let mut flavor = "multi".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => port = value.parse()?,
            "--address" => address = value,
            "--tls" => pem = value,
            "--flavor" => flavor = value,
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    let runtime = if flavor == "current" {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(serve_all(address, port, pem))
}

async fn serve_all(
    address: String,
    port: u16,
    pem: String,
) -> Result<(), Box<dyn std::error::Error>> {
    let chain = CertificateDer::pem_file_iter(&pem)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&pem)?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind((address.as_str(), port)).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, peer)) = accepted else { continue };
                tokio::spawn(serve(acceptor.clone(), tcp, peer));
            }
            _ = term.recv() => return Ok(()),
        }
    }
}

async fn serve(acceptor: TlsAcceptor, tcp: TcpStream, _peer: SocketAddr) {
    let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
    else {
        return;
    };
    let mut stream = BufReader::new(tls);
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        match (&mut stream)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if stream.get_mut().write_all(&line).await.is_err()
            || stream.get_mut().flush().await.is_err()
        {
            return;
        }
    }
}
