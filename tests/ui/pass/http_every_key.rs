// Every key of `#[http_server]`: the server keys and every HTTP option, each value form.
// Each attribute sits in a block inside this file's own `main`: see every_key.rs for why.
use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

fn main() {
    {
        /// Every key, with TLS from one PEM file.
        #[http_server(
            port = 8080,
            address = "127.0.0.1",
            family = "ipv4",
            backlog = 1024,
            reuse_port = true,
            unix = "/run/hello.sock",
            unix_mode = 0o600,
            processes = 0,
            max_restarts = 10,
            tls = "certs/server.pem",
            max_buffer_size = "1MiB",
            read_chunk_size = 16384,
            max_connections = 10_000,
            shutdown_timeout = "500ms",
            runtime = "multi_thread",
            worker_threads = 2,
            crate = "tcpserver",
            no_keep_alive = true,
            xheaders = true,
            trusted_downstream = ["10.0.0.1", "::1", "2001:db8::8a2e:370:7334"],
            protocol = "https",
            decompress_request = true,
            chunk_size = "16KiB",
            max_header_size = 8192,
            idle_connection_timeout = "75s",
            body_timeout = 30,
            max_body_size = "10MiB",
        )]
        async fn hello(_request: Request<Body>) -> Response<String> {
            Response::new("Hello, world".to_owned())
        }
        let _: fn() -> std::process::ExitCode = main;
    }
    {
        // The other spellings of values, TLS from separate files, a Unix socket alone.
        #[http_server(
            unix = "/run/hello.sock",
            tls(cert = "certs/chain.pem", key = "certs/key.pem", client_ca = "certs/ca.pem"),
            no_keep_alive = false,
            xheaders = true,
            trusted_downstream = ["192.168.0.1",],
            protocol = "http",
            decompress_request = false,
            chunk_size = 4096,
            max_header_size = "64k",
            idle_connection_timeout = 1.5,
            body_timeout = "2m",
            max_body_size = 1048576,
        )]
        async fn hello(_request: Request<Body>) -> Response<String> {
            Response::new("Hello, world".to_owned())
        }
        let _: fn() -> std::process::ExitCode = main;
    }
}
