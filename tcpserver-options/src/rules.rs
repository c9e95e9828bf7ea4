//! The checks across options, one set for the attribute (at compile time) and the command
//! line (at start-up), so that what one refuses the other refuses too.
//!
//! A rule looks only at the options that were set: in the attribute, the keys written; at
//! run time, what the program compiled in plus the flags given. An option left at its
//! default never conflicts (a default `read_chunk_size` is clamped to half of a small
//! `max_buffer_size`, as Tornado does).

use crate::keys::{Id, key};
use crate::value::Value;

/// Who reads the message: it names options as that reader writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The attribute: `` `read_chunk_size` ``, `write `key = value``.
    Attribute,
    /// The command line: `--read-chunk-size`.
    Flags,
}

/// A broken rule: the option to blame and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The option the message is about (the attribute reports it on this key's value).
    pub at: Id,
    /// The whole message.
    pub message: String,
}

/// Checks every rule against the options set (`set(id)` is `None` for an option left
/// at its default) and returns the broken ones, in table order of the option blamed.
pub fn check(set: &dyn Fn(Id) -> Option<Value>, style: Style) -> Vec<Violation> {
    let mut broken = Vec::new();
    let mut blame = |at: Id, message: String| broken.push(Violation { at, message });
    let name = |id: Id| match style {
        Style::Attribute => format!("`{}`", key(id).name),
        Style::Flags => format!("--{}", key(id).flag.unwrap_or(key(id).name)),
    };

    if let (Some(threads), Some(runtime)) = (set(Id::WorkerThreads), set(Id::Runtime))
        && runtime.choice().name == "current_thread"
    {
        blame(
            Id::WorkerThreads,
            match style {
                Style::Attribute => "`worker_threads` needs the multi-thread runtime, but `runtime` \
                     is \"current_thread\"; remove `worker_threads` or write `runtime = \"multi_thread\"`"
                    .to_owned(),
                Style::Flags => format!(
                    "--worker-threads ({threads}) needs the multi-thread runtime, but --runtime is \
                     current-thread; leave out --worker-threads or give --runtime multi-thread"
                ),
            },
        );
    }

    if let (Some(chunk), Some(max)) = (set(Id::ReadChunkSize), set(Id::MaxBufferSize))
        && chunk.integer() > max.integer() / 2
    {
        let (chunk, max) = (chunk.integer(), max.integer());
        blame(
            Id::ReadChunkSize,
            match style {
                Style::Attribute => format!(
                    "`read_chunk_size` ({chunk} bytes) must be at most half of `max_buffer_size` \
                     ({max} bytes); write `read_chunk_size = {}` or less, or raise `max_buffer_size`",
                    max / 2
                ),
                Style::Flags => format!(
                    "--read-chunk-size ({}) must be at most half of --max-buffer-size ({}); give \
                     --read-chunk-size {} or less, or raise --max-buffer-size",
                    Value::Size(chunk),
                    Value::Size(max),
                    Value::Size(max / 2)
                ),
            },
        );
    }

    if set(Id::TrustedDownstream).is_some() {
        // Tornado reads `trusted_downstream` only while walking X-Forwarded-For, that is,
        // with `xheaders`: without it the list would be silently ignored.
        let message = match (style, set(Id::Xheaders)) {
            (_, Some(Value::Bool(true))) => None,
            (Style::Attribute, Some(_)) => Some(
                "`trusted_downstream` is only used with `xheaders`, and `xheaders` is false; \
                 write `xheaders = true`, or remove `trusted_downstream`",
            ),
            (Style::Attribute, None) => Some(
                "`trusted_downstream` is only used with `xheaders`: it lists the proxies \
                 skipped in X-Forwarded-For; add `xheaders = true`, or remove `trusted_downstream`",
            ),
            (Style::Flags, _) => Some(
                "--trusted-downstream is only used with --xheaders, which is off: it lists the \
                 proxies skipped in X-Forwarded-For; add --xheaders, or leave out --trusted-downstream",
            ),
        };
        if let Some(message) = message {
            blame(Id::TrustedDownstream, message.to_owned());
        }
    }

    if set(Id::ProxyProtocol).is_none() {
        for needy in [Id::ProxyTrusted, Id::ProxyTimeout] {
            if set(needy).is_some() {
                blame(
                    needy,
                    match style {
                        Style::Attribute => format!(
                            "{} is only used with `proxy_protocol`; add `proxy_protocol = \"v2\"` \
                             (or \"v1\", \"any\"), or remove {}",
                            name(needy),
                            name(needy)
                        ),
                        Style::Flags => format!(
                            "{} is only used with --proxy-protocol; add --proxy-protocol v1, v2 or \
                             any, or leave out {}",
                            name(needy),
                            name(needy)
                        ),
                    },
                );
            }
        }
    }

    unix(set, style, &name, &mut blame);
    tls(set, style, &name, &mut blame);
    broken.sort_by_key(|v| crate::keys::KEYS.iter().position(|k| k.id == v.at));
    broken
}

/// A Unix socket: its mode needs it; without a TCP port, the TCP bind options mean nothing.
fn unix(
    set: &dyn Fn(Id) -> Option<Value>,
    style: Style,
    name: &dyn Fn(Id) -> String,
    blame: &mut dyn FnMut(Id, String),
) {
    if set(Id::UnixMode).is_some() && set(Id::Unix).is_none() {
        blame(
            Id::UnixMode,
            match style {
                Style::Attribute => concat!(
                    "`unix_mode` is the mode of the Unix socket file, and there is no `unix`; ",
                    "add `unix = \"/run/app.sock\"`, or remove `unix_mode`"
                )
                .to_owned(),
                Style::Flags => concat!(
                    "--unix-mode is the mode of the Unix socket file, and there is no --unix; ",
                    "add --unix PATH, or leave out --unix-mode"
                )
                .to_owned(),
            },
        );
    }
    if set(Id::Port).is_some() || set(Id::Unix).is_none() {
        return;
    }
    let given = [
        (Id::Address, set(Id::Address).is_some()),
        (
            Id::Family,
            set(Id::Family).is_some_and(|f| f.choice().name != "unspec"),
        ),
        (Id::ReusePort, set(Id::ReusePort).is_some_and(|r| r.bool())),
    ];
    for (id, _) in given.into_iter().filter(|(_, given)| *given) {
        let what = name(id);
        blame(
            id,
            match style {
                Style::Attribute => format!(
                    "{what} is for the TCP port, and there is none (only `unix`); \
                     add `port = 8888`, or remove {what}"
                ),
                Style::Flags => format!(
                    "{what} is for the TCP port, and this server has none (only its Unix \
                     socket); add --port PORT, or leave out {what}"
                ),
            },
        );
    }
}

/// The server's own certificate: one PEM, or a chain and its key; the client CA and ALPN
/// need it.
fn tls(
    set: &dyn Fn(Id) -> Option<Value>,
    style: Style,
    name: &dyn Fn(Id) -> String,
    blame: &mut dyn FnMut(Id, String),
) {
    let (pem, cert, key) = (set(Id::TlsPem), set(Id::TlsCert), set(Id::TlsKey));
    let text = |v: &Option<Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    match (&pem, &cert, &key) {
        (Some(_), Some(_), _) | (Some(_), None, Some(_)) => {
            let at = if cert.is_some() {
                Id::TlsCert
            } else {
                Id::TlsKey
            };
            blame(
                at,
                match style {
                    Style::Attribute => "give either `pem` or `cert` and `key`, not both; write \
                         `tls(pem = \"server.pem\")` or `tls(cert = \"cert.pem\", key = \"key.pem\")`"
                        .to_owned(),
                    Style::Flags => {
                        "give either --tls PEM or --tls-cert FILE --tls-key FILE, not both".to_owned()
                    }
                },
            );
        }
        (None, Some(_), None) => blame(
            Id::TlsCert,
            match style {
                Style::Attribute => format!(
                    "`cert` needs its private key: add `key`, as in `tls(cert = \"{}\", key = \"key.pem\")`",
                    text(&cert)
                ),
                Style::Flags => "--tls-cert needs its private key: add --tls-key FILE".to_owned(),
            },
        ),
        (None, None, Some(_)) => blame(
            Id::TlsKey,
            match style {
                Style::Attribute => format!(
                    "`key` needs its certificate chain: add `cert`, as in `tls(cert = \"cert.pem\", key = \"{}\")`",
                    text(&key)
                ),
                Style::Flags => {
                    "--tls-key needs its certificate chain: add --tls-cert FILE".to_owned()
                }
            },
        ),
        _ => {}
    }
    let identity = pem.is_some() || cert.is_some() || key.is_some() || set(Id::TlsSni).is_some();
    if identity {
        return;
    }
    for needy in [Id::TlsClientCa, Id::TlsAlpn] {
        if set(needy).is_none() {
            continue;
        }
        let does = match needy {
            Id::TlsClientCa => "checks clients",
            _ => "offers application protocols",
        };
        blame(
            needy,
            match style {
                Style::Attribute => format!(
                    "{} {does}, but the server needs its own certificate too; add \
                     `pem = \"server.pem\"` or `cert = \"cert.pem\", key = \"key.pem\"`",
                    name(needy)
                ),
                Style::Flags => format!(
                    "{} needs a server certificate: add --tls PEM, or --tls-cert FILE --tls-key FILE",
                    name(needy)
                ),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::keys::key;

    fn check_both(values: &[(Id, &str)]) -> Vec<(Id, String, String)> {
        let set: HashMap<Id, Value> = values
            .iter()
            .map(|&(id, text)| (id, Value::parse(key(id), text).unwrap()))
            .collect();
        let get = |id: Id| set.get(&id).cloned();
        let attribute = check(&get, Style::Attribute);
        let flags = check(&get, Style::Flags);
        assert_eq!(attribute.len(), flags.len(), "{attribute:?} {flags:?}");
        attribute
            .into_iter()
            .zip(flags)
            .map(|(a, f)| {
                assert_eq!(a.at, f.at);
                (a.at, a.message, f.message)
            })
            .collect()
    }

    #[test]
    fn nothing_set_breaks_nothing() {
        assert!(check_both(&[]).is_empty());
        assert!(check_both(&[(Id::MaxBufferSize, "64KiB")]).is_empty());
        assert!(check_both(&[(Id::ReadChunkSize, "1MiB")]).is_empty());
    }

    #[test]
    fn read_chunk_at_most_half_the_buffer() {
        let broken = check_both(&[(Id::MaxBufferSize, "64KiB"), (Id::ReadChunkSize, "64KiB")]);
        let (at, attribute, flags) = &broken[0];
        assert_eq!(*at, Id::ReadChunkSize);
        assert!(
            attribute.contains("write `read_chunk_size = 32768` or less"),
            "{attribute}"
        );
        assert!(
            flags.contains("give --read-chunk-size 32KiB or less"),
            "{flags}"
        );
        assert!(
            check_both(&[(Id::MaxBufferSize, "64KiB"), (Id::ReadChunkSize, "32KiB")]).is_empty()
        );
    }

    #[test]
    fn worker_threads_needs_a_multi_thread_runtime() {
        let broken = check_both(&[(Id::WorkerThreads, "4"), (Id::Runtime, "current-thread")]);
        assert_eq!(broken[0].0, Id::WorkerThreads);
        assert!(
            broken[0].2.starts_with("--worker-threads (4) needs"),
            "{}",
            broken[0].2
        );
        assert!(check_both(&[(Id::WorkerThreads, "4"), (Id::Runtime, "multi-thread")]).is_empty());
    }

    #[test]
    fn trusted_downstream_needs_xheaders() {
        let broken = check_both(&[(Id::TrustedDownstream, "10.0.0.1")]);
        assert!(
            broken[0].1.contains("add `xheaders = true`"),
            "{}",
            broken[0].1
        );
        let broken = check_both(&[(Id::TrustedDownstream, "10.0.0.1"), (Id::Xheaders, "false")]);
        assert!(
            broken[0].1.contains("`xheaders` is false"),
            "{}",
            broken[0].1
        );
        assert!(
            check_both(&[(Id::TrustedDownstream, "10.0.0.1"), (Id::Xheaders, "true")]).is_empty()
        );
    }

    #[test]
    fn proxy_options_need_the_protocol() {
        let broken = check_both(&[(Id::ProxyTrusted, "10.0.0.0/8"), (Id::ProxyTimeout, "3s")]);
        assert_eq!(broken.len(), 2, "{broken:?}");
        assert!(
            broken[0].1.contains("add `proxy_protocol = \"v2\"`"),
            "{}",
            broken[0].1
        );
        assert!(
            broken[1]
                .2
                .starts_with("--proxy-timeout is only used with --proxy-protocol"),
            "{}",
            broken[1].2
        );
        assert!(
            check_both(&[(Id::ProxyProtocol, "any"), (Id::ProxyTrusted, "10.0.0.0/8")]).is_empty()
        );
    }

    #[test]
    fn unix_socket_options() {
        let broken = check_both(&[(Id::UnixMode, "660")]);
        assert_eq!(broken[0].0, Id::UnixMode);
        assert!(
            broken[0].1.contains("add `unix = \"/run/app.sock\"`"),
            "{}",
            broken[0].1
        );
        assert!(broken[0].2.contains("add --unix PATH"), "{}", broken[0].2);
        assert!(check_both(&[(Id::Unix, "/run/a.sock"), (Id::UnixMode, "660")]).is_empty());
        // Only a Unix socket: the TCP options mean nothing.
        let only_unix = |more: &[(Id, &str)]| {
            let mut all = vec![(Id::Unix, "/run/a.sock")];
            all.extend_from_slice(more);
            check_both(&all)
        };
        let broken = only_unix(&[
            (Id::Address, "127.0.0.1"),
            (Id::Family, "ipv4"),
            (Id::ReusePort, "true"),
        ]);
        let blamed: Vec<Id> = broken.iter().map(|b| b.0).collect();
        assert_eq!(blamed, [Id::Address, Id::Family, Id::ReusePort]);
        assert!(
            broken[0]
                .1
                .starts_with("`address` is for the TCP port, and there is none"),
            "{}",
            broken[0].1
        );
        assert!(broken[0].2.contains("add --port PORT"), "{}", broken[0].2);
        // Their defaults are fine, and so is all of it beside a port.
        assert!(only_unix(&[(Id::Family, "unspec"), (Id::ReusePort, "false")]).is_empty());
        assert!(only_unix(&[(Id::Port, "0"), (Id::Address, "127.0.0.1")]).is_empty());
    }

    #[test]
    fn tls_identity() {
        type Case<'a> = (&'a [(Id, &'a str)], Id, &'a str);
        let cases: &[Case<'_>] = &[
            (
                &[(Id::TlsCert, "c.pem")],
                Id::TlsCert,
                "--tls-cert needs its private key",
            ),
            (
                &[(Id::TlsKey, "k.pem")],
                Id::TlsKey,
                "--tls-key needs its certificate chain",
            ),
            (
                &[(Id::TlsPem, "s.pem"), (Id::TlsKey, "k.pem")],
                Id::TlsKey,
                "not both",
            ),
            (
                &[
                    (Id::TlsPem, "s.pem"),
                    (Id::TlsCert, "c.pem"),
                    (Id::TlsKey, "k.pem"),
                ],
                Id::TlsCert,
                "not both",
            ),
            (
                &[(Id::TlsClientCa, "ca.pem")],
                Id::TlsClientCa,
                "--tls-client-ca needs a server certificate",
            ),
            (
                &[(Id::TlsAlpn, "h2")],
                Id::TlsAlpn,
                "--tls-alpn needs a server certificate",
            ),
        ];
        for (values, at, message) in cases {
            let broken = check_both(values);
            assert_eq!(broken.len(), 1, "{values:?}: {broken:?}");
            assert_eq!(broken[0].0, *at);
            assert!(broken[0].2.contains(message), "{}", broken[0].2);
        }
        let attribute = &check_both(&[(Id::TlsCert, "c.pem")])[0].1;
        assert!(
            attribute.contains(r#"tls(cert = "c.pem", key = "key.pem")"#),
            "{attribute}"
        );
        for fine in [
            &[
                (Id::TlsPem, "s.pem"),
                (Id::TlsClientCa, "ca.pem"),
                (Id::TlsAlpn, "h2"),
            ][..],
            &[(Id::TlsCert, "c.pem"), (Id::TlsKey, "k.pem")],
            &[(Id::TlsSni, "a.example=a.pem"), (Id::TlsClientCa, "ca.pem")],
        ] {
            assert!(check_both(fine).is_empty(), "{fine:?}");
        }
    }
}
