//! The one table of options: every attribute key and every command-line flag of a
//! generated binary, with how its value is written.
//!
//! The attribute macros derive their keys, their value checks and their expansion from
//! [`KEYS`]; the runtime derives its flags, their parsing and `--help` from it. A group of
//! the runtime (bind, server, TLS, process, HTTP) owns each option's default, its builder
//! setter and how a parsed value applies to it.

use std::fmt;

/// Names an option, so that code can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Id {
    /// `port`
    Port,
    /// `address`
    Address,
    /// `family`
    Family,
    /// `backlog`
    Backlog,
    /// `reuse_port`
    ReusePort,
    /// `unix`
    Unix,
    /// `unix_mode`
    UnixMode,
    /// `processes`
    Processes,
    /// `max_restarts`
    MaxRestarts,
    /// `tls`
    Tls,
    /// `tls(pem)`
    TlsPem,
    /// `tls(cert)`
    TlsCert,
    /// `tls(key)`
    TlsKey,
    /// `tls(client_ca)`
    TlsClientCa,
    /// `tls(alpn)`
    TlsAlpn,
    /// `tls(sni)`
    TlsSni,
    /// `max_buffer_size`
    MaxBufferSize,
    /// `read_chunk_size`
    ReadChunkSize,
    /// `max_connections`
    MaxConnections,
    /// `idle_timeout`
    IdleTimeout,
    /// `handshake_timeout`
    HandshakeTimeout,
    /// `max_handshakes`
    MaxHandshakes,
    /// `shutdown_timeout`
    ShutdownTimeout,
    /// `drain_delay`
    DrainDelay,
    /// `upgrade_timeout`
    UpgradeTimeout,
    /// `pid_file`
    PidFile,
    /// `runtime`
    Runtime,
    /// `worker_threads`
    WorkerThreads,
    /// `crate`
    Crate,
    /// `state`
    State,
    /// `on_shutdown`
    OnShutdown,
    /// `codec`
    Codec,
    /// `args`
    Args,
    /// `proxy_protocol`
    ProxyProtocol,
    /// `proxy_trusted`
    ProxyTrusted,
    /// `proxy_timeout`
    ProxyTimeout,
    /// `no_keep_alive`
    NoKeepAlive,
    /// `xheaders`
    Xheaders,
    /// `trusted_downstream`
    TrustedDownstream,
    /// `protocol`
    Protocol,
    /// `decompress_request`
    DecompressRequest,
    /// `chunk_size`
    ChunkSize,
    /// `max_header_size`
    MaxHeaderSize,
    /// `idle_connection_timeout`
    IdleConnectionTimeout,
    /// `body_timeout`
    BodyTimeout,
    /// `max_body_size`
    MaxBodySize,
    /// `admin_address`
    AdminAddress,
}

/// The part of the server an option configures: one builder of the runtime each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Where to listen: port, address, family, backlog, `SO_REUSEPORT`, a Unix socket.
    Bind,
    /// The `TcpServer` and its streams: buffers, connection cap, TLS handshakes.
    Server,
    /// TLS certificates, client CAs, ALPN, SNI.
    Tls,
    /// Processes and runtimes: workers, restarts, runtime flavour, shutdown deadline.
    Process,
    /// The PROXY protocol header in front of each connection.
    Proxy,
    /// The admin listener: liveness, readiness and metrics for the operator.
    Admin,
    /// Tornado's `HTTPServer` options (`#[http_server]` only).
    Http,
    /// The application: its state, created in every process that serves, and the hook
    /// that gets it back at shutdown. Attribute keys naming Rust functions: no flag.
    App,
    /// The attribute itself (`crate`): no flag.
    Attribute,
}

/// How a value is written. The attribute takes the same text forms as the flag, plus
/// Rust literals (integers, booleans, arrays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number from `min` to `max`; `what` describes the range in messages.
    Integer {
        /// The smallest value.
        min: u64,
        /// The largest value.
        max: u64,
        /// The range in words, for messages.
        what: &'static str,
    },
    /// A byte count, at least 1 byte: a number, or a string with a unit (`"64KiB"`).
    Size,
    /// A duration: seconds (`30`, `1.5`), or a string with a unit (`"500ms"`, `"2m"`).
    Duration(Zero),
    /// `true` or `false`; a flag alone means `true`.
    Bool,
    /// Free text, such as an address or host name.
    Text,
    /// An IP address and a port: `127.0.0.1:9100`, `[::1]:9100`.
    SocketAddress,
    /// A file path.
    File,
    /// File permission bits, written in octal (a Unix socket's mode): `0o660` in the
    /// attribute, `660`, `0660` or `0o660` on the command line; at most `0o777`.
    Mode,
    /// One of a few words.
    Choice(&'static [Choice]),
    /// IP addresses: an array in the attribute, comma-separated on the command line.
    IpList,
    /// IP networks (`10.0.0.0/8`; a single address is a network of one): an array in the
    /// attribute, comma-separated or repeated on the command line.
    Networks,
    /// ALPN protocol names, 1 to 255 bytes each, in order of preference.
    Protocols,
    /// Certificates chosen by SNI name: `(name, pem)` or `(name, cert, key)`.
    SniCertificates,
    /// A Rust path written as a string (the attribute's `crate`).
    Path,
    /// A Rust function, named by its path as code, not a string (`state = db::connect`).
    Function,
    /// A Rust expression, as code (`codec = LinesCodec::new()`).
    Expression,
    /// A Rust type, named by its path as code (`args = Args`).
    Type,
    /// A list of sub-keys (the attribute's `tls(...)`), or one string for its first
    /// sub-key.
    Section,
}

/// What a zero duration means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// Zero is an ordinary value.
    Valid,
    /// Zero is refused everywhere; the text says why.
    Refused(&'static str),
    /// Zero on the command line sets the option back to its unset meaning (so that a
    /// compiled-in limit can be lifted); the attribute refuses it, since leaving the key
    /// out says the same. The text says what to do instead in the attribute.
    Unsets(&'static str),
}

/// One accepted word of a [`Kind::Choice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The word as the attribute writes it first.
    pub name: &'static str,
    /// The word as the command line writes it (and `--help` lists it).
    pub flag: &'static str,
    /// The value, as a path below the runtime crate's root.
    pub variant: &'static str,
}

impl Choice {
    /// True if `word` is one of this choice's spellings.
    pub fn matches(&self, word: &str) -> bool {
        word == self.name || word == self.flag
    }
}

/// One option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Which option this is.
    pub id: Id,
    /// The attribute key.
    pub name: &'static str,
    /// The command-line flag, without its dashes; `None` for attribute-only keys.
    pub flag: Option<&'static str>,
    /// The section this key is written in (`tls(...)`), if any.
    pub within: Option<Id>,
    /// The group of the runtime that the option configures.
    pub group: Group,
    /// How its value is written.
    pub kind: Kind,
    /// The cargo feature of `tcpserver` the option needs.
    pub feature: Option<&'static str>,
    /// A correct use, quoted in messages as what to write instead.
    pub example: &'static str,
    /// The `--help` line.
    pub help: &'static str,
    /// What the option means while unset, for `--help` (`None`: it always has a value).
    pub unset: Option<&'static str>,
    /// Names people reach for from other servers (Tornado, tokio, nginx).
    pub aliases: &'static [&'static str],
}

impl Key {
    /// The value's placeholder in `--help`: `<BYTES>`, `<SECS>`, ...
    pub fn value_name(&self) -> &'static str {
        match (self.id, self.kind) {
            (Id::Port, _) => "PORT",
            (Id::Address, _) => "ADDR",
            (Id::TlsPem, _) => "PEM",
            (Id::Unix, _) => "PATH",
            (_, Kind::Integer { .. }) => "N",
            (_, Kind::Size) => "BYTES",
            (_, Kind::Duration(_)) => "SECS",
            (_, Kind::Bool) => "BOOL",
            (
                _,
                Kind::Text
                | Kind::Path
                | Kind::Section
                | Kind::Function
                | Kind::Expression
                | Kind::Type,
            ) => "TEXT",
            (_, Kind::File) => "FILE",
            (_, Kind::Mode) => "MODE",
            (_, Kind::SocketAddress) => "ADDR:PORT",
            (_, Kind::Choice(_)) => "WORD",
            (_, Kind::IpList) => "IP,IP",
            (_, Kind::Networks) => "CIDR",
            (_, Kind::Protocols) => "PROTO,PROTO",
            (_, Kind::SniCertificates) => "NAME=PEM",
        }
    }

    /// True for keys the command line may give more than once (each adds to the list).
    pub fn repeats(&self) -> bool {
        matches!(self.kind, Kind::SniCertificates | Kind::Networks)
    }

    /// The environment variable that sets this option when its flag is not given:
    /// [`ENV_PREFIX`] and the flag in upper case, `_` for `-` (`--max-connections` is
    /// `TCPSERVER_MAX_CONNECTIONS`); `None` for attribute-only keys.
    pub fn env_var(&self) -> Option<String> {
        let flag = self.flag?;
        Some(format!(
            "{ENV_PREFIX}{}",
            flag.to_ascii_uppercase().replace('-', "_")
        ))
    }
}

/// What every option's environment variable starts with ([`Key::env_var`]).
pub const ENV_PREFIX: &str = "TCPSERVER_";

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(key(*self).name)
    }
}

const fn count(what: &'static str) -> Kind {
    Kind::Integer {
        min: 0,
        max: u32::MAX as u64,
        what,
    }
}

/// Counts and sizes become `usize` in the generated code; capping them at `u32::MAX` keeps
/// an option meaning the same on every target.
pub const MAX_COUNT: u64 = u32::MAX as u64;

const FAMILIES: &[Choice] = &[
    Choice {
        name: "unspec",
        flag: "unspec",
        variant: "netutil::Family::Unspec",
    },
    Choice {
        name: "ipv4",
        flag: "ipv4",
        variant: "netutil::Family::V4",
    },
    Choice {
        name: "ipv6",
        flag: "ipv6",
        variant: "netutil::Family::V6",
    },
];

const RUNTIMES: &[Choice] = &[
    Choice {
        name: "multi_thread",
        flag: "multi-thread",
        variant: "launch::RuntimeFlavor::MultiThread",
    },
    Choice {
        name: "current_thread",
        flag: "current-thread",
        variant: "launch::RuntimeFlavor::CurrentThread",
    },
];

const PROXY_VERSIONS: &[Choice] = &[
    Choice {
        name: "v1",
        flag: "v1",
        variant: "proxy::Version::V1",
    },
    Choice {
        name: "v2",
        flag: "v2",
        variant: "proxy::Version::V2",
    },
    Choice {
        name: "any",
        flag: "any",
        variant: "proxy::Version::Any",
    },
];

const PROTOCOLS: &[Choice] = &[
    Choice {
        name: "http",
        flag: "http",
        variant: "httpserver::Protocol::Http",
    },
    Choice {
        name: "https",
        flag: "https",
        variant: "httpserver::Protocol::Https",
    },
];

/// A table row with the fields most rows leave at their default.
const fn row(
    id: Id,
    name: &'static str,
    flag: &'static str,
    group: Group,
    kind: Kind,
    example: &'static str,
    help: &'static str,
) -> Key {
    Key {
        id,
        name,
        flag: Some(flag),
        within: None,
        group,
        kind,
        feature: match group {
            Group::Tls => Some("tls"),
            Group::Proxy => Some("proxy"),
            Group::Http => Some("http"),
            _ => None,
        },
        example,
        help,
        unset: None,
        aliases: &[],
    }
}

impl Key {
    const fn unset(mut self, meaning: &'static str) -> Self {
        self.unset = Some(meaning);
        self
    }

    const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    const fn within(mut self, section: Id) -> Self {
        self.within = Some(section);
        self
    }

    const fn feature(mut self, feature: &'static str) -> Self {
        self.feature = Some(feature);
        self
    }

    const fn no_flag(mut self) -> Self {
        self.flag = None;
        self
    }
}

/// Every option, in the order the documentation and `--help` list them.
pub static KEYS: &[Key] = &[
    row(
        Id::Port,
        "port",
        "port",
        Group::Bind,
        Kind::Integer {
            min: 0,
            max: u16::MAX as u64,
            what: "a port number from 0 to 65535 (0 picks a free port)",
        },
        "port = 8888",
        "TCP port to listen on (0: a free port, logged at start-up)",
    )
    .unset("none: only the Unix socket"),
    row(
        Id::Address,
        "address",
        "address",
        Group::Bind,
        Kind::Text,
        r#"address = "127.0.0.1""#,
        "Address or host name to bind; every address it resolves to is bound",
    )
    .unset("all interfaces")
    .aliases(&["host", "addr", "bind"]),
    row(
        Id::Family,
        "family",
        "family",
        Group::Bind,
        Kind::Choice(FAMILIES),
        r#"family = "ipv4""#,
        "Address families to bind",
    ),
    row(
        Id::Backlog,
        "backlog",
        "backlog",
        Group::Bind,
        Kind::Integer {
            min: 0,
            max: u32::MAX as u64,
            what: "a listen backlog from 0 to 4294967295",
        },
        "backlog = 1024",
        "Listen backlog",
    ),
    row(
        Id::ReusePort,
        "reuse_port",
        "reuse-port",
        Group::Bind,
        Kind::Bool,
        "reuse_port = true",
        "Set SO_REUSEPORT; with several processes each worker binds its own socket",
    ),
    row(
        Id::Unix,
        "unix",
        "unix",
        Group::Bind,
        Kind::File,
        r#"unix = "/run/app.sock""#,
        "Also listen on a Unix socket at this path (a stale socket file there is replaced; @NAME is a Linux abstract socket)",
    )
    .unset("none")
    .aliases(&["unix_socket", "socket", "uds", "unix_path", "bind_unix_socket"]),
    row(
        Id::UnixMode,
        "unix_mode",
        "unix-mode",
        Group::Bind,
        Kind::Mode,
        "unix_mode = 0o660",
        "Permissions of the Unix socket file, in octal",
    )
    .aliases(&["mode", "socket_mode", "unix_permissions"]),
    row(
        Id::Processes,
        "processes",
        "processes",
        Group::Process,
        count("a number of processes (0: one per CPU)"),
        "processes = 4",
        "Worker processes (0: one per CPU available to this process)",
    )
    .aliases(&["num_processes", "workers"]),
    row(
        Id::MaxRestarts,
        "max_restarts",
        "max-restarts",
        Group::Process,
        count("a number of restarts"),
        "max_restarts = 100",
        "Worker restarts allowed before the supervisor gives up",
    ),
    row(
        Id::Tls,
        "tls",
        "tls",
        Group::Tls,
        Kind::Section,
        r#"tls = "server.pem""#,
        "TLS certificate files",
    )
    .no_flag()
    .unset("plain TCP")
    .aliases(&["ssl", "ssl_options", "certfile"]),
    row(
        Id::TlsPem,
        "pem",
        "tls",
        Group::Tls,
        Kind::File,
        r#"tls(pem = "server.pem")"#,
        "One PEM file holding the certificate chain and the private key",
    )
    .within(Id::Tls),
    row(
        Id::TlsCert,
        "cert",
        "tls-cert",
        Group::Tls,
        Kind::File,
        r#"tls(cert = "cert.pem", key = "key.pem")"#,
        "TLS certificate chain (PEM); needs --tls-key",
    )
    .within(Id::Tls),
    row(
        Id::TlsKey,
        "key",
        "tls-key",
        Group::Tls,
        Kind::File,
        r#"tls(cert = "cert.pem", key = "key.pem")"#,
        "TLS private key (PEM); needs --tls-cert",
    )
    .within(Id::Tls),
    row(
        Id::TlsClientCa,
        "client_ca",
        "tls-client-ca",
        Group::Tls,
        Kind::File,
        r#"tls(cert = "cert.pem", key = "key.pem", client_ca = "ca.pem")"#,
        "Require client certificates signed by these CAs (PEM)",
    )
    .within(Id::Tls),
    row(
        Id::TlsAlpn,
        "alpn",
        "tls-alpn",
        Group::Tls,
        Kind::Protocols,
        r#"tls(pem = "server.pem", alpn = ["h2", "http/1.1"])"#,
        "Application protocols offered through ALPN, in order of preference",
    )
    .within(Id::Tls)
    .unset("none"),
    row(
        Id::TlsSni,
        "sni",
        "tls-sni",
        Group::Tls,
        Kind::SniCertificates,
        r#"tls(pem = "server.pem", sni = [("api.example.com", "api.pem")])"#,
        "The certificate for clients asking for NAME through SNI, as NAME=PEM or NAME=CERT,KEY; repeat for more names",
    )
    .within(Id::Tls)
    .unset("none"),
    row(
        Id::MaxBufferSize,
        "max_buffer_size",
        "max-buffer-size",
        Group::Server,
        Kind::Size,
        r#"max_buffer_size = "1MiB""#,
        "Largest read buffer per connection (suffixes k, KiB, M, MiB, G, GiB)",
    ),
    row(
        Id::ReadChunkSize,
        "read_chunk_size",
        "read-chunk-size",
        Group::Server,
        Kind::Size,
        r#"read_chunk_size = "64KiB""#,
        "Bytes asked for by each socket read (at most half of --max-buffer-size)",
    ),
    row(
        Id::MaxConnections,
        "max_connections",
        "max-connections",
        Group::Server,
        count("a number of connections (0: no limit)"),
        "max_connections = 10000",
        "Connections served at once per process (0: no limit)",
    )
    .aliases(&["connections"]),
    row(
        Id::IdleTimeout,
        "idle_timeout",
        "idle-timeout",
        Group::Server,
        Kind::Duration(Zero::Unsets(
            "leave `idle_timeout` out: connections never time out by default",
        )),
        r#"idle_timeout = "60s""#,
        "Close a connection that has neither read nor written for this long (slow or silent clients)",
    )
    .unset("off")
    .aliases(&["idle", "read_timeout", "connection_timeout", "client_timeout"]),
    row(
        Id::HandshakeTimeout,
        "handshake_timeout",
        "handshake-timeout",
        Group::Server,
        Kind::Duration(Zero::Refused(
            "a TLS client needs some time for its handshake",
        )),
        r#"handshake_timeout = "10s""#,
        "How long a TLS client has to complete its handshake, from its accept",
    )
    .feature("tls")
    .aliases(&["tls_timeout", "ssl_timeout"]),
    row(
        Id::MaxHandshakes,
        "max_handshakes",
        "max-handshakes",
        Group::Server,
        count("a number of TLS handshakes (0: no cap)"),
        "max_handshakes = 256",
        "TLS handshakes in progress at once per process (0: no cap)",
    )
    .feature("tls"),
    row(
        Id::ShutdownTimeout,
        "shutdown_timeout",
        "shutdown-timeout",
        Group::Process,
        Kind::Duration(Zero::Valid),
        r#"shutdown_timeout = "30s""#,
        "On SIGTERM/SIGINT, how long in-flight connections may take to finish (e.g. 30, 1.5, 500ms)",
    )
    .aliases(&["timeout"]),
    row(
        Id::DrainDelay,
        "drain_delay",
        "drain-delay",
        Group::Process,
        Kind::Duration(Zero::Valid),
        r#"drain_delay = "10s""#,
        "On SIGTERM, how long to keep accepting, reported not ready, before the shutdown (rolling updates)",
    )
    .aliases(&["drain", "drain_timeout", "pre_stop_delay"]),
    row(
        Id::UpgradeTimeout,
        "upgrade_timeout",
        "upgrade-timeout",
        Group::Process,
        Kind::Duration(Zero::Refused(
            "the new binary needs some time to start",
        )),
        r#"upgrade_timeout = "30s""#,
        "On SIGUSR2 (upgrade), how long the new binary has to serve before it is killed and the old one serves on",
    )
    .aliases(&["upgrade_deadline", "ready_timeout", "startup_timeout"]),
    row(
        Id::PidFile,
        "pid_file",
        "pid-file",
        Group::Process,
        Kind::File,
        r#"pid_file = "/run/app.pid""#,
        "Write the main process's pid here once it serves (kept current across upgrades)",
    )
    .unset("none")
    .aliases(&["pidfile", "pid"]),
    row(
        Id::Runtime,
        "runtime",
        "runtime",
        Group::Process,
        Kind::Choice(RUNTIMES),
        r#"runtime = "multi_thread""#,
        "Tokio runtime of each process",
    )
    .unset("multi-thread with one process, current-thread per worker (multi-thread when --worker-threads is given)")
    .aliases(&["flavor"]),
    row(
        Id::WorkerThreads,
        "worker_threads",
        "worker-threads",
        Group::Process,
        Kind::Integer {
            min: 1,
            max: u32::MAX as u64,
            what: "a number of threads, at least 1",
        },
        "worker_threads = 4",
        "Threads of a multi-thread runtime",
    )
    .unset("one thread per CPU")
    .aliases(&["threads", "core_threads"]),
    row(
        Id::AdminAddress,
        "admin_address",
        "admin-address",
        Group::Admin,
        Kind::SocketAddress,
        r#"admin_address = "127.0.0.1:9100""#,
        "Serve GET /livez, /readyz and /metrics (Prometheus) on this address, apart from the application's port",
    )
    .unset("off")
    .aliases(&["admin", "admin_port", "metrics_address", "metrics", "health_address"]),
    row(
        Id::ProxyProtocol,
        "proxy_protocol",
        "proxy-protocol",
        Group::Proxy,
        Kind::Choice(PROXY_VERSIONS),
        r#"proxy_protocol = "v2""#,
        "Require a PROXY protocol header (from a load balancer) on every connection: v1, v2 or any",
    )
    .unset("off")
    .aliases(&["proxy", "proxy_protocol_version", "accept_proxy"]),
    row(
        Id::ProxyTrusted,
        "proxy_trusted",
        "proxy-trusted",
        Group::Proxy,
        Kind::Networks,
        r#"proxy_trusted = ["10.0.0.0/8", "::1/128"]"#,
        "Networks allowed to send PROXY headers; others are closed (repeat, or separate with commas)",
    )
    .unset("loopback and private networks")
    .aliases(&["proxy_trusted_networks", "trusted_networks", "proxy_networks"]),
    row(
        Id::ProxyTimeout,
        "proxy_timeout",
        "proxy-timeout",
        Group::Proxy,
        Kind::Duration(Zero::Refused("a client needs some time to send its PROXY header")),
        r#"proxy_timeout = "5s""#,
        "How long a client has, from its accept, to send its whole PROXY header",
    ),
    row(
        Id::State,
        "state",
        "state",
        Group::App,
        Kind::Function,
        "state = connect",
        "A function (`fn() -> Result<State, E>`, or async) run once in every process that serves, \
         after the fork and before it accepts; the handler takes its state as a third argument, \
         `&State` or `Arc<State>`",
    )
    .no_flag()
    .aliases(&["init", "app_state", "setup", "data"]),
    row(
        Id::OnShutdown,
        "on_shutdown",
        "on-shutdown",
        Group::App,
        Kind::Function,
        "on_shutdown = close",
        "An async function given the state (`Arc<State>`) in every process once its connections \
         are done, before it exits",
    )
    .no_flag()
    .aliases(&["shutdown", "on_stop", "teardown", "at_exit"]),
    row(
        Id::Codec,
        "codec",
        "codec",
        Group::App,
        Kind::Expression,
        "codec = LinesCodec::new()",
        "A tokio-util codec (`Decoder + Encoder`), made for each connection: the handler answers \
         one decoded request at a time, `async fn(request, &mut Context) -> Option<Response>`",
    )
    .no_flag()
    .feature("codec")
    .aliases(&["framing", "framed", "decoder", "protocol_codec"]),
    row(
        Id::Args,
        "args",
        "args",
        Group::App,
        Kind::Type,
        "args = Args",
        "A `clap::Args` type: the application's own flags, beside tcpserver's in `--help`, each also \
         from its environment variable; `state`'s function receives the parsed value",
    )
    .no_flag()
    .feature("args")
    .aliases(&["flags", "cli", "options", "app_args"]),
    row(
        Id::Crate,
        "crate",
        "crate",
        Group::Attribute,
        Kind::Path,
        r#"crate = "tcpserver""#,
        "The path of the tcpserver crate",
    )
    .no_flag(),
    row(
        Id::NoKeepAlive,
        "no_keep_alive",
        "no-keep-alive",
        Group::Http,
        Kind::Bool,
        "no_keep_alive = true",
        "HTTP: close the connection after every response",
    ),
    row(
        Id::Xheaders,
        "xheaders",
        "xheaders",
        Group::Http,
        Kind::Bool,
        "xheaders = true",
        "HTTP: take the client address and scheme from X-Real-Ip/X-Forwarded-For and X-Scheme/X-Forwarded-Proto (behind a proxy only)",
    ),
    row(
        Id::TrustedDownstream,
        "trusted_downstream",
        "trusted-downstream",
        Group::Http,
        Kind::IpList,
        r#"trusted_downstream = ["10.0.0.1", "::1"]"#,
        "With --xheaders: proxy addresses skipped in X-Forwarded-For",
    )
    .unset("none")
    .aliases(&["trusted_proxies", "trusted_proxy"]),
    row(
        Id::Protocol,
        "protocol",
        "protocol",
        Group::Http,
        Kind::Choice(PROTOCOLS),
        r#"protocol = "https""#,
        "HTTP: the protocol requests are said to arrive over",
    )
    .unset("https over TLS, else http")
    .aliases(&["scheme"]),
    row(
        Id::DecompressRequest,
        "decompress_request",
        "decompress-request",
        Group::Http,
        Kind::Bool,
        "decompress_request = true",
        "HTTP: inflate request bodies sent with Content-Encoding: gzip",
    )
    .aliases(&["gzip", "decompress"]),
    row(
        Id::ChunkSize,
        "chunk_size",
        "chunk-size",
        Group::Http,
        Kind::Size,
        r#"chunk_size = "64KiB""#,
        "HTTP: largest piece of request body handed over at once",
    ),
    row(
        Id::MaxHeaderSize,
        "max_header_size",
        "max-header-size",
        Group::Http,
        Kind::Size,
        r#"max_header_size = "16KiB""#,
        "HTTP: largest request head (answered 431 past it)",
    ),
    row(
        Id::IdleConnectionTimeout,
        "idle_connection_timeout",
        "idle-connection-timeout",
        Group::Http,
        Kind::Duration(Zero::Unsets(
            "leave the key out for the default, one hour",
        )),
        r#"idle_connection_timeout = "75s""#,
        "HTTP: how long a connection may wait for a complete request head (0: the default)",
    )
    .aliases(&["keep_alive_timeout", "header_timeout"]),
    row(
        Id::BodyTimeout,
        "body_timeout",
        "body-timeout",
        Group::Http,
        Kind::Duration(Zero::Unsets("leave the key out for no limit")),
        r#"body_timeout = "30s""#,
        "HTTP: how long reading one request body may take (0: no limit)",
    )
    .unset("no limit"),
    row(
        Id::MaxBodySize,
        "max_body_size",
        "max-body-size",
        Group::Http,
        Kind::Size,
        r#"max_body_size = "10MiB""#,
        "HTTP: largest request body (answered 413 past it)",
    )
    .unset("--max-buffer-size")
    .aliases(&["max_body", "max_request_size", "body_limit"]),
];

/// The optional parts (cargo features) a build of `tcpserver` has: the macro crate and the
/// runtime crate each fill it from their own `cfg!(feature = ..)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// The `tls` feature.
    pub tls: bool,
    /// The `http` feature.
    pub http: bool,
    /// The `proxy` feature.
    pub proxy: bool,
    /// The `codec` feature.
    pub codec: bool,
    /// The `args` feature.
    pub args: bool,
}

impl Features {
    /// True if the build has `feature`, the name in a [`Key::feature`].
    pub fn has(self, feature: &str) -> bool {
        match feature {
            "tls" => self.tls,
            "http" => self.http,
            "proxy" => self.proxy,
            "codec" => self.codec,
            "args" => self.args,
            _ => true,
        }
    }
}

/// The row of `id`.
pub fn key(id: Id) -> &'static Key {
    KEYS.iter()
        .find(|k| k.id == id)
        .unwrap_or_else(|| unreachable!("every Id has a row in KEYS"))
}

/// The top-level keys of `group`s, in table order (`tls(...)`'s sub-keys excluded).
pub fn top_level(groups: &[Group]) -> impl Iterator<Item = &'static Key> + Clone + '_ {
    KEYS.iter()
        .filter(move |k| k.within.is_none() && groups.contains(&k.group))
}

/// The keys written inside `section`.
pub fn within(section: Id) -> impl Iterator<Item = &'static Key> + Clone {
    KEYS.iter().filter(move |k| k.within == Some(section))
}

/// The keys that have a command-line flag, in `--help` order.
pub fn flags() -> impl Iterator<Item = &'static Key> + Clone {
    KEYS.iter().filter(|k| k.flag.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_has_one_row() {
        for (i, a) in KEYS.iter().enumerate() {
            assert_eq!(key(a.id), a);
            for b in &KEYS[i + 1..] {
                assert_ne!(a.id, b.id);
                assert!(
                    a.within != b.within || a.name != b.name,
                    "`{}` twice",
                    a.name
                );
                if a.flag.is_some() {
                    assert_ne!(a.flag, b.flag, "--{:?} twice", a.flag);
                }
            }
        }
    }

    #[test]
    fn flags_are_the_keys_in_kebab_case() {
        for k in flags() {
            let expected = match k.within {
                Some(section) if k.id == Id::TlsPem => key(section).name.to_owned(),
                Some(section) => format!("{}-{}", key(section).name, k.name.replace('_', "-")),
                None => k.name.replace('_', "-"),
            };
            assert_eq!(k.flag, Some(expected.as_str()), "{}", k.name);
        }
    }

    #[test]
    fn examples_use_their_key() {
        for k in KEYS {
            assert!(k.example.contains(k.name), "{}: {}", k.name, k.example);
        }
    }

    #[test]
    fn aliases_name_no_key_and_one_key_each() {
        for k in KEYS {
            for alias in k.aliases {
                assert!(KEYS.iter().all(|other| other.name != *alias), "{alias}");
                let owners = KEYS.iter().filter(|o| o.aliases.contains(alias)).count();
                assert_eq!(owners, 1, "{alias}");
            }
        }
    }
}
