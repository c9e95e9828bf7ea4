//! A line echo that turns to TLS when asked (STARTTLS, as SMTP, IMAP and PostgreSQL do):
//! plain text until the client sends `STARTTLS`, then the server answers `OK` and both
//! sides run the TLS handshake on the same connection, and the echo goes on encrypted.
//! `state = load` reads the certificate once per worker; `--starttls-pem` (an application
//! flag, `args = Args`) says where from.
//!
//! ```sh
//! cargo run --example starttls_echo -- --port 8025
//! # a client: after `STARTTLS` and `OK`, it wraps the socket in TLS
//! python3 -c 'import socket, ssl; s = socket.create_connection(("localhost", 8025)); \
//!   s.sendall(b"STARTTLS\n"); print(s.recv(64)); \
//!   t = ssl.create_default_context(cafile="examples/certs/ca.pem").wrap_socket(s, server_hostname="localhost"); \
//!   t.sendall(b"secret\n"); print(t.recv(64))'
//! ```
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tcpserver::tls::TlsConfig;
use tcpserver::{IoStream, clap, tcp_server};

/// The application's own flag.
#[derive(clap::Args)]
struct Args {
    /// The certificate chain and key offered after STARTTLS, in one PEM file
    #[arg(long, value_name = "PEM", default_value = "examples/certs/server.pem")]
    starttls_pem: PathBuf,
}

/// Loads the certificate; a missing or bad file stops the start-up with one line.
fn load(args: Args) -> tcpserver::Result<TlsConfig> {
    TlsConfig::from_pem(args.starttls_pem)
}

/// Echoes lines; `STARTTLS` (once, in plain text) switches the connection to TLS.
#[tcp_server(port = 8025, args = Args, state = load)]
async fn starttls_echo(
    mut stream: IoStream,
    _addr: SocketAddr,
    tls: &TlsConfig,
) -> tcpserver::Result<()> {
    loop {
        let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
        let starttls = line.trim_ascii_end().eq_ignore_ascii_case(b"STARTTLS");
        if starttls && stream.wait_for_handshake()?.is_none() {
            stream.write(b"OK begin TLS\n").await?;
            // Whatever the client sent behind its command goes to the handshake, which has
            // ten seconds: a client that stalls (or sent plain text instead) is dropped.
            let handshake = tokio::time::timeout(Duration::from_secs(10), stream.start_tls(tls));
            stream = handshake.await.map_err(tcpserver::Error::from)??;
        } else {
            stream.write(&line).await?;
        }
    }
}
