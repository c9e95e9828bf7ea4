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

// ----- IoStream reads, against a model -----

/// The regexes `read_until_regex` is tried with: bounded and unbounded ones.
const REGEXES: &[&str] = &[
    r"\n",
    r"\r?\n\r?\n",
    r"a+b",
    r"[0-9]{2,3}",
    r"x[^y]*y",
    r"(?:ab|b)c",
];

/// One read of the sequence an input asks for.
#[derive(Debug, Clone, Copy)]
enum Read {
    Until {
        delimiter: [u8; 2],
        len: usize,
        max: Option<usize>,
    },
    Regex {
        index: usize,
        max: Option<usize>,
    },
    Bytes {
        n: usize,
        partial: bool,
    },
    Into {
        n: usize,
        partial: bool,
    },
    UntilClose,
}

/// An input, decoded: `[ending, chunk, count, (kind, a, b) * count, data...]`.
#[derive(Debug)]
struct Script<'a> {
    /// The writer resets the connection at the end instead of closing it cleanly.
    reset: bool,
    /// The writer's write size (the reader's reads land wherever the kernel puts them).
    chunk: usize,
    reads: Vec<Read>,
    data: &'a [u8],
}

fn script(input: &[u8]) -> Option<Script<'_>> {
    let (&ending, rest) = input.split_first()?;
    let (&chunk, rest) = rest.split_first()?;
    let (&count, mut rest) = rest.split_first()?;
    let mut reads = Vec::new();
    for _ in 0..(count % 9) {
        let (op, tail) = rest.split_at_checked(3)?;
        rest = tail;
        let (a, b) = (op[1], op[2]);
        let max = (b & 0x80 != 0).then_some(usize::from(b & 0x7f));
        reads.push(match op[0] % 5 {
            0 => Read::Until {
                delimiter: [a, b],
                len: 1 + usize::from(a & 1),
                max: (op[0] & 0x80 != 0).then_some(usize::from(b)),
            },
            1 => Read::Regex {
                index: usize::from(a) % REGEXES.len(),
                max,
            },
            2 => Read::Bytes {
                n: usize::from(a),
                partial: b & 1 != 0,
            },
            3 => Read::Into {
                n: usize::from(a),
                partial: b & 1 != 0,
            },
            _ => Read::UntilClose,
        });
    }
    Some(Script {
        reset: ending & 1 != 0,
        chunk: usize::from(chunk).max(1),
        reads,
        data: rest,
    })
}

/// `IoStream`'s reads against a model of Tornado's semantics: a sequence of reads over a
/// loopback TCP connection whose writer sends the input's data in chunks and then closes
/// or resets it.
///
/// With a clean close every answer is checked exactly against the model (where a read may
/// return less than asked, any amount it may return); after a reset, which may lose data in
/// flight, each answer must still be one the model allows for some prefix of the data.
pub fn iostream_reads(input: &[u8]) {
    let Some(script) = script(input) else { return };
    let regexes: &'static [regex::bytes::Regex] = {
        static COMPILED: OnceLock<Vec<regex::bytes::Regex>> = OnceLock::new();
        COMPILED.get_or_init(|| {
            REGEXES
                .iter()
                .map(|r| regex::bytes::Regex::new(r).unwrap())
                .collect()
        })
    };
    static LISTENER: OnceLock<std::net::TcpListener> = OnceLock::new();
    let listener = LISTENER.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        listener
    });
    let outcome = runtime().block_on(async {
        tokio::time::timeout(INPUT_DEADLINE, async {
            let addr = listener.local_addr().unwrap();
            let std_listener = listener.try_clone().unwrap();
            let accept = tokio::net::TcpListener::from_std(std_listener).unwrap();
            let (writer, accepted) =
                tokio::join!(tokio::net::TcpStream::connect(addr), accept.accept());
            let (mut writer, (reader, _)) = (writer.unwrap(), accepted.unwrap());
            let (data, chunk, reset) = (script.data.to_vec(), script.chunk, script.reset);
            let writing = tokio::spawn(async move {
                for piece in data.chunks(chunk) {
                    if writer.write_all(piece).await.is_err() {
                        return;
                    }
                    tokio::task::yield_now().await;
                }
                if reset {
                    let _ = writer.set_zero_linger();
                } else {
                    let _ = writer.shutdown().await;
                }
                drop(writer);
            });
            let mut stream = IoStream::from(reader);
            check_reads(&mut stream, &script, regexes).await;
            let _ = writing.await;
        })
        .await
    });
    assert_no_panic();
    outcome.unwrap_or_else(|_| panic!("the reads did not end within {INPUT_DEADLINE:?}"));
}

async fn check_reads(stream: &mut IoStream, script: &Script<'_>, regexes: &[regex::bytes::Regex]) {
    use tcpserver::ErrorKind;
    let exact = !script.reset;
    let mut rest: &[u8] = script.data;
    for &read in &script.reads {
        match read {
            Read::Until {
                delimiter,
                len,
                max,
            } => {
                let delimiter = &delimiter[..len];
                // Both line APIs, one or the other by the input: `read_until_into` must
                // give what `read_until` gives, and leave its buffer alone on an error.
                let got = if rest.len().is_multiple_of(2) {
                    stream.read_until(delimiter, max).await
                } else {
                    let mut out = b"#".to_vec();
                    let got = stream.read_until_into(delimiter, max, &mut out).await;
                    match got {
                        Ok(n) => {
                            assert_eq!(n + 1, out.len(), "{read:?}");
                            Ok(out.split_off(1))
                        }
                        Err(e) => {
                            assert_eq!(out, b"#", "{read:?} failed after writing");
                            Err(e)
                        }
                    }
                };
                let first = rest
                    .windows(len)
                    .position(|w| w == delimiter)
                    .map(|at| at + len);
                match got {
                    Ok(line) => {
                        assert_eq!(
                            Some(line.len()),
                            first,
                            "{read:?} in {rest:?} gave {line:?}"
                        );
                        assert!(
                            max.is_none_or(|m| line.len() <= m),
                            "{read:?} gave {line:?}"
                        );
                        assert_eq!(&line[..], &rest[..line.len()]);
                        rest = &rest[line.len()..];
                    }
                    Err(e) if e.kind() == ErrorKind::UnsatisfiableRead => {
                        let max = max.expect("only with max_bytes");
                        assert!(
                            first.is_some_and(|end| end > max)
                                || (first.is_none() && (rest.len() > max || !exact)),
                            "{read:?} unsatisfiable in {rest:?}"
                        );
                        return;
                    }
                    Err(e) => {
                        assert!(e.is_closed(), "{read:?}: {e}");
                        if exact {
                            assert!(
                                first.is_none() && max.is_none_or(|m| rest.len() <= m),
                                "{read:?} closed with {rest:?} left"
                            );
                        }
                    }
                }
            }
            Read::Regex { index, max } => {
                let regex = &regexes[index];
                let got = stream.read_until_regex(regex, max).await;
                match got {
                    Ok(found) => {
                        assert_eq!(&found[..], &rest[..found.len()], "{read:?}");
                        assert!(
                            max.is_none_or(|m| found.len() <= m),
                            "{read:?} gave {found:?}"
                        );
                        let ends_a_match = (0..found.len()).any(|start| {
                            regex
                                .find_at(&found, start)
                                .is_some_and(|m| m.start() == start && m.end() == found.len())
                        });
                        assert!(ends_a_match, "{read:?} gave {found:?}, which no match ends");
                        rest = &rest[found.len()..];
                    }
                    Err(e) if e.kind() == ErrorKind::UnsatisfiableRead => {
                        let max = max.expect("only with max_bytes");
                        if exact {
                            assert!(
                                rest.len() > max || regex.find(rest).is_some_and(|m| m.end() > max),
                                "{read:?} unsatisfiable in {rest:?}"
                            );
                        }
                        return;
                    }
                    Err(e) => {
                        assert!(e.is_closed(), "{read:?}: {e}");
                        if exact {
                            assert!(
                                regex
                                    .find(rest)
                                    .is_none_or(|m| max.is_some_and(|max| m.end() > max)),
                                "{read:?} closed, yet {rest:?} holds a match"
                            );
                        }
                    }
                }
            }
            Read::Bytes { n, partial } | Read::Into { n, partial } => {
                let got = match read {
                    Read::Bytes { .. } => stream.read_bytes(n, partial).await,
                    _ => {
                        let mut dst = vec![0u8; n];
                        stream.read_into(&mut dst, partial).await.map(|k| {
                            dst.truncate(k);
                            dst
                        })
                    }
                };
                match got {
                    Ok(bytes) => {
                        if partial && n > 0 {
                            assert!(
                                !bytes.is_empty() && bytes.len() <= n,
                                "{read:?} gave {bytes:?}"
                            );
                        } else {
                            assert_eq!(bytes.len(), n, "{read:?}");
                        }
                        assert_eq!(&bytes[..], &rest[..bytes.len()], "{read:?}");
                        rest = &rest[bytes.len()..];
                    }
                    Err(e) => {
                        assert!(e.is_closed(), "{read:?}: {e}");
                        if exact {
                            let needed = if partial { 1 } else { n };
                            assert!(rest.len() < needed, "{read:?} closed with {rest:?} left");
                        }
                    }
                }
            }
            Read::UntilClose => match stream.read_until_close().await {
                Ok(all) => {
                    assert_eq!(&all[..], &rest[..all.len()], "{read:?}");
                    if exact {
                        assert_eq!(all.len(), rest.len(), "{read:?}");
                    }
                    rest = &rest[all.len()..];
                }
                Err(e) => {
                    assert!(e.is_closed() && !exact, "{read:?}: {e}");
                    return;
                }
            },
        }
    }
}
