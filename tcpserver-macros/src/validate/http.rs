//! The HTTP options of `#[http_server]`, Tornado's `HTTPServer` arguments, read into typed
//! values. As for the other keys, an option left out is `None`: its default lives in the
//! runtime crate (`HttpOptions::new`), not here.

use std::net::IpAddr;
use std::time::Duration;

use syn::Expr;

use super::value::{self, Spanned};
use super::{Errors, byte_count};
use crate::keys::Key;

/// The HTTP options given in the attribute.
#[derive(Default)]
pub(crate) struct HttpConfig {
    pub(crate) no_keep_alive: Option<Spanned<bool>>,
    pub(crate) xheaders: Option<Spanned<bool>>,
    pub(crate) trusted_downstream: Option<Spanned<Vec<Spanned<IpAddr>>>>,
    pub(crate) protocol: Option<Spanned<Protocol>>,
    pub(crate) decompress_request: Option<Spanned<bool>>,
    pub(crate) chunk_size: Option<Spanned<u64>>,
    pub(crate) max_header_size: Option<Spanned<u64>>,
    pub(crate) idle_connection_timeout: Option<Spanned<Duration>>,
    pub(crate) body_timeout: Option<Spanned<Duration>>,
    pub(crate) max_body_size: Option<Spanned<u64>>,
}

/// `tcpserver::httpserver::Protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http,
    Https,
}

impl HttpConfig {
    /// Reads the value of one HTTP option (a key of `keys::HTTP_ONLY_KEYS`).
    pub(super) fn set(&mut self, key: Key, expr: &Expr) -> syn::Result<()> {
        match key.name {
            "no_keep_alive" => self.no_keep_alive = Some(value::boolean(key, expr)?),
            "xheaders" => self.xheaders = Some(value::boolean(key, expr)?),
            "trusted_downstream" => {
                self.trusted_downstream = Some(value::ip_addresses(key, expr)?);
            }
            "protocol" => {
                // Exact spellings only, as the binary's `--protocol` flag and Tornado's
                // X-Scheme check take them.
                let choices: &[(&[&str], Protocol)] =
                    &[(&["http"], Protocol::Http), (&["https"], Protocol::Https)];
                self.protocol = Some(value::choice(key, expr, choices)?);
            }
            "decompress_request" => self.decompress_request = Some(value::boolean(key, expr)?),
            "chunk_size" => self.chunk_size = Some(byte_count(key, expr)?),
            "max_header_size" => self.max_header_size = Some(byte_count(key, expr)?),
            "idle_connection_timeout" => {
                // The runtime reads 0 as "the default", as Tornado does; in the attribute
                // that would be a surprise, so it is refused.
                let default = "leave the key out for the default, one hour";
                self.idle_connection_timeout = Some(positive_duration(key, expr, default)?);
            }
            "body_timeout" => {
                let default = "leave the key out for no limit";
                self.body_timeout = Some(positive_duration(key, expr, default)?);
            }
            "max_body_size" => self.max_body_size = Some(byte_count(key, expr)?),
            other => unreachable!("key `{other}` is in HTTP_ONLY_KEYS but not handled"),
        }
        Ok(())
    }

    /// Checks the HTTP options against each other, each error on the value that conflicts.
    pub(super) fn check(&self, errors: &mut Errors) {
        if let Some(trusted) = &self.trusted_downstream {
            // Tornado reads `trusted_downstream` only while walking X-Forwarded-For, that
            // is, with `xheaders`: without it the list would be silently ignored.
            match &self.xheaders {
                Some(xheaders) if xheaders.value => {}
                Some(_) => errors.push(trusted.error(
                    "`trusted_downstream` is only used with `xheaders`, and `xheaders` is false; \
                     write `xheaders = true`, or remove `trusted_downstream`",
                )),
                None => errors.push(trusted.error(
                    "`trusted_downstream` is only used with `xheaders`: it lists the proxies \
                     skipped in X-Forwarded-For; add `xheaders = true`, or remove `trusted_downstream`",
                )),
            }
        }
    }
}

/// A duration above zero; `zero` says what to do instead.
fn positive_duration(key: Key, expr: &Expr, zero: &str) -> syn::Result<Spanned<Duration>> {
    let duration = value::duration(key, expr)?;
    if duration.value.is_zero() {
        return Err(duration.error(format!("`{}` must be more than 0; {zero}", key.name)));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::*;
    use crate::kind::Kind;
    use crate::validate::{Config, config};

    fn build(tokens: TokenStream) -> Result<Config, String> {
        crate::parse::args(tokens)
            .and_then(|args| config(args, Kind::Http))
            .map_err(|e| {
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
    fn every_http_option() {
        let config = build(quote! {
            port = 8080, max_buffer_size = "1MiB",
            no_keep_alive = true, xheaders = true, trusted_downstream = ["10.0.0.1", "::1"],
            protocol = "https", decompress_request = false, chunk_size = "16KiB",
            max_header_size = 8192, idle_connection_timeout = "75s", body_timeout = 2.5,
            max_body_size = "10MiB",
        })
        .unwrap();
        assert_eq!(config.max_buffer_size.unwrap().value, 1 << 20);
        let http = config.http;
        assert!(http.no_keep_alive.unwrap().value);
        assert!(http.xheaders.unwrap().value);
        let trusted: Vec<IpAddr> = http
            .trusted_downstream
            .unwrap()
            .value
            .into_iter()
            .map(|ip| ip.value)
            .collect();
        assert_eq!(
            trusted,
            [
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(http.protocol.unwrap().value, Protocol::Https);
        assert!(!http.decompress_request.unwrap().value);
        assert_eq!(http.chunk_size.unwrap().value, 16 << 10);
        assert_eq!(http.max_header_size.unwrap().value, 8192);
        assert_eq!(
            http.idle_connection_timeout.unwrap().value,
            Duration::from_secs(75)
        );
        assert_eq!(
            http.body_timeout.unwrap().value,
            Duration::from_millis(2500)
        );
        assert_eq!(http.max_body_size.unwrap().value, 10 << 20);
    }

    #[test]
    fn options_left_out_stay_unset() {
        let http = build(quote!(port = 8080)).unwrap().http;
        assert!(http.no_keep_alive.is_none() && http.xheaders.is_none());
        assert!(http.trusted_downstream.is_none() && http.protocol.is_none());
        assert!(http.chunk_size.is_none() && http.body_timeout.is_none());
        assert!(http.max_body_size.is_none() && http.idle_connection_timeout.is_none());
    }

    #[test]
    fn wrong_values() {
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
            (quote!(protocol = "HTTPS"), r#"unknown protocol "HTTPS""#),
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
            let e = error(quote!(port = 8080, #option));
            assert!(e.contains(expected), "{option}: {e}");
        }
    }

    #[test]
    fn trusted_downstream_needs_xheaders() {
        let e = error(quote!(port = 1, trusted_downstream = ["10.0.0.1"]));
        assert!(e.contains("add `xheaders = true`"), "{e}");
        let e = error(quote!(
            port = 1,
            xheaders = false,
            trusted_downstream = ["10.0.0.1"]
        ));
        assert!(e.contains("`xheaders` is false"), "{e}");
        build(quote!(
            port = 1,
            xheaders = true,
            trusted_downstream = ["10.0.0.1"]
        ))
        .unwrap();
    }

    #[test]
    fn http_mistakes_with_server_mistakes_in_one_build() {
        let e = error(quote!(
            port = 1,
            xheaders = 1,
            colour = "red",
            chunk_size = 0,
            runtime = "current_thread",
            worker_threads = 2,
        ));
        // Value errors are all reported; cross-key checks wait until the values are right.
        assert_eq!(e.lines().count(), 3, "{e}");
        assert!(e.contains("unknown key `colour`"), "{e}");
    }
}
