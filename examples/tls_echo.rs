//! Tornado's EchoServer over TLS: every line a client sends comes back to it.
//!
//! ```sh
//! cargo run --example tls_echo                 # port 8443, examples/certs/server.pem
//! openssl s_client -connect localhost:8443 -CAfile examples/certs/ca.pem -quiet
//!
//! cargo run --example tls_echo -- --tls-cert examples/certs/server.crt --tls-key examples/certs/server.key
//! cargo run --example tls_echo -- --tls-client-ca examples/certs/ca.pem   # client certificates required
//! openssl s_client -connect localhost:8443 -CAfile examples/certs/ca.pem -cert examples/certs/client.pem -quiet
//! kill -HUP <pid>                              # re-reads the certificate files
//! ```
//!
//! The certificates under `examples/certs/` are for trying things out only: their private
//! keys are public.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

/// A line echo server over TLS (Tornado's EchoServer with ssl_options).
#[tcp_server(port = 8443, tls = "examples/certs/server.pem")]
async fn tls_echo(mut stream: IoStream, addr: SocketAddr) -> tcpserver::Result<()> {
    if let Some(tls) = stream.wait_for_handshake()? {
        tracing::debug!(
            "{addr}: {:?}, {:?}, {} client certificate(s)",
            tls.protocol_version(),
            tls.cipher_suite(),
            tls.peer_certificates().len()
        );
    }
    loop {
        let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
        stream.write(&line).await?;
    }
}
