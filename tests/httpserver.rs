//! HttpServer over real sockets with a raw client: the black-box tests of Tornado's
//! `tornado/test/httpserver_test.py` that apply (`HTTPConnectionTest`, `HTTPServerTest`'s
//! `test_double_slash`, `HTTPServerRawTest`, `KeepAliveTest`, `XHeaderTest`,
//! `ManualProtocolTest`, `GzipTest`, `StreamingChunkSizeTest`,
//! `InvalidOutputContentLengthTest`, `MaxHeaderSizeTest`, `IdleTimeoutTest`,
//! `BodyLimitsTest`, `UnixSocketTestFile`, `UnixSocketTestAbstract`), our
//! own answers where we differ on purpose (431, 413), and the bad-input guarantees: one
//! connection's garbage never disturbs another.

mod http_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_support::{RawConn, app, exchange, gzip, request, serve, within};
use tcpserver::httpserver::{
    Body, BodyLimits, Delegate, HttpMessageDelegate, HttpOptions, HttpServerConnectionDelegate,
    Protocol, RequestContext,
};
use tcpserver_tests::logs::LogCapture;

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

fn post(path: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: example.com\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn chunked(path: &str, extra: &str, chunks: &[&[u8]]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n{extra}\r\n"
    )
    .into_bytes();
    for c in chunks {
        r.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        r.extend_from_slice(c);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

/// Sends `raw` and asserts the answer is `status` followed by the connection closing.
async fn assert_refused(addr: std::net::SocketAddr, raw: &[u8], status: u16) {
    let mut conn = RawConn::connect(addr).await;
    conn.send(raw).await;
    let response = conn
        .response()
        .await
        .unwrap_or_else(|| panic!("no response to {}", raw.escape_ascii()));
    assert_eq!(response.status, status, "{}", raw.escape_ascii());
    assert_eq!(response.header("connection"), Some("close"));
    assert!(conn.closed_within(Duration::from_secs(10)).await);
}

// ----- malformed input -> 400 -----

#[tokio::test]
async fn malformed_request_line_is_400_and_logged() {
    let logs = LogCapture::start();
    let (_server, addr) = serve(HttpOptions::new(), app);
    for raw in [
        &b"asdf\r\n\r\n"[..],
        b"FOO,BAR /echo HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / http/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    ] {
        assert_refused(addr, raw, 400).await;
    }
    assert!(
        !logs
            .lines_with("Malformed HTTP message from 127.0.0.1")
            .is_empty()
    );
    assert!(logs.lines_with("ERROR").is_empty(), "{}", logs.text());
}

#[tokio::test]
async fn bad_header_lines_are_400() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    for raw in [
        &b"GET / HTTP/1.0\r\nasdf\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n",
    ] {
        assert_refused(addr, raw, 400).await;
    }
}

#[tokio::test]
async fn host_header_is_required_single_and_valid() {
    let logs = LogCapture::start();
    let (_server, addr) = serve(HttpOptions::new(), app);
    assert_refused(addr, b"GET / HTTP/1.1\r\n\r\n", 400).await;
    assert_refused(addr, b"GET / HTTP/1.1\r\nHost: foo bar\r\n\r\n", 400).await;
    assert_refused(addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400).await;
    // HTTP/1.0 needs no Host.
    let r = request(addr, b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!((r.status, r.text().as_str()), (200, "Hello world"));
    assert!(!logs.lines_with("Invalid Host header").is_empty());
}

#[tokio::test]
async fn invalid_chunk_sizes_are_400() {
    let logs = LogCapture::start();
    let (_server, addr) = serve(HttpOptions::new(), app);
    for size in ["1_a", "0x2", "+2", "zz", "-1"] {
        let raw = format!(
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nab\r\n0\r\n\r\n"
        );
        assert_refused(addr, raw.as_bytes(), 400).await;
    }
    // A bad terminator after the chunk data (Tornado 6.6.1: 400).
    assert_refused(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nfooXX0\r\n\r\n",
        400,
    )
    .await;
    assert!(
        !logs.lines_with("invalid chunked body").is_empty(),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn transfer_encoding_other_than_one_chunked_is_400() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    for te in [
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked,chunked\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: gzip\r\n",
    ] {
        let raw = format!("POST /echo HTTP/1.1\r\nHost: x\r\n{te}\r\n2\r\nab\r\n0\r\n\r\n");
        assert_refused(addr, raw.as_bytes(), 400).await;
    }
    // `Chunked` is fine.
    let raw =
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
    assert_eq!(request(addr, raw.as_bytes()).await.text(), "ab");
}

#[tokio::test]
async fn transfer_encoding_with_content_length_uses_chunked_and_closes() {
    // Tornado answers 400; hyper follows RFC 9112 §6.3: the chunked framing wins and the
    // connection closes after the response, so nothing can be smuggled after the body.
    let (_server, addr) = serve(HttpOptions::new(), app);
    let mut conn = RawConn::connect(addr).await;
    conn.send(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n\
          4\r\nabcd\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let r = conn.response().await.unwrap();
    assert_eq!(r.text(), "abcd");
    assert_eq!(r.header("connection"), Some("close"));
    assert!(conn.closed_within(Duration::from_secs(10)).await);
}

#[tokio::test]
async fn invalid_content_lengths_are_400() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    for cl in ["foo", "+10", "1_0", "2\u{a0}", "5, 6"] {
        let raw = format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {cl}\r\n\r\nab");
        assert_refused(addr, raw.as_bytes(), 400).await;
    }
    // Equal repeated lengths are one length.
    let raw = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab";
    assert_eq!(request(addr, raw).await.text(), "ab");
}

#[tokio::test]
async fn garbage_on_one_connection_disturbs_no_other() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let mut good = RawConn::connect(addr).await;
    good.send(GET).await;
    assert_eq!(good.response().await.unwrap().status, 200);
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"\x00\x00\x00\x00\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    ] {
        let _ = exchange(addr, garbage).await;
    }
    good.send(GET).await;
    assert_eq!(good.response().await.unwrap().text(), "Hello world");
}

// ----- sizes -----

#[tokio::test]
async fn header_size_limit_is_431() {
    let (_server, addr) = serve(HttpOptions::new().max_header_size(1024), app);
    let small = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(100)
    );
    assert_eq!(request(addr, small.as_bytes()).await.status, 200);
    let large = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(1000)
    );
    assert_refused(addr, large.as_bytes(), 431).await;
    // A head that never ends is refused when it fills the buffer.
    let endless = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Filler: {}",
        "a".repeat(20_000)
    );
    assert_refused(addr, endless.as_bytes(), 431).await;
    // Over 100 header lines.
    let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let (_server, addr) = serve(HttpOptions::new(), app);
    assert_refused(addr, many.as_bytes(), 431).await;
}

#[tokio::test]
async fn body_size_limit_is_413_for_every_framing() {
    let logs = LogCapture::start();
    let options = HttpOptions::new()
        .max_body_size(4096)
        .body_timeout(Duration::from_secs(3600));
    let (_server, addr) = serve(options.clone(), app);
    assert_eq!(
        request(addr, &post("/len", "", &[b'a'; 4096])).await.text(),
        "4096"
    );
    assert_refused(addr, &post("/len", "", &[b'a'; 10240]), 413).await;
    assert!(!logs.lines_with("Content-Length too long").is_empty());
    assert_refused(
        addr,
        &chunked("/len", "", &[&[b'a'; 5000], &[b'b'; 5240]]),
        413,
    )
    .await;
    assert!(!logs.lines_with("body too large").is_empty());

    // The same through a streaming delegate.
    let (_server, addr) = serve(options, Delegate(ChunkSizes::default()));
    assert_refused(addr, &post("/", "", &[b'a'; 10240]), 413).await;
    assert_refused(addr, &chunked("/", "", &[&[b'a'; 10240]]), 413).await;
    assert!(logs.lines_with("ERROR").is_empty(), "{}", logs.text());
}

#[tokio::test]
async fn oversize_upload_with_expect_gets_413_and_no_100_continue() {
    let (_server, addr) = serve(HttpOptions::new().max_body_size(4096), app);
    let mut conn = RawConn::connect(addr).await;
    conn.send(
        b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 10240\r\nExpect: 100-continue\r\n\r\n",
    )
    .await;
    let r = conn.response().await.unwrap();
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn body_size_override_applies_to_one_request_only() {
    let (_server, addr) = serve(HttpOptions::new().max_body_size(4096), app);
    let mut conn = RawConn::connect(addr).await;
    conn.send(&post("/upload", "", &[b'a'; 10240])).await;
    assert_eq!(conn.response().await.unwrap().text(), "10240");
    conn.send(&chunked("/upload", "", &[&[b'a'; 10240]])).await;
    assert_eq!(conn.response().await.unwrap().text(), "10240");
    // The next request on the same connection is back to the server's limit.
    conn.send(&post("/len", "", &[b'a'; 10240])).await;
    assert_eq!(conn.response().await.unwrap().status, 413);
    assert!(conn.closed_within(Duration::from_secs(10)).await);
}

// ----- timeouts -----

#[tokio::test]
async fn body_timeout_closes_without_a_response() {
    let logs = LogCapture::start();
    let (_server, addr) = serve(
        HttpOptions::new().body_timeout(Duration::from_millis(200)),
        app,
    );
    let mut conn = RawConn::connect(addr).await;
    let start = Instant::now();
    conn.send(b"PUT /len HTTP/1.0\r\nContent-Length: 42\r\n\r\n")
        .await;
    assert_eq!(within(conn.read_to_end()).await, b"");
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(
        !logs
            .lines_with("Timeout reading body from 127.0.0.1")
            .is_empty()
    );
}

/// Tornado starts `body_timeout` when the body is read: the time a handler takes before
/// (in `headers_received`) does not count, and a body that has arrived is read whole even
/// when the handler is slow between its pieces.
#[tokio::test]
async fn body_timeout_counts_from_the_first_read_and_spares_a_body_that_arrived() {
    let options = HttpOptions::new()
        .body_timeout(Duration::from_millis(300))
        .chunk_size(4096);
    let (_server, addr) = serve(options, Delegate(ChunkSizes::default()));
    let received = |raw: Vec<u8>| async move {
        let r = request(addr, &raw).await;
        assert_eq!(r.status, 200, "{}", r.text());
        parse_sizes(&r.text()).iter().sum::<usize>()
    };
    let body = [b'a'; 10000];
    // 600 ms in `headers_received`; the body came with the head.
    assert_eq!(received(post("/?head_ms=600", "", &body)).await, 10000);
    // Three pieces of 4 KiB at 250 ms each: 750 ms, the body there from the start.
    assert_eq!(received(post("/?piece_ms=250", "", &body)).await, 10000);
    // More than hyper reads at once (64 KiB): the rest is read from the socket past the
    // deadline, without waiting.
    let large = vec![b'a'; 250_000];
    assert_eq!(received(post("/?piece_ms=10", "", &large)).await, 250_000);
    // A body that stops arriving still times out, counted from the first read.
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"POST /?head_ms=400 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .await;
    let waited = conn.time_to_close().await;
    assert!(waited >= Duration::from_millis(650), "{waited:?}");
}

#[tokio::test]
async fn idle_connections_close_after_the_idle_timeout() {
    let timeout = Duration::from_millis(300);
    let (_server, addr) = serve(HttpOptions::new().idle_connection_timeout(timeout), app);
    // Connected, nothing sent.
    let mut conn = RawConn::connect(addr).await;
    let start = Instant::now();
    assert!(conn.closed_within(Duration::from_secs(10)).await);
    assert!(start.elapsed() >= Duration::from_millis(250));
    // Two requests, then idle.
    let mut conn = RawConn::connect(addr).await;
    for _ in 0..2 {
        conn.send(GET).await;
        assert_eq!(conn.response().await.unwrap().status, 200);
    }
    assert!(conn.closed_within(Duration::from_secs(10)).await);
    // A slow head does not extend the deadline.
    let mut conn = RawConn::connect(addr).await;
    let start = Instant::now();
    conn.send(b"GET / HTTP/1.1\r\n").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _ = conn.stream.try_write(b"Host: x\r\n");
    assert!(conn.closed_within(Duration::from_secs(10)).await);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_request_in_progress_is_not_idle() {
    let (_server, addr) = serve(
        HttpOptions::new().idle_connection_timeout(Duration::from_millis(200)),
        app,
    );
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"GET /sleep?ms=700 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert_eq!(conn.response().await.unwrap().text(), "slept");
    // And the clock starts again after the response.
    let waited = conn.time_to_close().await;
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
}

// ----- keep-alive -----

#[tokio::test]
async fn keep_alive_rules() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    // Two HTTP/1.1 requests on one connection.
    let mut conn = RawConn::connect(addr).await;
    for _ in 0..2 {
        conn.send(GET).await;
        let r = conn.response().await.unwrap();
        assert_eq!(r.text(), "Hello world");
        assert_eq!(r.header("connection"), None);
    }
    // HTTP/1.1 Connection: close.
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(
        conn.response().await.unwrap().header("connection"),
        Some("close")
    );
    assert!(conn.closed_within(Duration::from_secs(10)).await);
    // Any `close` token closes (Tornado only closes on exactly `close`).
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close, x\r\n\r\n")
        .await;
    assert_eq!(
        conn.response().await.unwrap().header("connection"),
        Some("close")
    );
    assert!(conn.closed_within(Duration::from_secs(10)).await);
    // HTTP/1.0: closed after the response, no Connection header.
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"GET / HTTP/1.0\r\n\r\n").await;
    let r = conn.response().await.unwrap();
    assert_eq!((r.status, r.header("connection")), (200, None));
    assert!(
        r.status_line.starts_with("HTTP/1.0 200"),
        "{}",
        r.status_line
    );
    // HTTP/1.0 keep-alive, twice, with an extra CRLF between the requests.
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\r\n")
        .await;
    let r = conn.response().await.unwrap();
    assert!(
        r.header("connection")
            .unwrap()
            .eq_ignore_ascii_case("keep-alive")
    );
    conn.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    assert_eq!(conn.response().await.unwrap().text(), "Hello world");
}

#[tokio::test]
async fn no_keep_alive_closes_after_every_response() {
    let (_server, addr) = serve(HttpOptions::new().no_keep_alive(true), app);
    let mut conn = RawConn::connect(addr).await;
    conn.send(GET).await;
    assert_eq!(
        conn.response().await.unwrap().header("connection"),
        Some("close")
    );
    assert!(conn.closed_within(Duration::from_secs(10)).await);
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"GET /ip HTTP/1.1\r\nHost: x\r\n\r\nGET /proto HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert_eq!(conn.response().await.unwrap().text(), "127.0.0.1");
    assert_eq!(conn.response().await.unwrap().text(), "http");
    // The client reads one of two responses and leaves; the server copes.
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\nGET /large HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    assert_eq!(conn.response().await.unwrap().body.len(), 512 * 1024);
    drop(conn);
    // A download cancelled half-way.
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut first = [0u8; 1024];
    tokio::io::AsyncReadExt::read_exact(&mut conn.stream, &mut first)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(request(addr, GET).await.status, 200);
}

#[tokio::test]
async fn expect_100_continue_then_body() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let mut conn = RawConn::connect(addr).await;
    conn.send(
        b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    )
    .await;
    let interim = conn.response().await.unwrap();
    assert!(
        interim.status_line.starts_with("HTTP/1.1 100 "),
        "{}",
        interim.status_line
    );
    conn.send(&[b'a'; 1024]).await;
    let r = conn.response().await.unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "1024"));
}

// ----- xheaders and protocol -----

async fn get_text(conn: &mut RawConn, path: &str, headers: &str) -> String {
    conn.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes())
        .await;
    conn.response().await.unwrap().text()
}

/// Asserts what `path` answers on `conn` to each `(headers, expected)`, in order.
async fn assert_answers(conn: &mut RawConn, path: &str, cases: &[(&str, &str)]) {
    for (headers, expected) in cases {
        assert_eq!(get_text(conn, path, headers).await, *expected, "{headers}");
    }
}

/// A server with `xheaders` that trusts the proxy 5.5.5.5, and a connection to it.
async fn xheaders_server() -> (tcpserver::HttpServer, RawConn) {
    let options = HttpOptions::new()
        .xheaders(true)
        .trusted_downstream(["5.5.5.5".parse().unwrap()]);
    let (server, addr) = serve(options, app);
    (server, RawConn::connect(addr).await)
}

#[tokio::test]
async fn xheaders_set_the_address_and_scheme_per_request() {
    let (_server, mut conn) = xheaders_server().await;
    let addresses = [
        ("", "127.0.0.1"),
        ("X-Real-IP: 4.4.4.4\r\n", "4.4.4.4"),
        ("X-Forwarded-For: 127.0.0.1, 4.4.4.4\r\n", "4.4.4.4"),
        (
            "X-Real-IP: 2620:0:1cfe:face:b00c::3\r\n",
            "2620:0:1cfe:face:b00c::3",
        ),
        (
            "X-Forwarded-For: ::1, 2620:0:1cfe:face:b00c::3\r\n",
            "2620:0:1cfe:face:b00c::3",
        ),
        ("X-Real-IP: 4.4.4.4<script>\r\n", "127.0.0.1"),
        ("X-Forwarded-For: 4.4.4.4, 5.5.5.5<script>\r\n", "127.0.0.1"),
        ("X-Real-IP: www.google.com\r\n", "127.0.0.1"),
        (
            "X-Forwarded-For: 127.0.0.1, 4.4.4.4, 5.5.5.5\r\n",
            "4.4.4.4",
        ),
        // Nothing leaks from the previous request on this connection.
        ("", "127.0.0.1"),
    ];
    assert_answers(&mut conn, "/ip", &addresses).await;
    let schemes = [
        ("", "http"),
        ("X-Scheme: https\r\n", "https"),
        ("X-Forwarded-Proto: https\r\n", "https"),
        ("X-Forwarded-Proto: https , http\r\n", "http"),
        ("X-Forwarded-Proto: http,https\r\n", "https"),
        ("X-Forwarded-Proto: unknown\r\n", "http"),
        ("", "http"),
    ];
    assert_answers(&mut conn, "/proto", &schemes).await;
}

/// Repeated header lines read as one comma-separated list, as Tornado's `HTTPHeaders`
/// joins them: the scheme is the last item of the last line, and the address comes from
/// the right of all the `X-Forwarded-For` lines.
#[tokio::test]
async fn repeated_xheader_lines_read_as_one_list() {
    let (_server, mut conn) = xheaders_server().await;
    let schemes = [
        ("X-Scheme: http\r\nX-Scheme: https\r\n", "https"),
        ("X-Scheme: https\r\nX-Scheme: http\r\n", "http"),
        (
            "X-Forwarded-Proto: http\r\nX-Forwarded-Proto: https\r\n",
            "https",
        ),
        (
            "X-Forwarded-Proto: https, http\r\nX-Forwarded-Proto: https\r\n",
            "https",
        ),
        // `https,unknown`: the last item is not a scheme.
        ("X-Scheme: https\r\nX-Scheme: unknown\r\n", "http"),
        // X-Scheme wins over X-Forwarded-Proto, however many lines each has.
        (
            "X-Forwarded-Proto: https\r\nX-Scheme: http\r\nX-Scheme: http\r\n",
            "http",
        ),
    ];
    assert_answers(&mut conn, "/proto", &schemes).await;
    let addresses = [
        (
            "X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2, 5.5.5.5\r\n",
            "2.2.2.2",
        ),
        (
            "X-Forwarded-For: 1.1.1.1, 5.5.5.5\r\nX-Forwarded-For: 5.5.5.5\r\n",
            "1.1.1.1",
        ),
        // `3.3.3.3,4.4.4.4` is no address.
        ("X-Real-IP: 3.3.3.3\r\nX-Real-IP: 4.4.4.4\r\n", "127.0.0.1"),
    ];
    assert_answers(&mut conn, "/ip", &addresses).await;
}

#[tokio::test]
async fn without_xheaders_the_headers_are_ignored() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let mut conn = RawConn::connect(addr).await;
    assert_eq!(
        get_text(&mut conn, "/ip", "X-Real-IP: 4.4.4.4\r\n").await,
        "127.0.0.1"
    );
    assert_eq!(
        get_text(&mut conn, "/proto", "X-Scheme: https\r\n").await,
        "http"
    );
}

#[tokio::test]
async fn manual_protocol() {
    let options = HttpOptions::new().protocol(Protocol::Https).xheaders(true);
    let (_server, addr) = serve(options, app);
    let mut conn = RawConn::connect(addr).await;
    assert_eq!(get_text(&mut conn, "/proto", "").await, "https");
    assert_eq!(
        get_text(&mut conn, "/proto", "X-Scheme: http\r\n").await,
        "http"
    );
    assert_eq!(
        get_text(&mut conn, "/proto", "X-Scheme: unknown\r\n").await,
        "https"
    );
}

// ----- streaming bodies and decompression -----

/// Answers with the sizes of the body pieces it was handed; `?head_ms=N` makes it take
/// N ms in `headers_received`, `?piece_ms=N` N ms in each `data_received`.
#[derive(Default)]
struct ChunkSizes {
    /// Requests that did not complete.
    closed: Arc<Mutex<usize>>,
    /// Connections closed.
    connections_closed: Arc<Mutex<usize>>,
}

struct Sizes {
    sizes: Vec<usize>,
    closed: Arc<Mutex<usize>>,
    /// How long each `data_received` takes (`?piece_ms=N`).
    piece: Duration,
}

impl HttpServerConnectionDelegate for ChunkSizes {
    type Message = Sizes;

    fn start_request(&self, _context: &RequestContext) -> Sizes {
        Sizes {
            sizes: Vec::new(),
            closed: self.closed.clone(),
            piece: Duration::ZERO,
        }
    }

    fn on_close(&self, _peer: std::net::SocketAddr) {
        *self.connections_closed.lock().unwrap() += 1;
    }
}

impl HttpMessageDelegate for Sizes {
    type Body = String;

    async fn headers_received(
        &mut self,
        head: &http::request::Parts,
        limits: &mut BodyLimits,
    ) -> Option<Response<String>> {
        if head.uri.path() == "/reject" {
            let mut forbidden = Response::new("no".to_owned());
            *forbidden.status_mut() = http::StatusCode::FORBIDDEN;
            return Some(forbidden);
        }
        let ms = |v: &str| Duration::from_millis(v.parse().unwrap());
        for pair in head.uri.query().unwrap_or("").split('&') {
            match pair.split_once('=') {
                // Tornado's `?expected_size=N` + `set_max_body_size(N)`.
                Some(("expected_size", n)) => {
                    limits.set_max_body_size(n.parse().unwrap());
                }
                // Time spent before the body is read.
                Some(("head_ms", v)) => tokio::time::sleep(ms(v)).await,
                Some(("piece_ms", v)) => self.piece = ms(v),
                _ => {}
            }
        }
        None
    }

    async fn data_received(&mut self, chunk: Bytes) {
        self.sizes.push(chunk.len());
        tokio::time::sleep(self.piece).await;
    }

    async fn finish(self) -> Response<String> {
        Response::new(format!("{:?}", self.sizes))
    }

    fn on_connection_close(self) {
        *self.closed.lock().unwrap() += 1;
    }
}

/// `[1, 2, 3]` -> the numbers.
fn parse_sizes(text: &str) -> Vec<usize> {
    text.trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .map(|s| s.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn body_pieces_are_at_most_chunk_size() {
    let options = HttpOptions::new().chunk_size(16).decompress_request(true);
    let (_server, addr) = serve(options, Delegate(ChunkSizes::default()));
    let data = [b'x'; 50];
    assert_eq!(
        request(addr, &post("/", "", &data)).await.text(),
        "[16, 16, 16, 2]"
    );
    assert_eq!(
        request(addr, &chunked("/", "", &[&data[..20], &data[20..]]))
            .await
            .text(),
        "[16, 4, 16, 14]"
    );
    for raw in [
        post("/", "Content-Encoding: gzip\r\n", &gzip(&data)),
        chunked(
            "/",
            "Content-Encoding: gzip\r\n",
            &[&gzip(&data)[..10], &gzip(&data)[10..]],
        ),
    ] {
        let sizes = parse_sizes(&request(addr, &raw).await.text());
        assert!(sizes.iter().all(|&s| s > 0 && s <= 16), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 50);
    }
}

#[tokio::test]
async fn gzip_request_bodies_are_inflated_within_the_limit() {
    let logs = LogCapture::start();
    let options = HttpOptions::new()
        .decompress_request(true)
        .max_body_size(100);
    let (_server, addr) = serve(options, app);
    let r = request(
        addr,
        &post("/encoding", "Content-Encoding: gzip\r\n", &gzip(b"foo=bar")),
    )
    .await;
    assert_eq!(r.text(), "ce=- xcce=gzip cl=- body=foo=bar");
    let r = request(
        addr,
        &post("/encoding", "Content-Encoding: GZIP\r\n", &gzip(b"foo=bar")),
    )
    .await;
    assert_eq!(r.text(), "ce=- xcce=GZIP cl=- body=foo=bar");
    // Uncompressed bodies pass as they are.
    let r = request(addr, &post("/encoding", "", b"foo=bar")).await;
    assert_eq!(r.text(), "ce=- xcce=- cl=7 body=foo=bar");
    // Concatenated members.
    let mut two = gzip(b"foo=");
    two.extend(gzip(b"bar"));
    assert_eq!(
        request(addr, &post("/echo", "Content-Encoding: gzip\r\n", &two))
            .await
            .text(),
        "foo=bar"
    );
    // Over the limit once inflated.
    assert_refused(
        addr,
        &post("/echo", "Content-Encoding: gzip\r\n", &gzip(&[b'x'; 101])),
        413,
    )
    .await;
    assert!(!logs.lines_with("decompressed body too large").is_empty());
    // Invalid data.
    let mut trailing = gzip(b"foo");
    trailing.push(0);
    assert_refused(
        addr,
        &post("/echo", "Content-Encoding: gzip\r\n", &trailing),
        400,
    )
    .await;
    let whole = gzip(b"foo=bar");
    assert_refused(
        addr,
        &post(
            "/echo",
            "Content-Encoding: gzip\r\n",
            &whole[..whole.len() - 4],
        ),
        400,
    )
    .await;
    assert!(!logs.lines_with("invalid gzip data").is_empty());
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_quickly() {
    let options = HttpOptions::new()
        .decompress_request(true)
        .max_body_size(1 << 20);
    let (_server, addr) = serve(options, app);
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 200_000);
    let start = Instant::now();
    assert_refused(
        addr,
        &post("/len", "Content-Encoding: gzip\r\n", &bomb),
        413,
    )
    .await;
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn without_decompress_request_gzip_bodies_pass_through() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let compressed = gzip(b"foo=bar");
    let r = request(
        addr,
        &post("/encoding", "Content-Encoding: gzip\r\n", &compressed),
    )
    .await;
    assert!(r.text().starts_with("ce=gzip xcce=- "), "{}", r.text());
}

// ----- handlers -----

#[tokio::test]
async fn handler_errors_are_500_and_panics_close_only_their_connection() {
    let logs = LogCapture::start();
    let (_server, addr) = serve(HttpOptions::new(), app);
    assert_refused(addr, b"GET /error HTTP/1.1\r\nHost: x\r\n\r\n", 500).await;
    assert!(!logs.lines_with("the handler failed").is_empty());
    assert_eq!(
        exchange(addr, b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n").await,
        ""
    );
    assert!(!logs.lines_with("panicked").is_empty());
    assert_eq!(request(addr, GET).await.text(), "Hello world");
}

/// A response body in pieces that does not tell its length, as a stream does not; the
/// pieces after the first wait for `pause`, if any, to be over.
struct Pieces {
    pieces: std::collections::VecDeque<Bytes>,
    pause: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    started: bool,
}

impl Pieces {
    fn new(pieces: impl IntoIterator<Item = Bytes>, pause: Option<Duration>) -> Self {
        Pieces {
            pieces: pieces.into_iter().collect(),
            pause: pause.map(|p| Box::pin(tokio::time::sleep(p))),
            started: false,
        }
    }
}

impl hyper::body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if let (true, Some(pause)) = (self.started, &mut self.pause) {
            std::task::ready!(pause.as_mut().poll(cx));
        }
        self.started = true;
        let piece = self.pieces.pop_front();
        std::task::Poll::Ready(piece.map(|p| Ok(hyper::body::Frame::data(p))))
    }
}

/// Answers `?declared=V&body=a,b` with `Content-Length: V` (none without `declared`) and
/// the body `ab`, whole (`String`) or, with `&stream`, in pieces of unknown length.
async fn declared(request: Request<Body>) -> Response<http_body_util::Either<String, Pieces>> {
    let (mut value, mut pieces, mut stream) = ("", Vec::new(), false);
    for pair in request.uri().query().unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("declared", v)) => value = v,
            Some(("body", v)) => pieces = v.split(',').collect(),
            _ => stream |= pair == "stream",
        }
    }
    let body = if stream {
        let pieces = pieces.iter().map(|p| Bytes::from(p.to_string()));
        http_body_util::Either::Right(Pieces::new(pieces, None))
    } else {
        http_body_util::Either::Left(pieces.concat())
    };
    let mut response = Response::new(body);
    if !value.is_empty() {
        response
            .headers_mut()
            .insert(http::header::CONTENT_LENGTH, value.parse().unwrap());
    }
    response
}

/// Tornado's `test_invalid_output_content_length` and web_test's `IncorrectContentLength`:
/// a handler's `Content-Length` that is not a number, or that its body does not match, is
/// a handler error: logged, and the connection is closed rather than a response sent
/// whose framing lies. A body whose length is known is refused before anything is sent;
/// a stream at the piece that would go past the length, or at an end short of it (what it
/// sent stays sent).
#[tokio::test]
async fn a_response_content_length_that_lies_closes_the_connection() {
    let logs = LogCapture::start();
    let (_server, addr) = serve(HttpOptions::new(), declared);
    let get = |query: &str| format!("GET /?{query} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes();
    for query in ["declared=5&body=hello", "declared=5&body=he,llo&stream"] {
        let r = request(addr, &get(query)).await;
        assert_eq!((r.status, r.text().as_str()), (200, "hello"), "{query}");
    }
    for query in [
        "declared=10&body=hello",
        "declared=2&body=hello",
        "declared=foo&body=hello",
        "declared=%2B5&body=hello",
        "declared=1_0&body=hello",
    ] {
        let raw = get(&query.replace("%2B", "+"));
        assert_eq!(exchange(addr, &raw).await, "", "{query}");
    }
    // A stream: the client never gets a response it can take for complete.
    for query in [
        "declared=10&body=he,llo&stream",
        "declared=2&body=hello&stream",
    ] {
        let mut conn = RawConn::connect(addr).await;
        conn.send(&get(query)).await;
        assert!(conn.response().await.is_none(), "{query}");
    }
    // A stream that reaches its length has sent a whole response: it is read no further.
    let mut conn = RawConn::connect(addr).await;
    conn.send(&get("declared=2&body=he,llo&stream")).await;
    assert_eq!(conn.response().await.unwrap().text(), "he");
    // A response to HEAD has no body: its Content-Length describes the GET's.
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"HEAD /?declared=10 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let head = String::from_utf8_lossy(
        &within(async {
            let mut buf = vec![0u8; 1024];
            let n = tokio::io::AsyncReadExt::read(&mut conn.stream, &mut buf)
                .await
                .unwrap();
            buf.truncate(n);
            buf
        })
        .await,
    )
    .into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 10\r\n"),
        "{head}"
    );
    let errors = logs.lines_with("Content-Length");
    assert_eq!(errors.len(), 7, "{errors:#?}");
    assert!(errors.iter().all(|l| l.contains("ERROR")), "{errors:#?}");
    assert_eq!(request(addr, &get("declared=2&body=ok")).await.text(), "ok");
}

#[tokio::test]
async fn a_delegate_may_answer_early_and_raise_its_limit() {
    let delegate = ChunkSizes::default();
    let connections = delegate.connections_closed.clone();
    let options = HttpOptions::new().max_body_size(4096).chunk_size(4096);
    let (_server, addr) = serve(options, Delegate(delegate));
    let r = request(addr, &post("/reject", "", &[b'a'; 100])).await;
    assert_eq!((r.status, r.text().as_str()), (403, "no"));
    let mut conn = RawConn::connect(addr).await;
    for raw in [
        post("/?expected_size=10240", "", &[b'a'; 10240]),
        chunked("/?expected_size=10240", "", &[&[b'a'; 10240]]),
    ] {
        conn.send(&raw).await;
        let sizes = parse_sizes(&conn.response().await.unwrap().text());
        assert_eq!(sizes.iter().sum::<usize>(), 10240);
        assert!(sizes.iter().all(|&s| s > 0 && s <= 4096), "{sizes:?}");
    }
    conn.send(&post("/", "", &[b'a'; 10240])).await;
    assert_eq!(conn.response().await.unwrap().status, 413);
    assert!(conn.closed_within(Duration::from_secs(10)).await);
    let deadline = Instant::now() + Duration::from_secs(10);
    while *connections.lock().unwrap() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*connections.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_delegate_hears_of_requests_that_do_not_complete() {
    let delegate = ChunkSizes::default();
    let closed = delegate.closed.clone();
    let (_server, addr) = serve(HttpOptions::new(), Delegate(delegate));
    let mut conn = RawConn::connect(addr).await;
    conn.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(10);
    while *closed.lock().unwrap() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*closed.lock().unwrap(), 1);
}

#[tokio::test]
async fn an_axum_router_runs_unchanged() {
    use axum::Router;
    use axum::extract::Extension;
    use axum::routing::get;
    let router = Router::new()
        .route("/", get(|| async { "Hello from axum" }))
        .route(
            "/ctx",
            get(|Extension(ctx): Extension<RequestContext>| async move {
                format!("{} {}", ctx.remote_ip(), ctx.protocol())
            }),
        )
        .route(
            "/echo",
            axum::routing::post(|body: Bytes| async move { body }),
        );
    let (_server, addr) = serve(HttpOptions::new().xheaders(true), router);
    assert_eq!(request(addr, GET).await.text(), "Hello from axum");
    let r = request(
        addr,
        b"GET /ctx HTTP/1.1\r\nHost: x\r\nX-Real-Ip: 4.4.4.4\r\n\r\n",
    )
    .await;
    assert_eq!(r.text(), "4.4.4.4 http");
    assert_eq!(
        request(addr, &post("/echo", "", b"abc")).await.text(),
        "abc"
    );
    assert_eq!(
        request(addr, &chunked("/echo", "", &[b"ab", b"cd"]))
            .await
            .text(),
        "abcd"
    );
    assert_eq!(
        request(addr, b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn hyper_and_tower_services_run_too() {
    let hyper_service = hyper::service::service_fn(|_: Request<Body>| async {
        Ok::<_, std::convert::Infallible>(Response::new(String::from("hyper")))
    });
    let (_server, addr) = serve(HttpOptions::new(), hyper_service);
    assert_eq!(request(addr, GET).await.text(), "hyper");

    #[derive(Clone)]
    struct Tower;
    impl tower_service::Service<Request<Body>> for Tower {
        type Response = Response<String>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Response<String>, Self::Error>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<Body>) -> Self::Future {
            std::future::ready(Ok(Response::new(String::from("tower"))))
        }
    }
    let (_server, addr) = serve(HttpOptions::new(), Tower);
    assert_eq!(request(addr, GET).await.text(), "tower");
}

/// Sends `raw` on a Unix-socket connection, returns everything until the server closes.
async fn unix_exchange(stream: std::os::unix::net::UnixStream, raw: &[u8]) -> String {
    stream.set_nonblocking(true).unwrap();
    let mut stream = tokio::net::UnixStream::from_std(stream).unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, raw)
        .await
        .unwrap();
    let mut out = Vec::new();
    within(tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut out))
        .await
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Tornado's `UnixSocketTestFile` and `UnixSocketTestAbstract`: HTTP over a Unix socket
/// (a file, or a Linux abstract name), whose peers have no IP address.
async fn serve_unix(bind: &std::path::Path, connect: impl Fn() -> std::os::unix::net::UnixStream) {
    use tcpserver::netutil::{DEFAULT_BACKLOG, DEFAULT_UNIX_MODE, bind_unix_socket};
    let socket = bind_unix_socket(bind, DEFAULT_UNIX_MODE, DEFAULT_BACKLOG).unwrap();
    let server = tcpserver::HttpServer::new(app);
    server.add_socket(socket).unwrap();
    let ok = unix_exchange(connect(), b"GET /hello HTTP/1.0\r\n\r\n").await;
    assert!(
        ok.starts_with("HTTP/1.0 200 OK\r\n") && ok.ends_with("\r\n\r\nHello world"),
        "{ok}"
    );
    let ip = unix_exchange(connect(), b"GET /ip HTTP/1.0\r\n\r\n").await;
    assert!(ip.ends_with("\r\n\r\n0.0.0.0"), "{ip}");
    let bad = unix_exchange(connect(), b"garbage\r\n\r\n").await;
    assert!(bad.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{bad}");
    server.stop();
}

#[tokio::test]
async fn unix_socket_peers() {
    let dir = std::env::temp_dir().join(format!("tcpserver-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("http.sock");
    serve_unix(&path, || {
        std::os::unix::net::UnixStream::connect(&path).unwrap()
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn abstract_unix_socket_peers() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("tcpserver-http-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    serve_unix(std::path::Path::new(&format!("\0{name}")), || {
        std::os::unix::net::UnixStream::connect_addr(&addr).unwrap()
    })
    .await;
}

// ----- the rest of Tornado's HTTPConnectionTest, HTTPServerRawTest, KeepAliveTest -----

/// `test_newlines`: lines may end with a bare LF.
#[tokio::test]
async fn bare_lf_line_endings_are_accepted() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    for raw in [
        &b"GET /hello HTTP/1.0\r\nContent-Length: 0\r\n\r\n"[..],
        b"GET /hello HTTP/1.0\nContent-Length: 0\n\n",
    ] {
        let r = request(addr, raw).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "Hello world"),
            "{}",
            raw.escape_ascii()
        );
    }
}

/// Nothing at WARN or ERROR in `logs`.
fn quiet(logs: &LogCapture) {
    let loud: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .map(str::to_owned)
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
}

/// `test_empty_request`: a client that connects and closes at once is nothing to report.
#[tokio::test]
async fn a_connection_closed_before_its_request_is_quiet() {
    let logs = LogCapture::start();
    let (_server, addr) = serve(HttpOptions::new(), app);
    drop(RawConn::connect(addr).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(request(addr, GET).await.text(), "Hello world");
    quiet(&logs);
}

/// `test_keepalive_chunked_head_no_body`: a streamed answer to HEAD sends no body (no
/// chunked framing either), and the connection serves the next request.
#[tokio::test]
async fn a_streamed_answer_to_head_sends_no_body() {
    let (_server, addr) = serve(HttpOptions::new(), declared);
    let head = b"HEAD /?body=he,llo&stream HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut raw = [&head[..], head].concat();
    raw.extend_from_slice(
        b"GET /?body=he,llo&stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let all = exchange(addr, &raw).await;
    let heads: Vec<&str> = all.split_inclusive("\r\n\r\n").collect();
    assert_eq!(heads.len(), 4, "{all}");
    for head in &heads[..3] {
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{all}");
    }
    assert!(
        !heads[0].to_ascii_lowercase().contains("transfer-encoding"),
        "{all}"
    );
    assert_eq!(heads[3], "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", "{all}");
}

/// `test_finish_while_closed`: a handler that has sent its head and finishes its body
/// after the client left causes no error, and the server serves on.
#[tokio::test]
async fn a_response_finished_after_the_client_left_is_quiet() {
    let logs = LogCapture::start();
    let later = |_: Request<Body>| async {
        let pieces = [Bytes::from_static(b"first"), Bytes::from_static(b"rest")];
        Response::new(Pieces::new(pieces, Some(Duration::from_millis(300))))
    };
    let (_server, addr) = serve(HttpOptions::new(), later);
    let mut conn = RawConn::connect(addr).await;
    conn.send(GET).await;
    let mut head = [0u8; 12];
    within(tokio::io::AsyncReadExt::read_exact(
        &mut conn.stream,
        &mut head,
    ))
    .await
    .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    drop(conn);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = request(addr, GET).await;
    assert_eq!(r.text(), "firstrest");
    quiet(&logs);
}

/// `test_double_slash`: `//doubleslash` is a path, not an authority.
#[tokio::test]
async fn a_path_may_start_with_two_slashes() {
    let path =
        |request: Request<Body>| async move { Response::new(request.uri().path().to_owned()) };
    let (_server, addr) = serve(HttpOptions::new(), path);
    let r = request(addr, b"GET //doubleslash HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!((r.status, r.text().as_str()), (200, "//doubleslash"));
}

// ----- graceful shutdown -----

#[tokio::test]
async fn shutdown_closes_idle_connections_and_finishes_requests_in_flight() {
    let (server, addr) = serve(HttpOptions::new(), app);
    let mut idle = RawConn::connect(addr).await;
    idle.send(GET).await;
    assert_eq!(idle.response().await.unwrap().status, 200);
    let mut busy = RawConn::connect(addr).await;
    busy.send(b"GET /sleep?ms=500 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stopper = server.clone();
    let shutdown = tokio::spawn(async move { stopper.shutdown(Duration::from_secs(10)).await });
    assert!(
        idle.closed_within(Duration::from_secs(2)).await,
        "idle connection not closed at once"
    );
    let r = busy.response().await.unwrap();
    assert_eq!(
        (r.text().as_str(), r.header("connection")),
        ("slept", Some("close"))
    );
    assert!(busy.closed_within(Duration::from_secs(5)).await);
    assert!(within(shutdown).await.unwrap(), "shutdown was not clean");
}

/// A connection accepted just before the shutdown, whose request is still on its way (a
/// proxy sends it right behind the connect), is answered, not closed unanswered (a 502 at
/// the proxy, hyper #2730); a fresh connection that stays silent is closed after the grace.
#[tokio::test]
async fn shutdown_answers_the_first_request_of_a_fresh_connection() {
    let (server, addr) = serve(HttpOptions::new(), app);
    let mut late = RawConn::connect(addr).await;
    let mut silent = RawConn::connect(addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopper = server.clone();
    let shutdown = tokio::spawn(async move { stopper.shutdown(Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    late.send(GET).await;
    let r = late.response().await.expect("answered");
    assert_eq!((r.status, r.header("connection")), (200, Some("close")));
    let started = std::time::Instant::now();
    assert!(silent.closed_within(Duration::from_secs(5)).await);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(within(shutdown).await.unwrap(), "shutdown was not clean");
}

#[tokio::test]
async fn shutdown_deadline_closes_requests_that_do_not_finish() {
    let (server, addr) = serve(HttpOptions::new(), app);
    let mut stuck = RawConn::connect(addr).await;
    stuck
        .send(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    assert!(!within(server.shutdown(Duration::from_millis(300))).await);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(stuck.closed_within(Duration::from_secs(5)).await);
}
