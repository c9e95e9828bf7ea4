//! The bodies of the fuzz targets, shared by `fuzz/` (cargo-fuzz, on nightly) and the
//! corpus replay of `tests/fuzz_corpus.rs` (stable, in the test command), so that every
//! corpus file keeps guarding against the bug it once found.
//!
//! Each target feeds its input to a real server of this process over a Unix socket, as a
//! client would: the bytes written, the writing side shut, and everything the server sends
//! read until it closes. Servers run on one runtime made at the first input and kept for
//! the process's life. A panic anywhere, in the server's tasks included (which tokio would
//! otherwise swallow), fails the input.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tcpserver::httpserver::{Body, HttpOptions};
use tcpserver::proxy::{Network, ProxyConfig, Version};
use tcpserver::{HttpServer, IoStream, TcpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// How long one input may take from the first byte to the server's close: far beyond any
/// timeout the servers here keep (no input may hang a connection past its deadlines).
const INPUT_DEADLINE: Duration = Duration::from_secs(10);

/// The HTTP server's deadlines, short so that a stalled request ends quickly.
const HTTP_TIMEOUT: Duration = Duration::from_secs(2);

/// A server of one target and the socket it listens on.
struct Target {
    path: PathBuf,
    /// Keeps the server alive.
    _server: TcpServer,
}

/// The runtime every target's server runs on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        catch_panics();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

static PANICKED: AtomicBool = AtomicBool::new(false);
static PANIC_MESSAGE: Mutex<String> = Mutex::new(String::new());

/// Notes every panic, in any thread, before the previous hook runs (libFuzzer's aborts).
fn catch_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        if let Ok(mut message) = PANIC_MESSAGE.lock() {
            *message = info.to_string();
        }
        previous(info);
    }));
}

/// Fails the input if anything panicked while it ran.
fn assert_no_panic() {
    if PANICKED.swap(false, Ordering::SeqCst) {
        let message = PANIC_MESSAGE.lock().map(|m| m.clone()).unwrap_or_default();
        panic!("a server task panicked: {message}");
    }
}

/// Starts `server` on a fresh Unix socket.
fn start(name: &str, server: TcpServer) -> Target {
    let dir = std::env::temp_dir().join(format!("tcpserver-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the sockets");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    let listener = tcpserver::netutil::bind_unix_socket(&path, 0o600, 1024).expect("bind");
    let _guard = runtime().enter();
    server.add_socket(listener).expect("serve");
    Target {
        path,
        _server: server,
    }
}

/// Writes `data` to the server at `path`, shuts the writing side, and returns everything
/// the server sent until it closed.
fn exchange(path: &std::path::Path, data: &[u8]) -> Vec<u8> {
    let received = runtime().block_on(async {
        tokio::time::timeout(INPUT_DEADLINE, async {
            let mut stream = UnixStream::connect(path).await.expect("connect");
            // The server may close before it has read everything: that is an answer too.
            let writing = async {
                let _ = stream.write_all(data).await;
                let _ = stream.shutdown().await;
            };
            writing.await;
            let mut received = Vec::new();
            let _ = stream.read_to_end(&mut received).await;
            received
        })
        .await
    });
    assert_no_panic();
    received.unwrap_or_else(|_| {
        panic!("the server neither answered nor closed within {INPUT_DEADLINE:?}")
    })
}

// ----- PROXY protocol -----

/// The PROXY header reader: a server requiring a header (v1 or v2) from anyone, whose
/// handler writes `ok` and the client's address on one line, then echoes the rest.
///
/// Checks: no panic, no hang; a connection is only ever served when the input starts with
/// a whole header, and then the handler receives exactly the bytes after it.
pub fn proxy_header(data: &[u8]) {
    static TARGET: OnceLock<Target> = OnceLock::new();
    let target = TARGET.get_or_init(|| {
        let everyone = ["0.0.0.0/0", "::/0"].map(|n| n.parse::<Network>().expect("network"));
        let config = ProxyConfig::new(Version::Any)
            .trusted(everyone)
            .timeout(Duration::from_secs(2));
        start(
            "proxy",
            TcpServer::builder()
                .proxy_protocol(config)
                .build(describe_then_echo),
        )
    });
    let received = exchange(&target.path, data);
    if received.is_empty() {
        return; // refused: a bad or incomplete header
    }
    let line_end = received
        .iter()
        .position(|&b| b == b'\n')
        .expect("the handler's first line");
    assert!(received.starts_with(b"ok "), "{received:?}");
    let header = header_len(data)
        .unwrap_or_else(|| panic!("served without a whole header in front: {data:?}"));
    assert_eq!(
        &received[line_end + 1..],
        &data[header..],
        "the bytes after the header reach the handler intact"
    );
}

async fn describe_then_echo(
    mut stream: IoStream,
    client: std::net::SocketAddr,
) -> tcpserver::Result<()> {
    stream.write(format!("ok {client}\n").as_bytes()).await?;
    let rest = stream.read_until_close().await?;
    stream.write(&rest).await
}

/// The length of the PROXY header `data` starts with, by the spec's framing alone (v1: up
/// to its CRLF, v2: 16 bytes and the length they give), if it is whole.
fn header_len(data: &[u8]) -> Option<usize> {
    const V2: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
    if data.starts_with(b"PROXY ") {
        let end = data.windows(2).take(107).position(|w| w == b"\r\n")?;
        return Some(end + 2);
    }
    if data.starts_with(V2) && data.len() >= 16 {
        let len = 16 + usize::from(u16::from_be_bytes([data[14], data[15]]));
        return (data.len() >= len).then_some(len);
    }
    None
}

// ----- HTTP -----

/// The HTTP server with Tornado's options switched on (xheaders, gzip request bodies) and
/// small limits: arbitrary bytes as one client's stream.
///
/// Checks: no panic; no hang past the timeouts; every answer is a well-formed response; and
/// nothing is answered after an error answer (400, 413, 431, ...): a request smuggled
/// behind a framing error must never reach the handler.
pub fn http_request(data: &[u8]) {
    static TARGET: OnceLock<Target> = OnceLock::new();
    let target = TARGET.get_or_init(|| {
        let options = HttpOptions::new()
            .xheaders(true)
            .decompress_request(true)
            .max_body_size(64 * 1024)
            .max_header_size(8 * 1024)
            .idle_connection_timeout(HTTP_TIMEOUT)
            .body_timeout(HTTP_TIMEOUT);
        let server = HttpServer::builder()
            .options(options)
            .build(read_body_then_ok);
        start("http", server.into_tcp_server())
    });
    let received = exchange(&target.path, data);
    let mut rest = &received[..];
    let mut statuses = Vec::new();
    while !rest.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let head = match response.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("not a response: {other:?} in {received:?}"),
        };
        let status = response.code.expect("a status");
        let length = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| {
                String::from_utf8_lossy(h.value)
                    .parse::<usize>()
                    .expect("a length")
            })
            .unwrap_or(0);
        assert!(
            rest.len() >= head + length,
            "a truncated response: {received:?}"
        );
        statuses.push(status);
        rest = &rest[head + length..];
    }
    if let Some(error) = statuses.iter().position(|s| *s >= 400) {
        assert_eq!(
            error + 1,
            statuses.len(),
            "answered after an error: {statuses:?} for {data:?}"
        );
    }
}

async fn read_body_then_ok(request: http::Request<Body>) -> http::Response<String> {
    use http_body_util::BodyExt;
    let _ = request.into_body().collect().await;
    http::Response::new("ok".to_owned())
}
