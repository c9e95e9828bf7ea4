//! The keys the attributes accept, each with an example of how to write it. One table, so
//! that the "unknown key" message, the "needs a value" message and the validation agree.
//! `#[http_server]` accepts every key of `#[tcp_server]` and the HTTP options.

/// A key of `#[tcp_server(...)]` or `#[http_server(...)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    /// The key as written in the attribute.
    pub(crate) name: &'static str,
    /// A correct use of the key, quoted in error messages as what to write instead.
    pub(crate) example: &'static str,
}

const fn key(name: &'static str, example: &'static str) -> Key {
    Key { name, example }
}

pub(crate) const PORT: Key = key("port", "port = 8888");
pub(crate) const ADDRESS: Key = key("address", r#"address = "127.0.0.1""#);
pub(crate) const FAMILY: Key = key("family", r#"family = "ipv4""#);
pub(crate) const BACKLOG: Key = key("backlog", "backlog = 1024");
pub(crate) const REUSE_PORT: Key = key("reuse_port", "reuse_port = true");
pub(crate) const PROCESSES: Key = key("processes", "processes = 4");
pub(crate) const MAX_RESTARTS: Key = key("max_restarts", "max_restarts = 100");
pub(crate) const TLS: Key = key("tls", r#"tls = "server.pem""#);
pub(crate) const MAX_BUFFER_SIZE: Key = key("max_buffer_size", r#"max_buffer_size = "1MiB""#);
pub(crate) const READ_CHUNK_SIZE: Key = key("read_chunk_size", r#"read_chunk_size = "64KiB""#);
pub(crate) const MAX_CONNECTIONS: Key = key("max_connections", "max_connections = 10000");
pub(crate) const SHUTDOWN_TIMEOUT: Key = key("shutdown_timeout", r#"shutdown_timeout = "30s""#);
pub(crate) const RUNTIME: Key = key("runtime", r#"runtime = "multi_thread""#);
pub(crate) const WORKER_THREADS: Key = key("worker_threads", "worker_threads = 4");
pub(crate) const CRATE: Key = key("crate", r#"crate = "tcpserver""#);

/// Every key of `#[tcp_server(...)]`, in the order the documentation lists them.
pub(crate) const SERVER_KEYS: &[Key] = &[
    PORT,
    ADDRESS,
    FAMILY,
    BACKLOG,
    REUSE_PORT,
    PROCESSES,
    MAX_RESTARTS,
    TLS,
    MAX_BUFFER_SIZE,
    READ_CHUNK_SIZE,
    MAX_CONNECTIONS,
    SHUTDOWN_TIMEOUT,
    RUNTIME,
    WORKER_THREADS,
    CRATE,
];

pub(crate) const NO_KEEP_ALIVE: Key = key("no_keep_alive", "no_keep_alive = true");
pub(crate) const XHEADERS: Key = key("xheaders", "xheaders = true");
pub(crate) const TRUSTED_DOWNSTREAM: Key = key(
    "trusted_downstream",
    r#"trusted_downstream = ["10.0.0.1", "::1"]"#,
);
pub(crate) const PROTOCOL: Key = key("protocol", r#"protocol = "https""#);
pub(crate) const DECOMPRESS_REQUEST: Key = key("decompress_request", "decompress_request = true");
pub(crate) const CHUNK_SIZE: Key = key("chunk_size", r#"chunk_size = "64KiB""#);
pub(crate) const MAX_HEADER_SIZE: Key = key("max_header_size", r#"max_header_size = "16KiB""#);
pub(crate) const IDLE_CONNECTION_TIMEOUT: Key = key(
    "idle_connection_timeout",
    r#"idle_connection_timeout = "75s""#,
);
pub(crate) const BODY_TIMEOUT: Key = key("body_timeout", r#"body_timeout = "30s""#);
pub(crate) const MAX_BODY_SIZE: Key = key("max_body_size", r#"max_body_size = "10MiB""#);

/// The HTTP options, Tornado's `HTTPServer` arguments: keys of `#[http_server(...)]` only.
pub(crate) const HTTP_ONLY_KEYS: &[Key] = &[
    NO_KEEP_ALIVE,
    XHEADERS,
    TRUSTED_DOWNSTREAM,
    PROTOCOL,
    DECOMPRESS_REQUEST,
    CHUNK_SIZE,
    MAX_HEADER_SIZE,
    IDLE_CONNECTION_TIMEOUT,
    BODY_TIMEOUT,
    MAX_BODY_SIZE,
];

/// Every key of `#[http_server(...)]`: [`SERVER_KEYS`], then [`HTTP_ONLY_KEYS`] (a unit test
/// keeps the three lists in step).
pub(crate) const HTTP_SERVER_KEYS: &[Key] = &[
    PORT,
    ADDRESS,
    FAMILY,
    BACKLOG,
    REUSE_PORT,
    PROCESSES,
    MAX_RESTARTS,
    TLS,
    MAX_BUFFER_SIZE,
    READ_CHUNK_SIZE,
    MAX_CONNECTIONS,
    SHUTDOWN_TIMEOUT,
    RUNTIME,
    WORKER_THREADS,
    CRATE,
    NO_KEEP_ALIVE,
    XHEADERS,
    TRUSTED_DOWNSTREAM,
    PROTOCOL,
    DECOMPRESS_REQUEST,
    CHUNK_SIZE,
    MAX_HEADER_SIZE,
    IDLE_CONNECTION_TIMEOUT,
    BODY_TIMEOUT,
    MAX_BODY_SIZE,
];

pub(crate) const TLS_PEM: Key = key("pem", r#"tls(pem = "server.pem")"#);
pub(crate) const TLS_CERT: Key = key("cert", r#"tls(cert = "cert.pem", key = "key.pem")"#);
pub(crate) const TLS_KEY: Key = key("key", r#"tls(cert = "cert.pem", key = "key.pem")"#);
pub(crate) const TLS_CLIENT_CA: Key = key(
    "client_ca",
    r#"tls(cert = "cert.pem", key = "key.pem", client_ca = "ca.pem")"#,
);

/// The keys inside `tls(...)`.
pub(crate) const TLS_KEYS: &[Key] = &[TLS_PEM, TLS_CERT, TLS_KEY, TLS_CLIENT_CA];

/// Names people reach for from other servers (Tornado, tokio, nginx), and the key they mean.
const ALIASES: &[(&str, Key)] = &[
    ("host", ADDRESS),
    ("addr", ADDRESS),
    ("bind", ADDRESS),
    ("num_processes", PROCESSES),
    ("workers", PROCESSES),
    ("ssl", TLS),
    ("ssl_options", TLS),
    ("certfile", TLS),
    ("flavor", RUNTIME),
    ("threads", WORKER_THREADS),
    ("core_threads", WORKER_THREADS),
    ("connections", MAX_CONNECTIONS),
    ("timeout", SHUTDOWN_TIMEOUT),
    ("trusted_proxies", TRUSTED_DOWNSTREAM),
    ("trusted_proxy", TRUSTED_DOWNSTREAM),
    ("scheme", PROTOCOL),
    ("gzip", DECOMPRESS_REQUEST),
    ("decompress", DECOMPRESS_REQUEST),
    ("idle_timeout", IDLE_CONNECTION_TIMEOUT),
    ("keep_alive_timeout", IDLE_CONNECTION_TIMEOUT),
    ("max_body", MAX_BODY_SIZE),
    ("max_request_size", MAX_BODY_SIZE),
    ("body_limit", MAX_BODY_SIZE),
];

/// Looks a key up by name.
pub(crate) fn find(keys: &[Key], name: &str) -> Option<Key> {
    keys.iter().copied().find(|k| k.name == name)
}

/// The message for a key that is not in `keys`: every valid key, and the likely intended
/// one when the name is a known alias or a near miss.
pub(crate) fn unknown(keys: &[Key], name: &str, context: &str) -> String {
    let list = keys
        .iter()
        .map(|k| format!("`{}`", k.name))
        .collect::<Vec<_>>()
        .join(", ");
    match suggestion(keys, name) {
        Some(key) => format!(
            "unknown key `{name}`{context}; did you mean `{}`? Write `{}`. The keys are: {list}",
            key.name, key.example
        ),
        None => format!("unknown key `{name}`{context}; expected one of: {list}"),
    }
}

/// The message for an HTTP option given to `#[tcp_server]`, or `None` if `name` is not one.
pub(crate) fn http_only(name: &str) -> Option<String> {
    let key = find(HTTP_ONLY_KEYS, name)?;
    Some(format!(
        "`{name}` is an HTTP option, a key of `#[http_server]`; `#[tcp_server]` serves raw \
         connections. Remove `{name}`, or serve HTTP: write `#[http_server(..., {})]` on \
         `async fn handle(request: Request<Body>) -> Response<String>`",
        key.example
    ))
}

fn suggestion(keys: &[Key], name: &str) -> Option<Key> {
    let lower = name.to_ascii_lowercase().replace('-', "_");
    if let Some(key) = find(keys, &lower) {
        return Some(key);
    }
    if let Some(&(_, key)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return find(keys, key.name);
    }
    keys.iter()
        .copied()
        .map(|k| (edit_distance(&lower, k.name), k))
        .filter(|&(d, k)| d <= 2 && d < k.name.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, for "did you mean" hints on typos.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_lists_every_key() {
        let message = unknown(SERVER_KEYS, "colour", "");
        for key in SERVER_KEYS {
            assert!(message.contains(&format!("`{}`", key.name)), "{message}");
        }
        assert!(!message.contains("did you mean"), "{message}");
    }

    #[test]
    fn suggests_near_misses_and_aliases() {
        assert_eq!(suggestion(SERVER_KEYS, "prot"), Some(PORT));
        assert_eq!(
            suggestion(SERVER_KEYS, "worker_thread"),
            Some(WORKER_THREADS)
        );
        assert_eq!(suggestion(SERVER_KEYS, "reuse-port"), Some(REUSE_PORT));
        assert_eq!(suggestion(SERVER_KEYS, "Port"), Some(PORT));
        assert_eq!(suggestion(SERVER_KEYS, "flavor"), Some(RUNTIME));
        assert_eq!(suggestion(SERVER_KEYS, "host"), Some(ADDRESS));
        assert_eq!(suggestion(TLS_KEYS, "certificate"), None);
        assert_eq!(suggestion(TLS_KEYS, "certs"), Some(TLS_CERT));
        assert_eq!(suggestion(SERVER_KEYS, "x"), None);
    }

    #[test]
    fn http_keys_are_the_server_keys_then_the_http_options() {
        let both: Vec<Key> = SERVER_KEYS.iter().chain(HTTP_ONLY_KEYS).copied().collect();
        assert_eq!(HTTP_SERVER_KEYS, both.as_slice());
        for key in HTTP_ONLY_KEYS {
            assert_eq!(find(SERVER_KEYS, key.name), None, "{}", key.name);
        }
    }

    #[test]
    fn http_suggestions() {
        assert_eq!(suggestion(HTTP_SERVER_KEYS, "xheader"), Some(XHEADERS));
        assert_eq!(
            suggestion(HTTP_SERVER_KEYS, "trusted_proxies"),
            Some(TRUSTED_DOWNSTREAM)
        );
        assert_eq!(
            suggestion(HTTP_SERVER_KEYS, "max_body"),
            Some(MAX_BODY_SIZE)
        );
        assert_eq!(
            suggestion(HTTP_SERVER_KEYS, "body_limit"),
            Some(MAX_BODY_SIZE)
        );
        // An alias whose key the attribute lacks suggests nothing.
        assert_eq!(suggestion(SERVER_KEYS, "scheme"), None);
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
        assert_eq!(http_only("port"), None);
        assert_eq!(http_only("colour"), None);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("port", "port"), 0);
        assert_eq!(edit_distance("prot", "port"), 2);
        assert_eq!(edit_distance("ports", "port"), 1);
        assert_eq!(edit_distance("", "tls"), 3);
    }
}
