//! Meaning: the parsed entries become a typed [`Config`] (every key known, given once,
//! with a value of the right type and range), then keys are checked against each other.
//! The HTTP options of `#[http_server]` are read in [`http`], the handler's signature is
//! checked in [`handler`].
//!
//! Errors are collected rather than returned at the first one, so that a user sees every
//! mistake of an attribute in one build.

pub(crate) mod handler;
pub(crate) mod http;
pub(crate) mod value;

use std::collections::HashSet;
use std::time::Duration;

use proc_macro2::Span;
use quote::ToTokens;
use syn::Expr;

use crate::keys::{self, Key};
use crate::kind::Kind;
use crate::parse::{Arg, ArgValue};
use http::HttpConfig;
use value::Spanned;

/// Counts and sizes become `usize` in the generated code; capping them at `u32::MAX` keeps
/// an attribute meaning the same on every target.
const MAX_USIZE: u64 = u32::MAX as u64;

/// The attribute, validated. Keys left out are `None`: their defaults live in the runtime
/// crate, not here.
pub(crate) struct Config {
    pub(crate) port: Spanned<u64>,
    pub(crate) address: Option<Spanned<String>>,
    pub(crate) family: Option<Spanned<Family>>,
    pub(crate) backlog: Option<Spanned<u64>>,
    pub(crate) reuse_port: Option<Spanned<bool>>,
    pub(crate) processes: Option<Spanned<u64>>,
    pub(crate) max_restarts: Option<Spanned<u64>>,
    pub(crate) tls: Option<Tls>,
    pub(crate) max_buffer_size: Option<Spanned<u64>>,
    pub(crate) read_chunk_size: Option<Spanned<u64>>,
    pub(crate) max_connections: Option<Spanned<u64>>,
    pub(crate) shutdown_timeout: Option<Spanned<Duration>>,
    pub(crate) runtime: Option<Spanned<Runtime>>,
    pub(crate) worker_threads: Option<Spanned<u64>>,
    pub(crate) crate_path: Option<syn::Path>,
    /// The HTTP options: always empty for `#[tcp_server]`, which does not accept them.
    pub(crate) http: HttpConfig,
}

/// `tcpserver::netutil::Family`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Unspec,
    V4,
    V6,
}

/// `tcpserver::launch::RuntimeFlavor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    MultiThread,
    CurrentThread,
}

/// The certificate files of `tls = ".."` or `tls(...)`.
pub(crate) struct Tls {
    pub(crate) identity: TlsIdentity,
    pub(crate) client_ca: Option<Spanned<String>>,
}

/// The server's own certificate chain and key.
pub(crate) enum TlsIdentity {
    /// One PEM file holding both.
    Pem(Spanned<String>),
    /// Separate files.
    CertKey {
        cert: Spanned<String>,
        key: Spanned<String>,
    },
}

/// Errors gathered across entries.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Builds the configuration from the attribute's entries.
pub(crate) fn config(args: Vec<Arg>, kind: Kind) -> syn::Result<Config> {
    let mut builder = Builder::default();
    let mut errors = Errors::default();
    let mut seen = HashSet::new();
    for arg in &args {
        let name = arg.name();
        let Some(key) = keys::find(kind.keys(), &name) else {
            let message = match kind {
                Kind::Tcp => keys::http_only(&name),
                Kind::Http => None,
            };
            let message = message.unwrap_or_else(|| keys::unknown(kind.keys(), &name, ""));
            errors.push(syn::Error::new(arg.key.span(), message));
            continue;
        };
        if !seen.insert(key.name) {
            errors.push(given_twice(arg, key));
            continue;
        }
        if let Err(e) = builder.set(key, arg) {
            errors.push(e);
        }
    }
    errors.finish()?;
    builder.build(kind)
}

fn given_twice(arg: &Arg, key: Key) -> syn::Error {
    syn::Error::new(
        arg.key.span(),
        format!(
            "`{}` is given twice; keep only one `{}`",
            key.name, key.name
        ),
    )
}

/// The value of `key = value`, or an error saying how to write the entry.
fn expr_of(key: Key, arg: &Arg) -> syn::Result<&Expr> {
    match &arg.value {
        ArgValue::Expr(expr) => Ok(expr),
        ArgValue::Missing => Err(syn::Error::new(
            arg.key.span(),
            format!("`{}` needs a value; write `{}`", key.name, key.example),
        )),
        ArgValue::List(..) => Err(syn::Error::new_spanned(
            arg,
            format!(
                "`{}` takes a value after `=`; write `{}`",
                key.name, key.example
            ),
        )),
    }
}

/// The keys as they are read, before they are checked against each other.
#[derive(Default)]
struct Builder {
    port: Option<Spanned<u64>>,
    address: Option<Spanned<String>>,
    family: Option<Spanned<Family>>,
    backlog: Option<Spanned<u64>>,
    reuse_port: Option<Spanned<bool>>,
    processes: Option<Spanned<u64>>,
    max_restarts: Option<Spanned<u64>>,
    tls: Option<Tls>,
    max_buffer_size: Option<Spanned<u64>>,
    read_chunk_size: Option<Spanned<u64>>,
    max_connections: Option<Spanned<u64>>,
    shutdown_timeout: Option<Spanned<Duration>>,
    runtime: Option<Spanned<Runtime>>,
    worker_threads: Option<Spanned<u64>>,
    crate_path: Option<syn::Path>,
    http: HttpConfig,
}

impl Builder {
    fn set(&mut self, key: Key, arg: &Arg) -> syn::Result<()> {
        if key == keys::TLS {
            self.tls = Some(tls(arg)?);
            return Ok(());
        }
        let expr = expr_of(key, arg)?;
        let count = |what| value::integer(key, expr, MAX_USIZE, what);
        match key.name {
            "port" => {
                let what = "a port number from 0 to 65535 (0 picks a free port)";
                self.port = Some(value::integer(key, expr, u16::MAX.into(), what)?);
            }
            "address" => self.address = Some(value::string(key, expr)?),
            "family" => {
                let choices: &[(&[&str], Family)] = &[
                    (&["unspec"], Family::Unspec),
                    (&["ipv4"], Family::V4),
                    (&["ipv6"], Family::V6),
                ];
                self.family = Some(value::choice(key, expr, choices)?);
            }
            "backlog" => {
                let what = "a listen backlog from 0 to 4294967295";
                self.backlog = Some(value::integer(key, expr, u32::MAX.into(), what)?);
            }
            "reuse_port" => self.reuse_port = Some(value::boolean(key, expr)?),
            "processes" => {
                self.processes = Some(count("a number of processes (0: one per CPU)")?);
            }
            "max_restarts" => self.max_restarts = Some(count("a number of restarts")?),
            "max_buffer_size" => self.max_buffer_size = Some(byte_count(key, expr)?),
            "read_chunk_size" => self.read_chunk_size = Some(byte_count(key, expr)?),
            "max_connections" => {
                self.max_connections = Some(count("a number of connections (0: no limit)")?);
            }
            "shutdown_timeout" => self.shutdown_timeout = Some(value::duration(key, expr)?),
            "runtime" => {
                let choices: &[(&[&str], Runtime)] = &[
                    (&["multi_thread", "multi-thread"], Runtime::MultiThread),
                    (
                        &["current_thread", "current-thread"],
                        Runtime::CurrentThread,
                    ),
                ];
                self.runtime = Some(value::choice(key, expr, choices)?);
            }
            "worker_threads" => {
                let threads = count("a number of threads, at least 1")?;
                if threads.value == 0 {
                    return Err(threads.error(
                        "`worker_threads` must be at least 1; leave it out for one thread per CPU",
                    ));
                }
                self.worker_threads = Some(threads);
            }
            "crate" => self.crate_path = Some(value::path(key, expr)?),
            _ => self.http.set(key, expr)?,
        }
        Ok(())
    }

    /// Checks the keys against each other, each error on the value that conflicts.
    fn build(self, kind: Kind) -> syn::Result<Config> {
        let Some(port) = self.port else {
            return Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "`port` is missing: every server needs one; write `{}`",
                    kind.minimal()
                ),
            ));
        };
        let mut errors = Errors::default();
        // `worker_threads` asks for a multi-thread runtime, also in forked workers (which
        // otherwise run current-thread ones); only an explicit current-thread runtime
        // contradicts it.
        if let Some(threads) = &self.worker_threads
            && self.runtime.as_ref().map(|r| r.value) == Some(Runtime::CurrentThread)
        {
            errors.push(threads.error(
                "`worker_threads` needs the multi-thread runtime, but `runtime` is \
                 \"current_thread\"; remove `worker_threads` or write `runtime = \"multi_thread\"`",
            ));
        }
        if let (Some(chunk), Some(max)) = (&self.read_chunk_size, &self.max_buffer_size)
            && chunk.value > max.value / 2
        {
            errors.push(chunk.error(format!(
                "`read_chunk_size` ({} bytes) must be at most half of `max_buffer_size` ({} bytes); \
                 write `read_chunk_size = {}` or less, or raise `max_buffer_size`",
                chunk.value,
                max.value,
                max.value / 2
            )));
        }
        self.http.check(&mut errors);
        errors.finish()?;
        Ok(Config {
            port,
            address: self.address,
            family: self.family,
            backlog: self.backlog,
            reuse_port: self.reuse_port,
            processes: self.processes,
            max_restarts: self.max_restarts,
            tls: self.tls,
            max_buffer_size: self.max_buffer_size,
            read_chunk_size: self.read_chunk_size,
            max_connections: self.max_connections,
            shutdown_timeout: self.shutdown_timeout,
            runtime: self.runtime,
            worker_threads: self.worker_threads,
            crate_path: self.crate_path,
            http: self.http,
        })
    }
}

fn byte_count(key: Key, expr: &Expr) -> syn::Result<Spanned<u64>> {
    let bytes = value::size(key, expr)?;
    if bytes.value > MAX_USIZE {
        return Err(bytes.error(format!(
            "`{}` is too large: at most 4294967295 bytes (just under 4 GiB)",
            key.name
        )));
    }
    Ok(bytes)
}

/// `tls = "server.pem"` or `tls(pem | cert + key, client_ca)`.
fn tls(arg: &Arg) -> syn::Result<Tls> {
    let both_forms = r#"write `tls = "server.pem"` (chain and key in one file) or `tls(cert = "cert.pem", key = "key.pem")`"#;
    let entries = match &arg.value {
        ArgValue::Expr(expr) => {
            return match value::string(keys::TLS, expr) {
                Ok(_) => Ok(Tls {
                    identity: TlsIdentity::Pem(value::file(keys::TLS, expr)?),
                    client_ca: None,
                }),
                Err(_) => Err(syn::Error::new_spanned(
                    expr,
                    format!("`tls` expects a file path in a string; {both_forms}"),
                )),
            };
        }
        ArgValue::Missing => {
            return Err(syn::Error::new(
                arg.key.span(),
                format!("`tls` needs certificate files; {both_forms}"),
            ));
        }
        ArgValue::List(paren, contents) => {
            let entries = crate::parse::args(contents.clone())?;
            if entries.is_empty() {
                return Err(syn::Error::new(
                    paren.span.join(),
                    format!("`tls(...)` is empty; {both_forms}"),
                ));
            }
            entries
        }
    };

    let mut errors = Errors::default();
    let mut seen = HashSet::new();
    let (mut pem, mut cert, mut key, mut client_ca) = (None, None, None, None);
    for entry in &entries {
        let name = entry.name();
        let Some(tls_key) = keys::find(keys::TLS_KEYS, &name) else {
            errors.push(syn::Error::new(
                entry.key.span(),
                keys::unknown(keys::TLS_KEYS, &name, " in `tls(...)`"),
            ));
            continue;
        };
        if !seen.insert(tls_key.name) {
            errors.push(given_twice(entry, tls_key));
            continue;
        }
        let file = expr_of(tls_key, entry).and_then(|expr| value::file(tls_key, expr));
        let slot = match tls_key.name {
            "pem" => &mut pem,
            "cert" => &mut cert,
            "key" => &mut key,
            _ => &mut client_ca,
        };
        match file {
            Ok(file) => *slot = Some((entry, file)),
            Err(e) => errors.push(e),
        }
    }
    errors.finish()?;

    let identity = match (pem, cert, key) {
        (Some(_), Some((entry, _)), _) | (Some(_), None, Some((entry, _))) => {
            return Err(syn::Error::new_spanned(
                entry,
                r#"give either `pem` or `cert` and `key`, not both; write `tls(pem = "server.pem")` or `tls(cert = "cert.pem", key = "key.pem")`"#,
            ));
        }
        (Some((_, pem)), None, None) => TlsIdentity::Pem(pem),
        (None, Some((_, cert)), Some((_, key))) => TlsIdentity::CertKey { cert, key },
        (None, Some((entry, cert)), None) => {
            return Err(syn::Error::new_spanned(
                entry,
                format!(
                    "`cert` needs its private key: add `key`, as in `tls(cert = \"{}\", key = \"key.pem\")`",
                    cert.value
                ),
            ));
        }
        (None, None, Some((entry, key))) => {
            return Err(syn::Error::new_spanned(
                entry,
                format!(
                    "`key` needs its certificate chain: add `cert`, as in `tls(cert = \"cert.pem\", key = \"{}\")`",
                    key.value
                ),
            ));
        }
        (None, None, None) => {
            // The list is not empty and holds only known keys: so `client_ca` alone.
            let at = client_ca.map_or_else(|| arg.to_token_stream(), |(e, _)| e.to_token_stream());
            return Err(syn::Error::new_spanned(
                at,
                r#"`client_ca` checks clients, but the server needs its own certificate too; add `pem = "server.pem"` or `cert = "cert.pem", key = "key.pem"`"#,
            ));
        }
    };
    Ok(Tls {
        identity,
        client_ca: client_ca.map(|(_, file)| file),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn build(tokens: TokenStream) -> Result<Config, String> {
        let config = |args| config(args, Kind::Tcp);
        crate::parse::args(tokens).and_then(config).map_err(|e| {
            e.into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    fn error(tokens: TokenStream) -> String {
        match build(tokens) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn only_port() {
        let config = build(quote!(port = 8888)).unwrap();
        assert_eq!(config.port.value, 8888);
        assert!(config.address.is_none() && config.tls.is_none() && config.crate_path.is_none());
    }

    #[test]
    fn every_key() {
        let config = build(quote! {
            port = 0, address = "::1", family = "ipv6", backlog = 64, reuse_port = true,
            processes = 2, max_restarts = 3, tls(cert = "c.pem", key = "k.pem", client_ca = "ca.pem"),
            max_buffer_size = "1MiB", read_chunk_size = 4096, max_connections = 10,
            shutdown_timeout = "500ms", runtime = "multi-thread", worker_threads = 2,
            crate = "tcpserver",
        })
        .unwrap();
        assert_eq!(config.family.unwrap().value, Family::V6);
        assert_eq!(config.runtime.unwrap().value, Runtime::MultiThread);
        assert_eq!(config.max_buffer_size.unwrap().value, 1 << 20);
        assert_eq!(
            config.shutdown_timeout.unwrap().value,
            Duration::from_millis(500)
        );
        let tls = config.tls.unwrap();
        assert!(matches!(tls.identity, TlsIdentity::CertKey { .. }));
        assert_eq!(tls.client_ca.unwrap().value, "ca.pem");
    }

    #[test]
    fn missing_port() {
        assert!(error(quote!()).contains("`port` is missing"));
        assert!(error(quote!(address = "x")).contains("`port` is missing"));
    }

    #[test]
    fn unknown_keys_and_duplicates() {
        let e = error(quote!(port = 1, prot = 2));
        let expected = "unknown key `prot`; did you mean `port`? Write `port = 8888`. \
                        The keys are: `port`, `address`";
        assert!(e.starts_with(expected), "{e}");
        assert_eq!(
            error(quote!(port = 1, port = 2)),
            "`port` is given twice; keep only one `port`"
        );
        // Every mistake at once.
        let e = error(quote!(port = 1, port = 2, colour = "red", processes = "x"));
        assert_eq!(e.lines().count(), 3, "{e}");
    }

    #[test]
    fn http_options_belong_to_http_server() {
        let e = error(quote!(port = 1, xheaders = true, max_body_size = "1MiB"));
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 2, "{e}");
        assert!(
            lines[0].starts_with("`xheaders` is an HTTP option, a key of `#[http_server]`"),
            "{e}"
        );
        assert!(
            lines[1].starts_with("`max_body_size` is an HTTP option"),
            "{e}"
        );
    }

    #[test]
    fn missing_port_names_the_attribute() {
        let http =
            crate::parse::args(quote!(xheaders = true)).and_then(|args| config(args, Kind::Http));
        assert_eq!(
            crate::expect_err(http).to_string(),
            "`port` is missing: every server needs one; write `#[http_server(port = 8080)]`"
        );
    }

    #[test]
    fn value_forms() {
        assert!(error(quote!(port)).contains("`port` needs a value; write `port = 8888`"));
        let e = error(quote!(port(1)));
        assert!(e.contains("`port` takes a value after `=`"), "{e}");
        assert!(error(quote!(port = 70000)).contains("`port = 70000` is out of range"));
        assert!(error(quote!(port = 1, processes = 1.5)).contains("whole number"));
        assert!(error(quote!(port = 1, reuse_port = "yes")).contains("`true` or `false`"));
        assert!(error(quote!(port = 1, worker_threads = 0)).contains("at least 1"));
        assert!(error(quote!(port = 1, max_connections = 4294967296)).contains("out of range"));
        assert!(error(quote!(port = 1, max_buffer_size = "4GiB")).contains("too large"));
        assert!(error(quote!(port = 1, runtime = "local")).contains("unknown runtime"));
    }

    #[test]
    fn worker_threads_needs_a_multi_thread_runtime() {
        let e = error(quote!(
            port = 1,
            runtime = "current_thread",
            worker_threads = 4
        ));
        assert!(e.contains("needs the multi-thread runtime"), "{e}");
        // In forked workers it means a multi-thread runtime of that many threads.
        build(quote!(port = 1, processes = 4, worker_threads = 4)).unwrap();
        build(quote!(
            port = 1,
            processes = 4,
            runtime = "multi_thread",
            worker_threads = 4
        ))
        .unwrap();
        build(quote!(port = 1, processes = 1, worker_threads = 4)).unwrap();
    }

    #[test]
    fn read_chunk_at_most_half_the_buffer() {
        let e = error(quote!(
            port = 1,
            max_buffer_size = "64KiB",
            read_chunk_size = "64KiB"
        ));
        assert!(e.contains("at most half of `max_buffer_size`"), "{e}");
        build(quote!(
            port = 1,
            max_buffer_size = "64KiB",
            read_chunk_size = "32KiB"
        ))
        .unwrap();
    }

    #[test]
    fn tls_forms() {
        let config = build(quote!(port = 1, tls = "server.pem")).unwrap();
        assert!(
            matches!(config.tls.unwrap().identity, TlsIdentity::Pem(p) if p.value == "server.pem")
        );
        let config = build(quote!(port = 1, tls(pem = "s.pem", client_ca = "ca.pem"))).unwrap();
        assert!(config.tls.unwrap().client_ca.is_some());
        let config = build(quote!(port = 1, tls(key = "k.pem", cert = "c.pem"))).unwrap();
        assert!(matches!(
            config.tls.unwrap().identity,
            TlsIdentity::CertKey { .. }
        ));
    }

    #[test]
    fn tls_mistakes() {
        let cases = [
            (
                quote!(tls(cert = "c.pem")),
                "`cert` needs its private key: add `key`",
            ),
            (
                quote!(tls(key = "k.pem")),
                "`key` needs its certificate chain: add `cert`",
            ),
            (
                quote!(tls(pem = "s.pem", key = "k.pem")),
                "give either `pem` or `cert` and `key`",
            ),
            (
                quote!(tls(client_ca = "ca.pem")),
                "the server needs its own certificate too",
            ),
            (quote!(tls()), "`tls(...)` is empty"),
            (quote!(tls), "`tls` needs certificate files"),
            (quote!(tls = 1), "`tls` expects a file path in a string"),
            (quote!(tls = ""), "not an empty string"),
            (
                quote!(tls(certfile = "c")),
                "unknown key `certfile` in `tls(...)`",
            ),
            (quote!(tls(cert = "c", cert = "c")), "`cert` is given twice"),
            (quote!(tls(cert)), "`cert` needs a value"),
        ];
        for (tls, expected) in cases {
            let e = error(quote!(port = 1, #tls));
            assert!(e.contains(expected), "{tls}: {e}");
        }
    }
}
