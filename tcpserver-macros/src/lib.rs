//! The `#[tcp_server]` and `#[http_server]` attributes of `tcpserver`: one attribute on one
//! async function generates a whole server binary.
//!
//! Use them through the runtime crate, as [`tcpserver::tcp_server`](macro@tcp_server) and
//! [`tcpserver::http_server`](macro@http_server); this crate only generates code. Like
//! tokio-macros it is built in three steps on `proc_macro2` tokens, each in its own module
//! and unit-tested there: `parse` (syntax only), `validate` (typed values that remember
//! where they were written, then checks across keys), `expand` (the handler as written,
//! plus a `main` that calls `tcpserver::Launcher`). The two attributes share all three;
//! `kind` holds what differs (the keys, the handler's signature). The keys, how each value
//! is written and the checks across keys come from the option table that the runtime
//! turns into command-line flags (`tcpserver-options`), so the two cannot drift apart.
//! Everything the generated code does is a call to the runtime crate's public API; no
//! server logic lives here.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

mod entry;
mod expand;
#[cfg(test)]
mod fuzz;
mod keys;
mod kind;
mod parse;
mod validate;

use proc_macro::TokenStream;

use kind::Kind;

/// Turns an async connection handler into a whole server binary.
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tcpserver::{tcp_server, IoStream};
///
/// /// A line echo server.
/// #[tcp_server(port = 8888)]
/// async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     loop {
///         let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
///         stream.write(&line).await?;
///     }
/// }
/// ```
///
/// The attribute goes at the crate root of a binary (`src/main.rs`, `src/bin/*.rs`,
/// `examples/*.rs`) in place of `fn main`, which it generates. The program then:
/// parses command-line overrides (`--port 0`, `--processes 4`, ...; `--help` lists them
/// with the compiled-in defaults), each of which can also come from its environment
/// variable (`TCPSERVER_PORT`, `TCPSERVER_PROCESSES`: `TCPSERVER_` and the flag in upper
/// snake case; a flag wins over the environment, which wins over the key); installs logging (`RUST_LOG`, default `info`, to
/// stderr); binds the listening sockets and logs `listening on ADDR` for each; forks
/// worker processes when `processes != 1`; builds one tokio runtime per process after the
/// fork; serves every connection with the handler; and on SIGTERM or SIGINT stops
/// accepting, lets connections finish for up to `shutdown_timeout`, and exits 0. A
/// start-up failure prints one line naming the cause and exits 1; a bad flag exits 2.
///
/// # The handler
///
/// `async fn name(stream: IoStream, addr: SocketAddr)`, returning `()` or
/// `Result<(), E>` for any error type `E` that implements `Display` (for instance
/// `tcpserver::Result<()>`, `std::io::Result<()>`). The server calls it once per
/// connection, with the connection and the peer's address; an `Err` or a panic is logged
/// with the peer's address and never stops the server. With `state = init` it takes a
/// third argument, the application's state, `&State` or `Arc<State>` ([State](#state)).
///
/// The function keeps its name, its visibility, its attributes and its body, so it can be
/// called from unit tests (it returns a future, as before) and lints see it as written.
/// One thing changes: an `async fn` becomes a `fn` returning `impl Future` whose
/// `async move` block holds each argument once, where an `async fn`'s future holds two
/// copies (rust-lang/rust#62958): a second `IoStream` and address in every connection,
/// 224 bytes. (Handlers with borrowed or pattern arguments, or generics, are kept as
/// written.) The first paragraph of its doc comment becomes the program's description in
/// `--help`.
///
/// The argument types are checked by the last segment of their path (`IoStream`,
/// `tcpserver::IoStream`, `SocketAddr`, `std::net::SocketAddr`) and the return type by
/// its shape, so a type alias for either is rejected: name the types.
///
/// # Keys
///
/// Every key is optional except `port` (or `unix`, for a server on a Unix socket alone),
/// and every key can be overridden when the program starts with the flag in the last
/// column (or its environment variable, `TCPSERVER_UPPER_SNAKE_FLAG`). A key left out
/// keeps the runtime's default.
///
/// | key | value | default | flag |
/// |---|---|---|---|
/// | `port` | integer, 0 to 65535; 0 picks a free port | required, unless `unix` is given (then `--port` adds a TCP port) | `--port` |
/// | `address` | string: an IP address or a host name (every address it resolves to is bound) | all interfaces | `--address` |
/// | `family` | `"unspec"`, `"ipv4"` or `"ipv6"` | `"unspec"` | `--family` |
/// | `backlog` | integer (of the Unix socket too) | 128 | `--backlog` |
/// | `reuse_port` | `true` or `false`: `SO_REUSEPORT`; with several processes, one socket per worker | `false` | `--reuse-port` |
/// | `unix` | string, a path: listen on a Unix socket there too (Tornado's `bind_unix_socket`: a stale socket file is replaced, any other file is a start-up error); `"@name"` or `"\0name"` is a Linux abstract socket; every worker serves it, and an upgrade hands it over; the handler sees its peers at `0.0.0.0:0` | none | `--unix` |
/// | `unix_mode` | integer written in octal (`0o660`), or a string (`"0660"`): the permissions of the Unix socket's file | `0o600` (the owner only) | `--unix-mode` |
/// | `processes` | integer; 0 means one per CPU | 1 (no fork) | `--processes` |
/// | `max_restarts` | integer: worker crashes the supervisor tolerates | 100 | `--max-restarts` |
/// | `tls` | `"chain-and-key.pem"`, or `tls(cert = "..", key = "..", client_ca = "..", alpn = [..], sni = [..])` (below) | plain TCP | `--tls`, `--tls-cert`, `--tls-key`, `--tls-client-ca`, `--tls-alpn`, `--tls-sni` |
/// | `max_buffer_size` | bytes: integer, or string with a unit (`"64KiB"`, `"1MiB"`, `"2G"`) | 100 MiB | `--max-buffer-size` |
/// | `read_chunk_size` | bytes, as `max_buffer_size`; at most half of it | 64 KiB | `--read-chunk-size` |
/// | `max_connections` | integer: connections served at once per process; 0 means no limit | 0 | `--max-connections` |
/// | `idle_timeout` | duration, above 0: close a connection that has neither read nor written for this long (silent or slow clients; `--idle-timeout 0` turns a compiled-in one off) | off | `--idle-timeout` |
/// | `handshake_timeout` | duration, above 0: how long a TLS client has to complete its handshake, from its accept | 10 s | `--handshake-timeout` |
/// | `max_handshakes` | integer: TLS handshakes in progress at once per process; 0 means no cap | 256 | `--max-handshakes` |
/// | `shutdown_timeout` | seconds (`30`, `1.5`) or string with a unit (`"500ms"`, `"30s"`, `"2m"`) | 30 s | `--shutdown-timeout` |
/// | `drain_delay` | duration: after SIGTERM, how long to keep accepting (reported not ready) before the shutdown, for rolling updates behind a load balancer | 0 | `--drain-delay` |
/// | `upgrade_timeout` | duration, above 0: on SIGUSR2 (upgrade to the binary at the same path, sockets handed over), how long the new binary has to serve before it is killed and this one serves on | 30 s | `--upgrade-timeout` |
/// | `pid_file` | string, a path: write the main process's pid there once it serves; kept current across upgrades, removed at exit | none | `--pid-file` |
/// | `runtime` | `"multi_thread"` or `"current_thread"` (`"multi-thread"` and `"current-thread"` too) | multi-thread with one process, current-thread in each forked worker (unless `worker_threads` is given) | `--runtime` |
/// | `worker_threads` | integer, at least 1: threads of a multi-thread runtime | one per CPU | `--worker-threads` |
/// | `admin_address` | string, `"IP:PORT"` (`"127.0.0.1:9100"`, `"[::1]:9100"`): serve `GET /livez`, `/readyz` and `/metrics` (Prometheus, the totals of every worker) there, apart from the application's port; see `tcpserver::metrics` | off | `--admin-address` |
/// | `proxy_protocol` | `"v1"`, `"v2"` or `"any"`: require a PROXY protocol header from a load balancer on every connection; the handler's address is then the client's | off | `--proxy-protocol` |
/// | `proxy_trusted` | array of networks, `["10.0.0.0/8", "::1/128"]`: who may send that header; others are closed | loopback and private networks | `--proxy-trusted` |
/// | `proxy_timeout` | duration, above 0: how long a client has to send the whole header | 5 s | `--proxy-timeout` |
/// | `state` | a function's path, as code (`state = connect`): creates the application's state in every process that serves (below) | no state | — |
/// | `on_shutdown` | a function's path, as code: an async function given the state (`Arc<State>`) once the process's connections are done (below) | none | — |
/// | `args` | a type's path, as code (`args = Args`): a `clap::Args` type, the application's own flags (below; feature `args`) | none | — |
/// | `codec` | code that makes a tokio-util codec (`Decoder + Encoder`), `codec = LinesCodec::new_with_max_length(1024)`, evaluated for each connection: the handler answers decoded requests (below; feature `codec`) | the handler reads the stream | — |
/// | `crate` | string: the path of the `tcpserver` crate (below) | `"tcpserver"` | — |
///
/// Byte units are `B`, `k`/`KiB`, `M`/`MiB` and `G`/`GiB`, all powers of 1024, in any case.
/// Counts and sizes go up to 4294967295 so that an attribute means the same on every
/// target.
///
/// Keys are checked against each other: `worker_threads` asks for a multi-thread runtime
/// (in forked workers too, which otherwise run current-thread ones), so it is an error with
/// `runtime = "current_thread"`; `read_chunk_size` may be at most half of
/// `max_buffer_size`; `unix_mode` needs `unix`; and with `unix` but no `port`, the TCP keys
/// `address`, `family` and `reuse_port` are errors. The program checks its flags with the same rules when it starts: a
/// `--read-chunk-size` over half of `--max-buffer-size` is a usage error (exit status 2).
/// Sizes and durations have one grammar in both places, so a value moves between the
/// attribute and the command line unchanged.
///
/// ## TLS
///
/// `tls = "server.pem"` names one PEM file that holds the certificate chain and the
/// private key. The list form names the files separately, and can require client
/// certificates:
///
/// ```no_run
/// # use std::net::SocketAddr;
/// # use tcpserver::{tcp_server, IoStream};
/// #[tcp_server(port = 8443, tls(cert = "certs/chain.pem", key = "certs/key.pem", client_ca = "certs/ca.pem"))]
/// async fn hello(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     stream.write(b"hello over TLS\n").await
/// }
/// ```
///
/// Inside `tls(...)`: `pem` (chain and key in one file) or both `cert` and `key`, and
/// optionally `client_ca`; `alpn`, the application protocols offered, in order of
/// preference (`alpn = ["h2", "http/1.1"]`; flag `--tls-alpn h2,http/1.1`); and `sni`, a
/// certificate for each name clients may ask for (`sni = [("api.example.com",
/// "api.pem"), ("mail.example.com", "mail.crt", "mail.key")]`; flag `--tls-sni
/// NAME=PEM` or `--tls-sni NAME=CERT,KEY`, once per name). Relative paths are relative
/// to the working directory when the program starts; the files are read then, not at
/// compile time.
///
/// TLS needs the `tls` feature of `tcpserver` (`features = ["tls"]` in Cargo.toml), as do
/// `handshake_timeout` and `max_handshakes`, and the `proxy_*` keys need the `proxy`
/// feature; without the feature these keys are a compile error that says so.
///
/// ## Unix sockets
///
/// `unix = "/run/echo.sock"` serves a Unix socket beside the TCP port, or alone when
/// `port` is left out (`--port` then adds a TCP port at run time):
///
/// ```no_run
/// # use std::net::SocketAddr;
/// # use tcpserver::{tcp_server, IoStream};
/// #[tcp_server(unix = "/run/echo.sock", unix_mode = 0o660)]
/// async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     loop {
///         let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
///         stream.write(&line).await?;
///     }
/// }
/// ```
///
/// It is bound as Tornado's `bind_unix_socket` binds it, before the workers are forked:
/// a socket file left by an earlier run is replaced, any other file there is a start-up
/// error that names it, and the file gets `unix_mode` (in octal, as `chmod` takes it;
/// default `0o600`). Every worker serves it; an upgrade (SIGUSR2) hands it to the new
/// binary like the TCP sockets, so the file is left in place at exit for the next start
/// to replace. Sockets passed by a service manager (`LISTEN_FDS`) win over `unix` as
/// over `port`. `"@name"` names a Linux abstract socket, which has no file.
///
/// ## State
///
/// `state = init` names a function, `fn init() -> Result<State, E>` or `async fn init() ->
/// Result<State, E>` (`E` any error that converts into `Box<dyn Error + Send + Sync>`). It
/// runs once in every process that serves: in each worker after the fork (restarted ones
/// included), inside that worker's runtime, before it accepts; in the only process when
/// there is no fork. A database pool, a cache or a loaded model belongs there rather than
/// in a `static`. The handler takes the state as a further argument, `&State` or
/// `Arc<State>`; `State` must be `Send + Sync`, and the compiler reports a handler whose
/// state type differs from `init`'s on that argument. An `Err` from `init` stops that
/// process's start-up with one line naming the cause (`cannot create the application's
/// state: ...`): the only process exits with status 1; when every worker fails so, the
/// main process stops and exits 1 (a worker that fails after the server served is
/// restarted like any worker that dies). `on_shutdown = close` names an async function
/// given `Arc<State>` once the process's connections are done (after SIGTERM's drain and
/// after an upgrade's hand-over alike), before it exits.
///
/// `args = Args` (feature `args`) names a `clap::Args` type (derive it through
/// `tcpserver::clap`, so that clap's version is tcpserver's): its flags join tcpserver's on
/// the command line and in `--help`, each also read from its environment variable by the
/// same rule (`--db-url` from `TCPSERVER_DB_URL`; a flag wins over the environment, which
/// wins over the default), and `state`'s function receives the parsed value,
/// `fn init(args: Args) -> Result<State, E>` (or async). A bad value is a usage error, exit
/// status 2. `args` needs `state`.
///
/// ```no_run
/// # use std::net::SocketAddr;
/// # use std::sync::Arc;
/// # use tcpserver::{tcp_server, IoStream};
/// struct Pool;
///
/// async fn connect() -> std::io::Result<Pool> {
///     Ok(Pool)
/// }
///
/// async fn close(pool: Arc<Pool>) {
///     drop(pool);
/// }
///
/// #[tcp_server(port = 8888, processes = 0, state = connect, on_shutdown = close)]
/// async fn serve(mut stream: IoStream, _addr: SocketAddr, pool: &Pool) -> tcpserver::Result<()> {
///     let _ = pool;
///     stream.write(b"hello\n").await
/// }
/// ```
///
/// ## Codec handlers
///
/// With `codec = <expression>` (feature `codec`), the expression makes a tokio-util codec for
/// each connection, and the handler answers one decoded request at a time:
/// `async fn name(request: Request, ctx: &mut Context) -> Option<Response>` (or
/// `Result<Option<Response>, E>`), where `Request` is the codec's `Decoder::Item`, the codec
/// is an `Encoder<Response>`, and `Context` is `tcpserver::codec::Context` (the peer's
/// address; `ctx.close()` closes the connection after this answer). `None` sends no
/// answer. The generated loop reads, decodes every request already received, calls the
/// handler for each and writes the answers in one batch, so pipelined requests cost one
/// write; an answer never waits on a handler that is waiting for something else. A decoder
/// error or a handler's `Err` closes that connection only, logged with the peer's address.
/// With `state`, the state is the handler's third argument.
///
/// ```no_run
/// # use tcpserver::tcp_server;
/// use tcpserver::codec::{Context, LinesCodec};
///
/// #[tcp_server(port = 8888, codec = LinesCodec::new_with_max_length(1024))]
/// async fn shout(line: String, _ctx: &mut Context) -> Option<String> {
///     Some(line.to_uppercase())
/// }
/// ```
///
/// ## Renaming the crate
///
/// The generated code names the runtime crate `::tcpserver`. If it goes by another name
/// (a renamed dependency, or a re-export), say so with `crate`; every generated path then
/// starts with it:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tcpserver as server;
/// use server::IoStream;
///
/// #[server::tcp_server(port = 8888, crate = "server")]
/// async fn hello(mut stream: IoStream, _addr: SocketAddr) -> server::Result<()> {
///     stream.write(b"hello\n").await
/// }
/// ```
///
/// # Examples
///
/// A pre-forking server with one worker per CPU, a connection cap and a short grace
/// period on shutdown:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tcpserver::{tcp_server, IoStream};
///
/// #[tcp_server(
///     port = 8888,
///     address = "127.0.0.1",
///     processes = 0,
///     max_connections = 10_000,
///     max_buffer_size = "1MiB",
///     shutdown_timeout = "5s",
/// )]
/// async fn greet(mut stream: IoStream, addr: SocketAddr) {
///     let _ = stream.write(format!("hello, {addr}\n").as_bytes()).await;
/// }
/// ```
///
/// What the attribute generates for it, and how to write the same program without the
/// attribute:
///
/// ```no_run
/// # use std::net::SocketAddr;
/// # use tcpserver::IoStream;
/// async fn greet(mut stream: IoStream, addr: SocketAddr) {
///     let _ = stream.write(format!("hello, {addr}\n").as_bytes()).await;
/// }
///
/// fn main() -> std::process::ExitCode {
///     tcpserver::Launcher::new(8888)
///         .address("127.0.0.1")
///         .processes(0)
///         .max_connections(10000)
///         .max_buffer_size(1048576)
///         .shutdown_timeout(std::time::Duration::from_secs(5))
///         .run(greet)
/// }
/// ```
///
/// The handler stays an ordinary function, so a test can call it on a real connection:
///
/// ```no_run
/// use std::net::SocketAddr;
/// use tcpserver::iostream::{IoStream, StreamOptions};
/// use tcpserver::tcp_server;
///
/// #[tcp_server(port = 8888)]
/// async fn greet(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
///     stream.write(b"hello\n").await
/// }
///
/// // In `#[cfg(test)] mod tests`, under `#[tokio::test]`:
/// async fn greets() -> tcpserver::Result<()> {
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = IoStream::connect(listener.local_addr()?).await?;
///     let (tcp, addr) = listener.accept().await?;
///     greet(IoStream::new(tcp, StreamOptions::new()), addr).await?;
///     assert_eq!(client.read_until(b"\n", None).await?, b"hello\n");
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// A mistake in the attribute or the signature is a compile error on the offending
/// token, saying what to write instead. The handler is still emitted, so the macro's
/// message is the only one:
///
/// ```text
/// error: `worker_threads` needs the multi-thread runtime, but `runtime` is "current_thread"; remove `worker_threads` or write `runtime = "multi_thread"`
///  --> src/main.rs:5:72
///   |
/// 5 | #[tcp_server(port = 8888, runtime = "current_thread", worker_threads = 4)]
///   |                                                                        ^
/// ```
#[proc_macro_attribute]
pub fn tcp_server(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::server(Kind::Tcp, args.into(), item.into()).into()
}

/// Turns an async request handler into a whole HTTP server binary: Tornado's `HTTPServer`
/// behind [`#[tcp_server]`](macro@tcp_server)'s front door.
///
/// ```no_run
/// use http::{Request, Response};
/// use tcpserver::http_server;
/// use tcpserver::httpserver::Body;
///
/// /// Hello, world over HTTP.
/// #[http_server(port = 8080)]
/// async fn hello(_request: Request<Body>) -> Response<String> {
///     Response::new("Hello, world".to_owned())
/// }
/// ```
///
/// `#[http_server]` needs the `http` feature of `tcpserver` (`features = ["http"]` in
/// Cargo.toml); without it the attribute is a compile error that says so.
///
/// Everything [`#[tcp_server]`](macro@tcp_server) says about the program holds here: it
/// goes at the crate root of a binary in place of `fn main`; the program parses
/// command-line overrides (`--help` lists them with the compiled-in defaults), logs,
/// binds (`listening on ADDR`), forks when `processes != 1`, builds a runtime per
/// process, and on SIGTERM or SIGINT shuts down gracefully and exits 0. For HTTP, a
/// graceful shutdown closes idle keep-alive connections at once and lets requests in
/// progress finish, their responses carrying `Connection: close`.
///
/// # The handler
///
/// `async fn name(request: Request<Body>)`, returning `Response<B>` or
/// `Result<Response<B>, E>`: `Request` and `Response` are the `http` crate's, `Body` is
/// `tcpserver::httpserver::Body` (the request body, streamed, with the body options
/// applied), `B` any HTTP body (`String`, `http_body_util::Full<Bytes>`, ...),
/// and `E` any error convertible to `Box<dyn Error + Send + Sync>`. The server calls it
/// once per request; an `Err` is answered `500 Internal Server Error` and logged with the
/// client's address. The request carries a `tcpserver::httpserver::RequestContext`
/// extension (the client's IP and the protocol, after `xheaders`); the
/// `tcpserver::httpserver::RequestExt` methods read it.
///
/// As with `#[tcp_server]`, the function is emitted unchanged and stays callable from
/// tests, the first paragraph of its doc comment becomes the `--help` description, and
/// types are checked by the last segment of their path (`Request`, `Body`, `Response`,
/// `Result`), so name them rather than use aliases.
///
/// An axum `Router`, a tower or hyper service, or a streaming delegate is not a function:
/// serve those with the runtime API, `tcpserver::Launcher::run_http` (below), which takes
/// every handler `tcpserver::httpserver::IntoHttpHandler` accepts.
///
/// # Keys
///
/// Every key of [`#[tcp_server]`](macro@tcp_server), with the same values and defaults:
/// `port` (required, unless `unix` is given), `address`, `family`, `backlog`,
/// `reuse_port`, `unix`, `unix_mode`, `processes`,
/// `max_restarts`, `tls` / `tls(pem, cert, key, client_ca, alpn, sni)`, `max_buffer_size`,
/// `read_chunk_size`, `max_connections`, `idle_timeout`, `handshake_timeout`, `max_handshakes`,
/// `shutdown_timeout`, `drain_delay`, `upgrade_timeout`, `pid_file`, `runtime`,
/// `worker_threads`, `admin_address`,
/// `proxy_protocol`, `proxy_trusted`, `proxy_timeout`, `state`, `on_shutdown`, `args`, `crate`
/// (`codec` is `#[tcp_server]`'s only).
/// Then Tornado's `HTTPServer` options, under Tornado's names. With `state`, the request
/// handler takes the state after the request: `async fn handle(request: Request<Body>,
/// state: &State) -> Response<String>`.
/// Every key is optional except `port` (or `unix`), a key left out keeps the runtime's
/// default, and every key can be overridden when the program starts with the flag in the
/// last column (or its environment variable, `TCPSERVER_UPPER_SNAKE_FLAG`).
///
/// | key | value | default | flag |
/// |---|---|---|---|
/// | `port` | integer, 0 to 65535; 0 picks a free port | required, unless `unix` is given | `--port` |
/// | `address` | string: an IP address or a host name | all interfaces | `--address` |
/// | `family` | `"unspec"`, `"ipv4"` or `"ipv6"` | `"unspec"` | `--family` |
/// | `backlog` | integer | 128 | `--backlog` |
/// | `reuse_port` | `true` or `false` | `false` | `--reuse-port` |
/// | `unix` | string, a path (`"@name"`: a Linux abstract socket): a Unix socket to serve HTTP on too, or alone without `port` (`curl --unix-socket PATH`, nginx's `proxy_pass http://unix:PATH`) | none | `--unix` |
/// | `unix_mode` | integer written in octal (`0o660`), or a string (`"0660"`) | `0o600` | `--unix-mode` |
/// | `processes` | integer; 0 means one per CPU | 1 (no fork) | `--processes` |
/// | `max_restarts` | integer | 100 | `--max-restarts` |
/// | `tls` | `"chain-and-key.pem"`, or `tls(cert = "..", key = "..", client_ca = "..", alpn = [..], sni = [..])` | plain HTTP | `--tls`, `--tls-cert`, `--tls-key`, `--tls-client-ca`, `--tls-alpn`, `--tls-sni` |
/// | `max_buffer_size` | bytes: integer, or string with a unit (`"1MiB"`) | 100 MiB | `--max-buffer-size` |
/// | `read_chunk_size` | bytes; at most half of `max_buffer_size` | 64 KiB | `--read-chunk-size` |
/// | `max_connections` | integer; 0 means no limit | 0 | `--max-connections` |
/// | `idle_timeout` | duration, above 0 | off | `--idle-timeout` |
/// | `handshake_timeout` | duration, above 0 | 10 s | `--handshake-timeout` |
/// | `max_handshakes` | integer; 0 means no cap | 256 | `--max-handshakes` |
/// | `shutdown_timeout` | seconds (`30`, `1.5`) or string with a unit (`"500ms"`, `"2m"`) | 30 s | `--shutdown-timeout` |
/// | `drain_delay` | duration | 0 | `--drain-delay` |
/// | `upgrade_timeout` | duration, above 0 | 30 s | `--upgrade-timeout` |
/// | `pid_file` | string, a path | none | `--pid-file` |
/// | `runtime` | `"multi_thread"` or `"current_thread"` | multi-thread with one process, current-thread in each forked worker | `--runtime` |
/// | `worker_threads` | integer, at least 1 | one per CPU | `--worker-threads` |
/// | `admin_address` | string, `"IP:PORT"`: the admin listener (`/livez`, `/readyz`, `/metrics`) | off | `--admin-address` |
/// | `proxy_protocol` | `"v1"`, `"v2"` or `"any"` | off | `--proxy-protocol` |
/// | `proxy_trusted` | array of networks | loopback and private networks | `--proxy-trusted` |
/// | `proxy_timeout` | duration, above 0 | 5 s | `--proxy-timeout` |
/// | `state` | a function's path, as code: the application's state (see `#[tcp_server]`) | no state | — |
/// | `on_shutdown` | a function's path, as code: given the state at shutdown | none | — |
/// | `args` | a `clap::Args` type's path, as code: the application's own flags, given to `state`'s function | none | — |
/// | `crate` | string: the path of the `tcpserver` crate | `"tcpserver"` | — |
/// | `no_keep_alive` | `true` or `false`: close the connection after every response | `false` | `--no-keep-alive` |
/// | `xheaders` | `true` or `false`: take the client's address and the scheme from `X-Real-Ip` / `X-Forwarded-For` and `X-Scheme` / `X-Forwarded-Proto` (behind a reverse proxy only) | `false` | `--xheaders` |
/// | `trusted_downstream` | array of IP address strings, `["10.0.0.1", "::1"]`: proxies skipped while walking `X-Forwarded-For`; needs `xheaders = true` | none | `--trusted-downstream` |
/// | `protocol` | `"http"` or `"https"`: the scheme requests are said to arrive over | `"https"` over TLS, else `"http"` | `--protocol` |
/// | `decompress_request` | `true` or `false`: inflate request bodies sent with `Content-Encoding: gzip` | `false` | `--decompress-request` |
/// | `chunk_size` | bytes: the largest piece of request body handed over at once | 64 KiB | `--chunk-size` |
/// | `max_header_size` | bytes: the largest request head, answered `431` past it | 64 KiB | `--max-header-size` |
/// | `idle_connection_timeout` | duration, above 0: how long a connection may wait for the whole head of its next request | 3600 s | `--idle-connection-timeout` |
/// | `body_timeout` | duration, above 0: how long reading one request body may take | no limit | `--body-timeout` |
/// | `max_body_size` | bytes: the largest request body, answered `413` past it | `max_buffer_size` | `--max-body-size` |
///
/// Sizes and durations are written as for `#[tcp_server]`: a byte count is an integer or
/// a string with a unit (`B`, `k`/`KiB`, `M`/`MiB`, `G`/`GiB`, powers of 1024), at least 1
/// and at most 4294967295; a duration is seconds (`30`, `1.5`) or a string with a unit
/// (`"500ms"`, `"30s"`, `"2m"`). Each address of `trusted_downstream` is checked when the
/// program compiles: standard IPv4 or IPv6 text, no host names, no networks.
///
/// Keys are checked against each other as for `#[tcp_server]`, and `trusted_downstream`
/// needs `xheaders = true` (Tornado reads it only then).
///
/// # Examples
///
/// Behind a reverse proxy on the same host, one worker per CPU, with small request
/// limits:
///
/// ```no_run
/// use http::{Request, Response};
/// use tcpserver::http_server;
/// use tcpserver::httpserver::{Body, RequestExt};
///
/// #[http_server(
///     port = 8080,
///     address = "127.0.0.1",
///     processes = 0,
///     xheaders = true,
///     trusted_downstream = ["127.0.0.1", "::1"],
///     max_header_size = "16KiB",
///     max_body_size = "1MiB",
///     body_timeout = "30s",
/// )]
/// async fn whoami(request: Request<Body>) -> Response<String> {
///     match request.context() {
///         Some(client) => Response::new(format!("{} {}\n", client.remote_ip(), client.protocol())),
///         None => Response::new("unknown\n".to_owned()),
///     }
/// }
/// ```
///
/// What the attribute generates for it, and how to write the same program without the
/// attribute:
///
/// ```no_run
/// # use http::{Request, Response};
/// # use tcpserver::httpserver::Body;
/// # async fn whoami(request: Request<Body>) -> Response<String> {
/// #     Response::new(String::new())
/// # }
/// fn main() -> std::process::ExitCode {
///     tcpserver::Launcher::new(8080)
///         .address("127.0.0.1")
///         .processes(0)
///         .run_http(
///             tcpserver::httpserver::HttpOptions::new()
///                 .xheaders(true)
///                 .trusted_downstream([
///                     std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
///                     std::net::IpAddr::V6(std::net::Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)),
///                 ])
///                 .max_header_size(16384)
///                 .max_body_size(1048576)
///                 .body_timeout(std::time::Duration::from_secs(30)),
///             whoami,
///         )
/// }
/// ```
///
/// A handler that reads the body and can fail, over TLS, with the crate renamed:
///
/// ```no_run
/// use http::{Request, Response, StatusCode};
/// use http_body_util::BodyExt;
/// use tcpserver as server;
/// use server::httpserver::Body;
///
/// #[server::http_server(port = 8443, tls = "certs/server.pem", decompress_request = true, crate = "server")]
/// async fn upload(request: Request<Body>) -> Result<Response<String>, server::httpserver::BodyError> {
///     let body = request.into_body().collect().await?.to_bytes();
///     let mut response = Response::new(format!("{} bytes\n", body.len()));
///     *response.status_mut() = StatusCode::CREATED;
///     Ok(response)
/// }
/// ```
///
/// The handler stays an ordinary function, so a test calls it with a request it builds:
///
/// ```
/// use http::{Request, Response};
/// use tcpserver::http_server;
/// use tcpserver::httpserver::Body;
///
/// #[http_server(port = 8080)]
/// async fn hello(_request: Request<Body>) -> Response<String> {
///     Response::new("Hello, world".to_owned())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn test() {
/// // In `#[cfg(test)] mod tests`, under `#[tokio::test]`:
/// let response = hello(Request::new(Body::empty())).await;
/// assert_eq!(response.body(), "Hello, world");
/// # }
/// # test();
/// ```
///
/// # Errors
///
/// As for `#[tcp_server]`: a compile error on the offending token, saying what to write;
/// the handler is still emitted, so the macro's message is the only one:
///
/// ```text
/// error: "10.0.0.256" is not an IP address: `trusted_downstream` takes IPv4 or IPv6 addresses (not host names), like `"10.0.0.1"` or `"::1"`
///  --> src/main.rs:5:67
///   |
/// 5 | #[http_server(port = 8080, xheaders = true, trusted_downstream = ["10.0.0.256"])]
///   |                                                                   ^^^^^^^^^^^^
/// ```
#[proc_macro_attribute]
pub fn http_server(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::server(Kind::Http, args.into(), item.into()).into()
}

/// `Result::unwrap_err` for values without `Debug`: syn's types have it only with syn's
/// `extra-traits` feature, which only these tests would need.
#[cfg(test)]
fn expect_err<T>(result: syn::Result<T>) -> syn::Error {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}
