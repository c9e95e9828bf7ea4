//! Meaning: the parsed entries become a typed [`Config`] (every key known, given once,
//! with a value of the kind the option table gives it), then keys are checked against
//! each other with the rules the runtime applies to its flags. The handler's signature is
//! checked in [`handler`].
//!
//! Errors are collected rather than returned at the first one, so that a user sees every
//! mistake of an attribute in one build.

pub(crate) mod handler;
pub(crate) mod value;

use std::collections::HashSet;

use proc_macro2::Span;
use syn::Expr;
use tcpserver_options::keys::{Group, Key, Kind as ValueKind};
use tcpserver_options::rules::{self, Style};
use tcpserver_options::value::Value;

use crate::keys::{self, Id};
use crate::kind::Kind;
use crate::parse::{Arg, ArgValue};
use value::Spanned;

/// The attribute, validated. Keys left out are absent: their defaults live in the runtime
/// crate, not here.
pub(crate) struct Config {
    /// `None`: only a Unix socket (`unix` is given then).
    pub(crate) port: Option<Spanned<u64>>,
    /// Every other key given (the sub-keys of `tls(...)` included), in table order.
    pub(crate) settings: Vec<Setting>,
    pub(crate) crate_path: Option<syn::Path>,
    /// The keys naming the application's functions and its flags' type (`state`,
    /// `on_shutdown`, `args`).
    pub(crate) functions: Vec<(Id, syn::Path)>,
    /// `codec = ...`: the expression that makes a connection's codec.
    pub(crate) codec: Option<Expr>,
}

/// One key and its value.
pub(crate) struct Setting {
    pub(crate) key: &'static Key,
    pub(crate) value: Spanned<Value>,
}

impl Config {
    /// The value of `id`, if the attribute gives it.
    pub(crate) fn get(&self, id: Id) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key.id == id)
    }

    /// The function a key names (`state = connect`), if the attribute gives it.
    pub(crate) fn function(&self, id: Id) -> Option<&syn::Path> {
        self.functions
            .iter()
            .find(|(key, _)| *key == id)
            .map(|(_, path)| path)
    }

    /// The settings of `group`, in table order.
    pub(crate) fn group(&self, group: Group) -> impl Iterator<Item = &Setting> {
        self.settings.iter().filter(move |s| s.key.group == group)
    }
}

/// Errors gathered across entries.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Builds the configuration from the attribute's entries.
pub(crate) fn config(args: Vec<Arg>, kind: Kind) -> syn::Result<Config> {
    let mut settings = Vec::new();
    let mut crate_path = None;
    let mut functions = Vec::new();
    let mut codec = None;
    let mut port = None;
    let mut errors = Errors::default();
    let mut seen = HashSet::new();
    for arg in &args {
        let name = arg.name();
        let Some(key) = kind.keys().find(|k| k.name == name) else {
            let message = match kind {
                Kind::Tcp => keys::http_only(&name),
                Kind::Http => None,
            };
            let message = message.unwrap_or_else(|| keys::unknown(kind.keys(), &name, ""));
            errors.push(syn::Error::new(arg.key.span(), message));
            continue;
        };
        if !seen.insert(key.id) {
            errors.push(given_twice(arg, key));
            continue;
        }
        if let Some(feature) = key.feature.filter(|f| !keys::enabled(f)) {
            let what = format!("`{}`", key.name);
            errors.push(syn::Error::new(
                arg.key.span(),
                keys::needs_feature(&what, feature),
            ));
            continue;
        }
        let read = match (key.id, key.kind) {
            (Id::Port, _) => expr_of(key, arg)
                .and_then(|expr| value::read(key, expr))
                .map(|v| port = Some(v.map(|v| v.integer()))),
            (_, ValueKind::Section) => section(key, arg, &mut settings),
            (_, ValueKind::Path) => expr_of(key, arg)
                .and_then(|expr| value::path(key, expr))
                .map(|path| crate_path = Some(path)),
            (_, ValueKind::Function) => expr_of(key, arg)
                .and_then(|expr| value::function(key, expr))
                .map(|path| functions.push((key.id, path))),
            (_, ValueKind::Type) => expr_of(key, arg)
                .and_then(|expr| value::type_path(key, expr))
                .map(|path| functions.push((key.id, path))),
            (_, ValueKind::Expression) => expr_of(key, arg).and_then(|expr| {
                value::expression(key, expr)?;
                codec = Some(expr.clone());
                Ok(())
            }),
            _ => expr_of(key, arg)
                .and_then(|expr| value::read(key, expr))
                .map(|value| settings.push(Setting { key, value })),
        };
        if let Err(e) = read {
            errors.push(e);
        }
    }
    if let (Kind::Http, Some(codec)) = (kind, &codec) {
        errors.push(syn::Error::new_spanned(
            codec,
            "`codec` is for `#[tcp_server]`: an HTTP server's framing is HTTP; remove it, or \
             serve the protocol with `#[tcp_server(codec = ...)]`",
        ));
    }
    if let Some((_, args)) = functions.iter().find(|(id, _)| *id == Id::Args)
        && !functions.iter().any(|(id, _)| *id == Id::State)
    {
        errors.push(syn::Error::new_spanned(
            args,
            "`args` gives the parsed flags to `state`'s function, and there is none: add \
             `state = init`, with `fn init(args: Args) -> Result<State, E>`",
        ));
    }
    if let Some((_, hook)) = functions.iter().find(|(id, _)| *id == Id::OnShutdown)
        && !functions.iter().any(|(id, _)| *id == Id::State)
    {
        errors.push(syn::Error::new_spanned(
            hook,
            "`on_shutdown` is given the application's state, and there is none: add \
             `state = init`, a function that creates it",
        ));
    }
    errors.finish()?;
    if port.is_none() && !settings.iter().any(|s| s.key.id == Id::Unix) {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "`port` is missing: every server needs one; write `{}` (or `unix = \"/run/app.sock\"` \
                 for a Unix socket)",
                kind.minimal()
            ),
        ));
    }
    settings.sort_by_key(|s| table_position(s.key.id));
    let config = Config {
        port,
        settings,
        crate_path,
        functions,
        codec,
    };
    // The runtime checks its flags with these same rules.
    let mut errors = Errors::default();
    let lookup = |id| match (id, &config.port) {
        (Id::Port, Some(port)) => Some(Value::Integer(port.value)),
        _ => config.get(id).map(|s| s.value.value.clone()),
    };
    for broken in rules::check(&lookup, Style::Attribute) {
        let at = config.get(broken.at).map(|s| &s.value);
        errors.push(match at {
            Some(value) => value.error(broken.message),
            None => syn::Error::new(Span::call_site(), broken.message),
        });
    }
    errors.finish()?;
    Ok(config)
}

fn table_position(id: Id) -> Option<usize> {
    tcpserver_options::keys::KEYS
        .iter()
        .position(|k| k.id == id)
}

fn given_twice(arg: &Arg, key: &Key) -> syn::Error {
    syn::Error::new(
        arg.key.span(),
        format!(
            "`{}` is given twice; keep only one `{}`",
            key.name, key.name
        ),
    )
}

/// The value of `key = value`, or an error saying how to write the entry.
fn expr_of<'a>(key: &Key, arg: &'a Arg) -> syn::Result<&'a Expr> {
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

/// `tls = "server.pem"` (the first sub-key) or `tls(pem | cert + key, client_ca, alpn,
/// sni)`: the sub-keys go to `settings`; how they fit together is a rule checked later.
fn section(section: &Key, arg: &Arg, settings: &mut Vec<Setting>) -> syn::Result<()> {
    let both_forms = r#"write `tls = "server.pem"` (chain and key in one file) or `tls(cert = "cert.pem", key = "key.pem")`"#;
    let entries = match &arg.value {
        ArgValue::Expr(expr) => {
            let first = keys::within(section.id)
                .next()
                .expect("a section has sub-keys");
            if value::string(section, expr).is_err() {
                return Err(syn::Error::new_spanned(
                    expr,
                    format!(
                        "`{}` expects a file path in a string; {both_forms}",
                        section.name
                    ),
                ));
            }
            let file = value::file(section, expr)?;
            settings.push(Setting {
                key: first,
                value: Spanned::new(Value::Text(file.value), expr),
            });
            return Ok(());
        }
        ArgValue::Missing => {
            return Err(syn::Error::new(
                arg.key.span(),
                format!("`{}` needs certificate files; {both_forms}", section.name),
            ));
        }
        ArgValue::List(paren, contents) => {
            let entries = crate::parse::args(contents.clone())?;
            if entries.is_empty() {
                return Err(syn::Error::new(
                    paren.span.join(),
                    format!("`{}(...)` is empty; {both_forms}", section.name),
                ));
            }
            entries
        }
    };
    let context = format!(" in `{}(...)`", section.name);
    let mut errors = Errors::default();
    let mut seen = HashSet::new();
    for entry in &entries {
        let name = entry.name();
        let Some(key) = keys::within(section.id).find(|k| k.name == name) else {
            errors.push(syn::Error::new(
                entry.key.span(),
                keys::unknown(keys::within(section.id), &name, &context),
            ));
            continue;
        };
        if !seen.insert(key.id) {
            errors.push(given_twice(entry, key));
            continue;
        }
        match expr_of(key, entry).and_then(|expr| value::read(key, expr)) {
            // Reported on the whole entry: a conflict inside `tls(...)` is between entries.
            Ok(value) => settings.push(Setting {
                key,
                value: Spanned::new(value.value, entry),
            }),
            Err(e) => errors.push(e),
        }
    }
    errors.finish()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;

    fn build_as(kind: Kind, tokens: TokenStream) -> Result<Config, String> {
        crate::parse::args(tokens)
            .and_then(|args| config(args, kind))
            .map_err(|e| {
                e.into_iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
    }

    fn build(tokens: TokenStream) -> Result<Config, String> {
        build_as(Kind::Tcp, tokens)
    }

    fn error_as(kind: Kind, tokens: TokenStream) -> String {
        match build_as(kind, tokens) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    fn error(tokens: TokenStream) -> String {
        error_as(Kind::Tcp, tokens)
    }

    fn value(config: &Config, id: Id) -> Value {
        config.get(id).map(|s| s.value.value.clone()).unwrap()
    }

    #[test]
    fn only_port() {
        let config = build(quote!(port = 8888)).unwrap();
        assert_eq!(config.port.map(|p| p.value), Some(8888));
        assert!(config.settings.is_empty() && config.crate_path.is_none());
    }

    #[test]
    fn every_key() {
        let config = build(quote! {
            port = 0, address = "::1", family = "ipv6", backlog = 64, reuse_port = true,
            processes = 2, max_restarts = 3,
            tls(cert = "c.pem", key = "k.pem", client_ca = "ca.pem", alpn = ["h2", "http/1.1"],
                sni = [("a.example", "a.pem"), ("b.example", "b.crt", "b.key")]),
            max_buffer_size = "1MiB", read_chunk_size = 4096, max_connections = 10,
            handshake_timeout = "5s", max_handshakes = 64,
            shutdown_timeout = "500ms", runtime = "multi-thread", worker_threads = 2,
            crate = "tcpserver",
        })
        .unwrap();
        assert_eq!(value(&config, Id::Family).choice().name, "ipv6");
        assert_eq!(value(&config, Id::Runtime).choice().name, "multi_thread");
        assert_eq!(value(&config, Id::MaxBufferSize), Value::Size(1 << 20));
        assert_eq!(
            value(&config, Id::ShutdownTimeout).duration(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            value(&config, Id::TlsClientCa),
            Value::Text("ca.pem".into())
        );
        assert_eq!(value(&config, Id::TlsAlpn).to_string(), "h2,http/1.1");
        assert_eq!(
            value(&config, Id::TlsSni).to_string(),
            "a.example=a.pem b.example=b.crt,b.key"
        );
        assert_eq!(value(&config, Id::MaxHandshakes), Value::Integer(64));
        // Table order, whatever the attribute's.
        let order: Vec<Id> = config.settings.iter().map(|s| s.key.id).collect();
        let mut sorted = order.clone();
        sorted.sort_by_key(|id| table_position(*id));
        assert_eq!(order, sorted);
    }

    #[test]
    fn admin_address_is_an_ip_and_a_port() {
        let config = build(quote!(port = 0, admin_address = "[::1]:9100")).unwrap();
        assert_eq!(
            value(&config, Id::AdminAddress),
            Value::Text("[::1]:9100".into())
        );
        let e = error(quote!(port = 0, admin_address = "127.0.0.1"));
        assert!(
            e.contains("`admin_address`: \"127.0.0.1\" has no port"),
            "{e}"
        );
        assert!(
            e.contains(r#"write `admin_address = "127.0.0.1:9100"`"#),
            "{e}"
        );
        let e = error(quote!(port = 0, admin_address = "localhost:9100"));
        assert!(e.contains("no host names"), "{e}");
        let e = error(quote!(port = 0, admin_address = 9100));
        assert!(e.contains("`admin_address`"), "{e}");
    }

    #[test]
    fn unix_sockets() {
        let config = build(quote!(unix = "/run/app.sock", unix_mode = "0660")).unwrap();
        assert!(config.port.is_none());
        assert_eq!(value(&config, Id::UnixMode), Value::Mode(0o660));
        let config = build(quote!(port = 1, unix = "\0abstract", unix_mode = 0o600)).unwrap();
        assert_eq!(value(&config, Id::UnixMode), Value::Mode(0o600));
        for (attribute, expected) in [
            (
                quote!(unix = "/a.sock", unix_mode = 660),
                "`unix_mode` is written in octal, as `chmod` takes it: `unix_mode = 0o660`",
            ),
            (
                quote!(unix = "/a.sock", unix_mode = 0o1777),
                "`unix_mode`: `1777` is out of range",
            ),
            (
                quote!(unix = "/a.sock", unix_mode = "rw"),
                "`unix_mode`: `rw` is not a mode",
            ),
            (
                quote!(unix = "/a.sock", unix_mode = true),
                "`unix_mode`: expects a mode in octal; write `unix_mode = 0o660`",
            ),
            (
                quote!(unix = ""),
                "`unix` expects a file path, not an empty string",
            ),
            (
                quote!(port = 1, unix_mode = 0o600),
                "`unix_mode` is the mode of the Unix socket file, and there is no `unix`",
            ),
            (
                quote!(unix = "/a.sock", address = "127.0.0.1"),
                "`address` is for the TCP port, and there is none (only `unix`)",
            ),
        ] {
            let e = error(attribute.clone());
            assert!(e.contains(expected), "{attribute}: {e}");
        }
    }

    #[test]
    fn missing_port() {
        assert!(error(quote!()).contains("`port` is missing"));
        assert!(error(quote!(address = "x")).contains("`port` is missing"));
        assert_eq!(
            error_as(Kind::Http, quote!(xheaders = true)),
            "`port` is missing: every server needs one; write `#[http_server(port = 8080)]` \
             (or `unix = \"/run/app.sock\"` for a Unix socket)"
        );
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
    fn value_forms() {
        assert!(error(quote!(port)).contains("`port` needs a value; write `port = 8888`"));
        let e = error(quote!(port(1)));
        assert!(e.contains("`port` takes a value after `=`"), "{e}");
        assert!(error(quote!(port = 70000)).contains("`port = 70000` is out of range"));
        assert!(error(quote!(port = 1, processes = 1.5)).contains("whole number"));
        assert!(error(quote!(port = 1, reuse_port = "yes")).contains("`true` or `false`"));
        let e = error(quote!(port = 1, worker_threads = 0));
        assert_eq!(
            e,
            "`worker_threads` must be at least 1; leave it out for one thread per CPU"
        );
        assert!(error(quote!(port = 1, max_connections = 4294967296)).contains("out of range"));
        assert!(error(quote!(port = 1, max_buffer_size = "4GiB")).contains("too large"));
        assert!(error(quote!(port = 1, runtime = "local")).contains("unknown runtime"));
        let e = error(quote!(port = 1, handshake_timeout = 0));
        assert!(e.contains("`handshake_timeout` must be more than 0"), "{e}");
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
        assert_eq!(value(&config, Id::TlsPem), Value::Text("server.pem".into()));
        let config = build(quote!(port = 1, tls(pem = "s.pem", client_ca = "ca.pem"))).unwrap();
        assert!(config.get(Id::TlsClientCa).is_some());
        let config = build(quote!(port = 1, tls(key = "k.pem", cert = "c.pem"))).unwrap();
        assert!(config.get(Id::TlsCert).is_some() && config.get(Id::TlsKey).is_some());
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
            (
                quote!(tls(alpn = ["h2"])),
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
            (quote!(tls(pem = "s.pem", alpn = [])), "`alpn` is empty"),
            (quote!(tls(pem = "s.pem", alpn = [""])), "cannot be empty"),
            (
                quote!(tls(pem = "s.pem", alpn = "h2")),
                "`alpn` expects an array",
            ),
            (
                quote!(tls(pem = "s.pem", sni = [("a..b", "x.pem")])),
                "is not a DNS name",
            ),
            (quote!(tls(pem = "s.pem", sni = ["a.pem"])), "is a tuple"),
            (
                quote!(tls(pem = "s.pem", sni = [("a", "")])),
                "not an empty string",
            ),
        ];
        for (tls, expected) in cases {
            let e = error(quote!(port = 1, #tls));
            assert!(e.contains(expected), "{tls}: {e}");
        }
    }

    #[test]
    fn every_http_option() {
        let config = build_as(
            Kind::Http,
            quote! {
                port = 8080, max_buffer_size = "1MiB",
                no_keep_alive = true, xheaders = true, trusted_downstream = ["10.0.0.1", "::1"],
                protocol = "https", decompress_request = false, chunk_size = "16KiB",
                max_header_size = 8192, idle_connection_timeout = "75s", body_timeout = 2.5,
                max_body_size = "10MiB",
            },
        )
        .unwrap();
        assert_eq!(value(&config, Id::MaxBufferSize), Value::Size(1 << 20));
        assert!(value(&config, Id::NoKeepAlive).bool());
        assert_eq!(
            value(&config, Id::TrustedDownstream),
            Value::IpList(vec![
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ])
        );
        assert_eq!(value(&config, Id::Protocol).choice().name, "https");
        assert_eq!(value(&config, Id::ChunkSize), Value::Size(16 << 10));
        assert_eq!(
            value(&config, Id::BodyTimeout).duration(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(config.group(Group::Http).count(), 10);
    }

    #[test]
    fn wrong_http_values() {
        let cases = [
            (
                quote!(xheaders = "true"),
                "`xheaders` expects a bool, not a string: remove the quotes, `xheaders = true`",
            ),
            (
                quote!(no_keep_alive = 1),
                "`no_keep_alive` expects `true` or `false`; write `no_keep_alive = true`",
            ),
            (
                quote!(protocol = "ftp"),
                r#"unknown protocol "ftp"; expected one of: "http", "https""#,
            ),
            (
                quote!(protocol = https),
                r#"`protocol` expects a string: put it in double quotes, `protocol = "https"`"#,
            ),
            (
                quote!(chunk_size = 0),
                "`chunk_size` must be at least 1 byte",
            ),
            (
                quote!(max_header_size = "8 parsecs"),
                "unknown unit `parsecs`",
            ),
            (
                quote!(max_body_size = "5GiB"),
                "`max_body_size` is too large",
            ),
            (
                quote!(max_body_size = true),
                "`max_body_size` expects a byte count",
            ),
            (
                quote!(body_timeout = "soon"),
                "`body_timeout`: `soon` is not a duration",
            ),
            (
                quote!(body_timeout = 0),
                "`body_timeout` must be more than 0; leave the key out for no limit",
            ),
            (
                quote!(idle_connection_timeout = "0s"),
                "leave the key out for the default, one hour",
            ),
            (
                quote!(idle_connection_timeout = -1),
                "`idle_connection_timeout` cannot be negative",
            ),
            (
                quote!(xheaders = true, trusted_downstream = ["10.0.0.300"]),
                r#""10.0.0.300" is not an IP address"#,
            ),
            (
                quote!(xheaders),
                "`xheaders` needs a value; write `xheaders = true`",
            ),
            (
                quote!(protocol("https")),
                "`protocol` takes a value after `=`",
            ),
        ];
        for (option, expected) in cases {
            let e = error_as(Kind::Http, quote!(port = 8080, #option));
            assert!(e.contains(expected), "{option}: {e}");
        }
    }

    #[test]
    fn trusted_downstream_needs_xheaders() {
        let e = error_as(
            Kind::Http,
            quote!(port = 1, trusted_downstream = ["10.0.0.1"]),
        );
        assert!(e.contains("add `xheaders = true`"), "{e}");
        let e = error_as(
            Kind::Http,
            quote!(
                port = 1,
                xheaders = false,
                trusted_downstream = ["10.0.0.1"]
            ),
        );
        assert!(e.contains("`xheaders` is false"), "{e}");
        build_as(
            Kind::Http,
            quote!(port = 1, xheaders = true, trusted_downstream = ["10.0.0.1"]),
        )
        .unwrap();
    }

    #[test]
    fn value_mistakes_first_then_cross_key_checks() {
        let e = error_as(
            Kind::Http,
            quote!(
                port = 1,
                xheaders = 1,
                colour = "red",
                chunk_size = 0,
                runtime = "current_thread",
                worker_threads = 2,
            ),
        );
        // Value errors are all reported; cross-key checks wait until the values are right.
        assert_eq!(e.lines().count(), 3, "{e}");
        assert!(e.contains("unknown key `colour`"), "{e}");
    }
}
