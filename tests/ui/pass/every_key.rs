// trybuild runs pass cases, and a generated server would serve until stopped. So each
// attribute here sits in a block inside this file's own `main`, where the `main` it
// generates is an ordinary nested function: compiled and type-checked, never called.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

fn main() {
    {
        /// Every key, with TLS from one PEM file.
        #[tcp_server(
            port = 8888,
            address = "127.0.0.1",
            family = "ipv4",
            backlog = 1024,
            reuse_port = true,
            unix = "/run/echo.sock",
            unix_mode = 0o660,
            processes = 0,
            max_restarts = 10,
            tls = "certs/server.pem",
            max_buffer_size = "1MiB",
            read_chunk_size = 16384,
            max_connections = 10_000,
            handshake_timeout = "5s",
            max_handshakes = 64,
            shutdown_timeout = "500ms",
            drain_delay = "5s",
            runtime = "multi_thread",
            worker_threads = 2,
            crate = "tcpserver",
        )]
        async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
            let line = stream.read_until(b"\n", None).await?;
            stream.write(&line).await
        }
        let _: fn() -> std::process::ExitCode = main;
    }
    {
        // TLS from separate files with client certificates, and the other spellings.
        #[tcp_server(
            port = 0,
            address = "::1",
            family = "ipv6",
            reuse_port = false,
            processes = 1,
            tls(
                cert = "certs/chain.pem",
                key = "certs/key.pem",
                client_ca = "certs/ca.pem",
                alpn = ["h2", "http/1.1"],
                sni = [
                    ("api.example.com", "certs/api.pem"),
                    ("mail.example.com", "certs/mail.crt", "certs/mail.key"),
                ],
            ),
            handshake_timeout = 2.5,
            max_handshakes = 0,
            proxy_protocol = "any",
            proxy_trusted = ["10.0.0.0/8", "192.0.2.7", "fd00::/8"],
            proxy_timeout = "3s",
            max_buffer_size = 104857600,
            read_chunk_size = "64KiB",
            shutdown_timeout = 1.5,
            runtime = "current-thread",
        )]
        async fn hello(mut stream: IoStream, _addr: SocketAddr) {
            let _ = stream.write(b"hello\n").await;
        }
        let _: fn() -> std::process::ExitCode = main;
    }
    {
        #[tcp_server(
            port = 65535,
            family = "unspec",
            tls(pem = "certs/server.pem", client_ca = "certs/ca.pem"),
            shutdown_timeout = 30,
            runtime = "multi-thread",
        )]
        async fn quiet(_stream: IoStream, _addr: SocketAddr) {}
        let _: fn() -> std::process::ExitCode = main;
    }
    {
        // A Unix socket alone (no TCP port), by an abstract name, with its mode as a string.
        #[tcp_server(unix = "\0echo", unix_mode = "0600", backlog = 64)]
        async fn local(_stream: IoStream, _addr: SocketAddr) {}
        let _: fn() -> std::process::ExitCode = main;
    }
}
