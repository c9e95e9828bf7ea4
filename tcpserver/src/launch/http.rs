//! [`Launcher::run_http`]: a whole HTTP server binary, with every [`HttpOptions`] field as
//! a `--kebab-case` flag (what `#[http_server(...)]` expands to).
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgMatches, value_parser};

use super::{Launcher, format_duration, format_size, parse_duration, parse_size};
use crate::httpserver::{HttpOptions, HttpServer, IntoHttpHandler, Protocol};

impl Launcher {
    /// Runs an HTTP server binary: [`run`](Launcher::run) with an
    /// [`HttpServer`] handler. The HTTP options are compiled-in
    /// defaults that flags override: `--no-keep-alive`, `--xheaders`,
    /// `--trusted-downstream IP,IP`, `--protocol http|https`, `--decompress-request`,
    /// `--chunk-size`, `--max-header-size`, `--idle-connection-timeout`,
    /// `--body-timeout`, `--max-body-size`; `--help` lists them with their defaults.
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
        self.extra_args.extend(args(&options));
        self.run_server(move |builder, launcher| {
            let options = match &launcher.extra_matches {
                Some(matches) => apply(options, matches),
                None => options,
            };
            HttpServer::builder()
                .tcp(builder)
                .options(options)
                .build(handler)
                .into_tcp_server()
        })
    }
}

fn toggle(name: &'static str, default: bool, help: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .value_name("BOOL")
        .num_args(0..=1)
        .default_missing_value("true")
        .value_parser(value_parser!(bool))
        .default_value(default.to_string())
        .help(help)
}

fn size(name: &'static str, default: Option<usize>, help: String) -> Arg {
    let arg = Arg::new(name)
        .long(name)
        .value_name("BYTES")
        .value_parser(|s: &str| parse_size(s))
        .help(help);
    match default {
        Some(n) => arg.default_value(format_size(n)),
        None => arg,
    }
}

fn duration(name: &'static str, default: Option<Duration>, help: String) -> Arg {
    let arg = Arg::new(name)
        .long(name)
        .value_name("SECS")
        .value_parser(|s: &str| parse_duration(s))
        .help(help);
    match default {
        Some(d) => arg.default_value(format_duration(d)),
        None => arg,
    }
}

/// The HTTP flags, with `options` as their defaults.
fn args(options: &HttpOptions) -> Vec<Arg> {
    let trusted = options
        .trusted_downstream
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut trusted_arg = Arg::new("trusted-downstream")
        .long("trusted-downstream")
        .value_name("IP,IP")
        .value_delimiter(',')
        .num_args(1..)
        .value_parser(value_parser!(IpAddr))
        .help("With --xheaders: proxy addresses skipped in X-Forwarded-For");
    if !trusted.is_empty() {
        trusted_arg = trusted_arg.default_value(trusted);
    }
    vec![
        toggle(
            "no-keep-alive",
            options.no_keep_alive,
            "HTTP: close the connection after every response",
        ),
        toggle(
            "xheaders",
            options.xheaders,
            "HTTP: take the client address and scheme from X-Real-Ip/X-Forwarded-For and X-Scheme/X-Forwarded-Proto (behind a proxy only)",
        ),
        trusted_arg,
        Arg::new("protocol")
            .long("protocol")
            .value_name("PROTOCOL")
            .value_parser(PossibleValuesParser::new(["http", "https"]))
            .help(format!(
                "HTTP: the protocol requests are said to arrive over [default: {}]",
                options
                    .protocol
                    .map_or("https over TLS, else http", Protocol::as_str)
            )),
        toggle(
            "decompress-request",
            options.decompress_request,
            "HTTP: inflate request bodies sent with Content-Encoding: gzip",
        ),
        size(
            "chunk-size",
            Some(options.chunk_size),
            "HTTP: largest piece of request body handed over at once".to_owned(),
        ),
        size(
            "max-header-size",
            Some(options.max_header_size),
            "HTTP: largest request head (answered 431 past it)".to_owned(),
        ),
        duration(
            "idle-connection-timeout",
            Some(options.idle_connection_timeout),
            "HTTP: how long a connection may wait for a complete request head".to_owned(),
        ),
        duration(
            "body-timeout",
            options.body_timeout,
            format!(
                "HTTP: how long reading one request body may take (0: no limit) [default: {}]",
                options
                    .body_timeout
                    .map_or_else(|| "no limit".to_owned(), format_duration)
            ),
        ),
        size(
            "max-body-size",
            options.max_body_size,
            format!(
                "HTTP: largest request body (answered 413 past it) [default: {}]",
                options
                    .max_body_size
                    .map_or_else(|| "--max-buffer-size".to_owned(), format_size)
            ),
        ),
    ]
}

/// `options` with the flags of `matches` applied.
fn apply(mut options: HttpOptions, m: &ArgMatches) -> HttpOptions {
    if let Some(&yes) = m.get_one::<bool>("no-keep-alive") {
        options = options.no_keep_alive(yes);
    }
    if let Some(&yes) = m.get_one::<bool>("xheaders") {
        options = options.xheaders(yes);
    }
    if let Some(ips) = m.get_many::<IpAddr>("trusted-downstream") {
        options = options.trusted_downstream(ips.copied());
    }
    if let Some(Ok(p)) = m.get_one::<String>("protocol").map(|p| p.parse()) {
        options = options.protocol(p);
    }
    if let Some(&yes) = m.get_one::<bool>("decompress-request") {
        options = options.decompress_request(yes);
    }
    if let Some(&n) = m.get_one::<usize>("chunk-size") {
        options = options.chunk_size(n);
    }
    if let Some(&n) = m.get_one::<usize>("max-header-size") {
        options = options.max_header_size(n);
    }
    if let Some(&d) = m.get_one::<Duration>("idle-connection-timeout") {
        options = options.idle_connection_timeout(d);
    }
    if let Some(&d) = m.get_one::<Duration>("body-timeout") {
        options = options.body_timeout((!d.is_zero()).then_some(d));
    }
    if let Some(&n) = m.get_one::<usize>("max-body-size") {
        options = options.max_body_size(n);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &HttpOptions, argv: &[&str]) -> HttpOptions {
        let command = clap::Command::new("t").args(args(options));
        let matches = command
            .try_get_matches_from(std::iter::once("t").chain(argv.iter().copied()))
            .unwrap();
        apply(options.clone(), &matches)
    }

    #[test]
    fn defaults_survive_and_flags_override() {
        let compiled = HttpOptions::new()
            .xheaders(true)
            .max_body_size(1000)
            .trusted_downstream(["10.0.0.1".parse().unwrap()]);
        let same = parse(&compiled, &[]);
        assert!(same.get_xheaders());
        assert_eq!(same.get_max_body_size(), Some(1000));
        assert_eq!(same.get_trusted_downstream().len(), 1);
        assert_eq!(same.get_protocol(), None);
        assert_eq!(same.get_body_timeout(), None);

        let changed = parse(
            &compiled,
            &[
                "--xheaders=false",
                "--no-keep-alive",
                "--trusted-downstream",
                "1.1.1.1,::1",
                "--protocol",
                "https",
                "--decompress-request",
                "--chunk-size",
                "16",
                "--max-header-size",
                "8k",
                "--idle-connection-timeout",
                "500ms",
                "--body-timeout",
                "2",
                "--max-body-size",
                "1MiB",
            ],
        );
        assert!(!changed.get_xheaders());
        assert!(changed.get_no_keep_alive());
        assert_eq!(changed.get_trusted_downstream().len(), 2);
        assert_eq!(changed.get_protocol(), Some(Protocol::Https));
        assert!(changed.get_decompress_request());
        assert_eq!(changed.get_chunk_size(), 16);
        assert_eq!(changed.get_max_header_size(), 8192);
        assert_eq!(
            changed.get_idle_connection_timeout(),
            Duration::from_millis(500)
        );
        assert_eq!(changed.get_body_timeout(), Some(Duration::from_secs(2)));
        assert_eq!(changed.get_max_body_size(), Some(1 << 20));
    }
}
