//! The attribute's keys: the rows of the shared option table (`tcpserver_options::keys`),
//! and the messages for a key that is unknown, belongs to the other attribute, or needs
//! a cargo feature of `tcpserver` that is off.

use tcpserver_options::keys::{Features, Group, Key};
use tcpserver_options::suggest::suggest;

pub(crate) use tcpserver_options::keys::{Id, within};

/// The message for a key that is not in `keys`: every valid key, and the likely intended
/// one when the name is a known alias or a near miss.
pub(crate) fn unknown<'k>(
    keys: impl Iterator<Item = &'k Key> + Clone,
    name: &str,
    context: &str,
) -> String {
    let list = keys
        .clone()
        .map(|k| format!("`{}`", k.name))
        .collect::<Vec<_>>()
        .join(", ");
    match suggest(keys, name, |k| k.name) {
        Some(key) => format!(
            "unknown key `{name}`{context}; did you mean `{}`? Write `{}`. The keys are: {list}",
            key.name, key.example
        ),
        None => format!("unknown key `{name}`{context}; expected one of: {list}"),
    }
}

/// The message for an HTTP option given to `#[tcp_server]`, or `None` if `name` is not one.
pub(crate) fn http_only(name: &str) -> Option<String> {
    let key = tcpserver_options::keys::top_level(&[Group::Http]).find(|k| k.name == name)?;
    Some(format!(
        "`{name}` is an HTTP option, a key of `#[http_server]`; `#[tcp_server]` serves raw \
         connections. Remove `{name}`, or serve HTTP: write `#[http_server(..., {})]` on \
         `async fn handle(request: Request<Body>) -> Response<String>`",
        key.example
    ))
}

/// True if the runtime crate was built with `feature` (its features turn on this crate's
/// features of the same name).
pub(crate) fn enabled(feature: &str) -> bool {
    Features {
        tls: cfg!(feature = "tls"),
        http: cfg!(feature = "http"),
        proxy: cfg!(feature = "proxy"),
        codec: cfg!(feature = "codec"),
        args: cfg!(feature = "args"),
    }
    .has(feature)
}

/// The message for something that needs a feature of `tcpserver` that is off.
pub(crate) fn needs_feature(what: &str, feature: &str) -> String {
    format!(
        "{what} needs the `{feature}` feature of `tcpserver`; enable it in Cargo.toml: \
         `tcpserver = {{ version = \"0.1\", features = [\"{feature}\"] }}`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;

    #[test]
    fn unknown_key_lists_every_key() {
        let message = unknown(Kind::Tcp.keys(), "colour", "");
        for key in Kind::Tcp.keys() {
            assert!(message.contains(&format!("`{}`", key.name)), "{message}");
        }
        assert!(!message.contains("did you mean"), "{message}");
        let message = unknown(Kind::Http.keys(), "xheader", "");
        assert!(
            message.starts_with(
                "unknown key `xheader`; did you mean `xheaders`? Write `xheaders = true`."
            ),
            "{message}"
        );
    }

    #[test]
    fn http_keys_are_the_tcp_keys_then_the_http_options() {
        let tcp: Vec<&str> = Kind::Tcp.keys().map(|k| k.name).collect();
        let http: Vec<&str> = Kind::Http.keys().map(|k| k.name).collect();
        assert_eq!(&http[..tcp.len()], tcp.as_slice());
        assert!(
            http[tcp.len()..]
                .iter()
                .all(|name| http_only(name).is_some())
        );
        assert_eq!(http_only("port"), None);
        assert_eq!(http_only("colour"), None);
    }

    #[test]
    fn http_options_on_tcp_server_point_to_http_server() {
        let message = http_only("xheaders").unwrap();
        assert!(
            message.starts_with("`xheaders` is an HTTP option"),
            "{message}"
        );
        assert!(
            message.contains("`#[http_server(..., xheaders = true)]`"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_feature_says_how_to_enable_it() {
        assert_eq!(
            needs_feature("`tls`", "tls"),
            "`tls` needs the `tls` feature of `tcpserver`; enable it in Cargo.toml: \
             `tcpserver = { version = \"0.1\", features = [\"tls\"] }`"
        );
    }
}
