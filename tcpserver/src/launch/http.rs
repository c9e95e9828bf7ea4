//! [`Launcher::run_http`]: a whole HTTP server binary, with every [`HttpOptions`] field as
//! a `--kebab-case` flag (what `#[http_server(...)]` expands to).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use super::Launcher;
use crate::httpserver::{HttpOptions, HttpServer, IntoHttpHandler};

impl Launcher {
    /// Runs an HTTP server binary: [`run`](Launcher::run) with an [`HttpServer`] handler.
    /// The HTTP options are compiled-in defaults that flags override: `--no-keep-alive`,
    /// `--xheaders`, `--trusted-downstream IP,IP`, `--protocol http|https`,
    /// `--decompress-request`, `--chunk-size`, `--max-header-size`,
    /// `--idle-connection-timeout`, `--body-timeout`, `--max-body-size`; `--help` lists
    /// them with their defaults.
    ///
    /// `handler` is anything [`IntoHttpHandler`] accepts: an async function, an axum
    /// `Router`, a [`Delegate`](crate::httpserver::Delegate).
    ///
    /// # Examples
    ///
    /// The runtime-API equivalent of `#[http_server(port = 8080, xheaders = true)]`:
    ///
    /// ```no_run
    /// use std::process::ExitCode;
    /// use http::{Request, Response};
    /// use tcpserver::Launcher;
    /// use tcpserver::httpserver::{Body, HttpOptions};
    ///
    /// async fn hello(_request: Request<Body>) -> Response<String> {
    ///     Response::new("Hello, world".into())
    /// }
    ///
    /// fn main() -> ExitCode {
    ///     Launcher::new(8080).run_http(HttpOptions::new().xheaders(true), hello)
    /// }
    /// ```
    pub fn run_http<M>(
        mut self,
        options: HttpOptions,
        handler: impl IntoHttpHandler<M>,
    ) -> ExitCode {
        self.http = Some(options);
        self.run_server(move |launcher, builder, _| {
            Ok((http_server(launcher, builder, handler), None))
        })
    }
}

/// The `TcpServer` of an HTTP server binary: `builder` (the command line applied) under the
/// launcher's HTTP options.
pub(super) fn http_server<M>(
    launcher: &mut Launcher,
    builder: crate::tcpserver::Builder,
    handler: impl IntoHttpHandler<M>,
) -> crate::tcpserver::TcpServer {
    HttpServer::builder()
        .tcp(builder)
        .options(launcher.http.take().unwrap_or_default())
        .build(handler)
        .into_tcp_server()
}
