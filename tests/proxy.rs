//! The PROXY protocol, v1 and v2, over real sockets: raw headers of every form and every
//! bad input against servers in this process; the `whoami`, `echo`, `tls_echo` and
//! `http_hello` binaries behind a real HAProxy, `curl --haproxy-protocol` and nginx's
//! `stream` proxy.

mod http_support;
mod tls_support;

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tcpserver::httpserver::{HttpOptions, HttpServer};
use tcpserver::proxy::{ProxyConfig, ProxyHeader, Version};
use tcpserver::{IoStream, TcpServer};
use tcpserver_tests::admin::{Scrape, admin_addr};
use tcpserver_tests::logs::LogCapture;
use tcpserver_tests::proc::ServerProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// One line describing what the handler was given, then an echo of every line.
async fn describe_then_echo(mut stream: IoStream, client: SocketAddr) -> tcpserver::Result<()> {
    let line = describe(client, stream.proxy_header());
    stream.write(format!("{line}\n").as_bytes()).await?;
    loop {
        let line = stream.read_until(b"\n", Some(4096)).await?;
        stream.write(&line).await?;
    }
}

fn describe(client: SocketAddr, header: Option<&ProxyHeader>) -> String {
    let Some(h) = header else {
        return format!("client={client} no-header");
    };
    let text =
        |v: Option<&[u8]>| v.map_or("-".to_owned(), |v| String::from_utf8_lossy(v).into_owned());
    format!(
        "client={client} v={} local={} proxy={} dest={} alpn={} authority={} id={} ssl={}",
        h.version(),
        h.is_local(),
        h.proxy_addr().map_or("-".to_owned(), |a| a.to_string()),
        h.destination().map_or("-".to_owned(), |a| a.to_string()),
        text(h.alpn()),
        h.authority().unwrap_or("-"),
        text(h.unique_id()),
        h.ssl().map_or("-".to_owned(), |s| format!(
            "{}/{}",
            s.version.unwrap_or_default(),
            s.common_name.unwrap_or_default()
        )),
    )
}

/// A server in this runtime requiring PROXY headers, on `host`.
fn proxy_server(config: ProxyConfig, host: &str) -> (TcpServer, SocketAddr) {
    let server = TcpServer::builder()
        .proxy_protocol(config)
        .build(describe_then_echo);
    let addr = server.listen(0, Some(host)).unwrap()[0];
    (server, addr)
}

/// Connects, sends `bytes`, and reads the first line (`None`: closed without one).
async fn first_line(addr: SocketAddr, bytes: &[u8]) -> Option<String> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_line(&mut stream).await
}

async fn read_line(stream: &mut TcpStream) -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut byte))
            .await
            .expect("a reply in time")
        {
            Ok(1) if byte[0] == b'\n' => return Some(String::from_utf8(line).unwrap()),
            Ok(1) => line.push(byte[0]),
            _ => return (!line.is_empty()).then(|| String::from_utf8(line).unwrap()),
        }
    }
}

fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut body = addresses.to_vec();
    for (kind, value) in tlvs {
        body.push(*kind);
        body.extend_from_slice(&(value.len() as u16).to_be_bytes());
        body.extend_from_slice(value);
    }
    let mut header = V2_SIGNATURE.to_vec();
    header.extend_from_slice(&[0x20 | command, family]);
    header.extend_from_slice(&(body.len() as u16).to_be_bytes());
    header.extend_from_slice(&body);
    header
}

fn v4_block() -> Vec<u8> {
    [
        &[203, 0, 113, 7, 10, 0, 0, 1][..],
        &51000u16.to_be_bytes(),
        &443u16.to_be_bytes(),
    ]
    .concat()
}

fn v6_block() -> Vec<u8> {
    let src: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    [
        &src.octets()[..],
        &dst.octets(),
        &51000u16.to_be_bytes(),
        &443u16.to_be_bytes(),
    ]
    .concat()
}

fn field(line: &str, name: &str) -> String {
    line.split(' ')
        .find_map(|f| f.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
        .to_owned()
}

#[tokio::test]
async fn v1_headers_tcp4_tcp6_and_unknown() {
    let (server, addr) = proxy_server(ProxyConfig::new(Version::V1), "127.0.0.1");
    let line = first_line(addr, b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n")
        .await
        .unwrap();
    assert_eq!(field(&line, "client"), "203.0.113.7:51000", "{line}");
    assert_eq!(field(&line, "dest"), "10.0.0.1:443");
    assert_eq!(field(&line, "v"), "1");
    assert!(field(&line, "proxy").starts_with("127.0.0.1:"), "{line}");
    let line = first_line(addr, b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n")
        .await
        .unwrap();
    assert_eq!(field(&line, "client"), "[2001:db8::7]:51000", "{line}");
    // UNKNOWN: the socket's own addresses.
    let line = first_line(addr, b"PROXY UNKNOWN whatever the proxy says\r\n")
        .await
        .unwrap();
    assert_eq!(field(&line, "local"), "true");
    assert_eq!(field(&line, "client"), field(&line, "proxy"));
    assert_eq!(field(&line, "dest"), addr.to_string());
    server.shutdown(WAIT).await;
}

#[tokio::test]
async fn v2_headers_over_ipv4_and_ipv6_with_tlvs() {
    for host in ["127.0.0.1", "::1"] {
        let (server, addr) = proxy_server(ProxyConfig::new(Version::V2), host);
        let ssl = [
            &[0x01, 0, 0, 0, 0, 0x21, 0, 7][..],
            b"TLSv1.3",
            &[0x22, 0, 5],
            b"alice",
        ]
        .concat();
        let tlvs: &[(u8, &[u8])] = &[
            (0x01, b"h2"),
            (0x02, b"example.com"),
            (0x05, b"conn-42"),
            (0x20, &ssl),
        ];
        let line = first_line(addr, &v2(1, 0x11, &v4_block(), tlvs))
            .await
            .unwrap();
        assert_eq!(field(&line, "client"), "203.0.113.7:51000", "{line}");
        assert_eq!(field(&line, "dest"), "10.0.0.1:443");
        assert_eq!(field(&line, "alpn"), "h2");
        assert_eq!(field(&line, "authority"), "example.com");
        assert_eq!(field(&line, "id"), "conn-42");
        assert_eq!(field(&line, "ssl"), "TLSv1.3/alice");
        let line = first_line(addr, &v2(1, 0x21, &v6_block(), &[]))
            .await
            .unwrap();
        assert_eq!(field(&line, "client"), "[2001:db8::7]:51000", "{line}");
        // LOCAL: a health check from the proxy itself, with the socket's addresses.
        let line = first_line(addr, &v2(0, 0x00, &[], &[])).await.unwrap();
        assert_eq!(field(&line, "local"), "true", "{line}");
        assert_eq!(field(&line, "client"), field(&line, "proxy"));
        server.shutdown(WAIT).await;
    }
}

#[tokio::test]
async fn bytes_after_the_header_reach_the_handler() {
    let (server, addr) = proxy_server(ProxyConfig::new(Version::Any), "127.0.0.1");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut input = v2(1, 0x11, &v4_block(), &[]);
    input.extend_from_slice(b"first\nsecond\n");
    stream.write_all(&input).await.unwrap();
    assert!(
        read_line(&mut stream)
            .await
            .unwrap()
            .starts_with("client=203.0.113.7:51000")
    );
    assert_eq!(read_line(&mut stream).await.as_deref(), Some("first"));
    assert_eq!(read_line(&mut stream).await.as_deref(), Some("second"));
    server.shutdown(WAIT).await;
}

#[tokio::test]
async fn a_header_sent_byte_by_byte_is_accepted() {
    let (server, addr) = proxy_server(ProxyConfig::new(Version::Any), "127.0.0.1");
    for header in [
        b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n".to_vec(),
        v2(1, 0x11, &v4_block(), &[(0x02, b"example.com")]),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        for byte in &header {
            stream.write_all(&[*byte]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let line = read_line(&mut stream).await.unwrap();
        assert_eq!(field(&line, "client"), "203.0.113.7:51000", "{line}");
    }
    server.shutdown(WAIT).await;
}

/// Every bad header closes its connection before the handler, with a log line, and the
/// next good connection is served as usual.
#[tokio::test]
async fn bad_headers_close_their_connection_only() {
    let logs = LogCapture::start();
    let (server, addr) = proxy_server(ProxyConfig::new(Version::V2), "127.0.0.1");
    let mut bad_crc = v2(1, 0x11, &v4_block(), &[(0x03, &[0, 0, 0, 0])]);
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0x55;
    let mut oversize = V2_SIGNATURE.to_vec();
    oversize.extend_from_slice(&[0x21, 0x11, 0x10, 0x00]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no header", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (
            "wrong signature",
            b"\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c".to_vec(),
        ),
        (
            "v1 on a v2 server",
            b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n".to_vec(),
        ),
        ("bad CRC", bad_crc),
        ("v2 over the length limit", oversize),
        ("malformed", v2(1, 0x11, &[1, 2, 3], &[])),
    ];
    for (what, input) in cases {
        assert_eq!(first_line(addr, &input).await, None, "{what}");
        let good = first_line(addr, &v2(1, 0x11, &v4_block(), &[]))
            .await
            .unwrap();
        assert!(
            good.starts_with("client=203.0.113.7"),
            "after {what}: {good}"
        );
    }
    // v1's 107-byte limit, on a server taking either version.
    let (any, any_addr) = proxy_server(ProxyConfig::new(Version::Any), "127.0.0.1");
    let long = format!("PROXY TCP4 {}\r\n", "1".repeat(120));
    assert_eq!(first_line(any_addr, long.as_bytes()).await, None);
    // At most one line a second per server: the first refusal is logged, with the reason.
    assert!(
        !logs
            .lines_with("bad PROXY header: no PROXY signature")
            .is_empty(),
        "{}",
        logs.text()
    );
    server.shutdown(WAIT).await;
    any.shutdown(WAIT).await;
}

#[tokio::test]
async fn a_stalled_header_is_closed_at_the_deadline_and_others_are_served() {
    let config = ProxyConfig::new(Version::Any).timeout(Duration::from_millis(300));
    let (server, addr) = proxy_server(config, "127.0.0.1");
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(b"PROXY TCP4 203.0.").await.unwrap();
    let started = Instant::now();
    let line = first_line(addr, b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n")
        .await
        .unwrap();
    assert!(line.starts_with("client=203.0.113.7"), "{line}");
    assert_eq!(read_line(&mut stalled).await, None);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    server.shutdown(WAIT).await;
}

#[tokio::test]
async fn untrusted_sources_are_refused() {
    let logs = LogCapture::start();
    let config = ProxyConfig::new(Version::Any).trusted(["10.0.0.0/8".parse().unwrap()]);
    let (server, addr) = proxy_server(config, "127.0.0.1");
    let header = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n";
    assert_eq!(first_line(addr, header).await, None);
    assert!(
        !logs.lines_with("not a trusted proxy").is_empty(),
        "{}",
        logs.text()
    );
    let trusting = ProxyConfig::new(Version::Any).trusted(["127.0.0.0/8".parse().unwrap()]);
    let (open, open_addr) = proxy_server(trusting, "127.0.0.1");
    assert!(
        first_line(open_addr, header)
            .await
            .unwrap()
            .starts_with("client=203.0.113.7")
    );
    server.shutdown(WAIT).await;
    open.shutdown(WAIT).await;
}

#[tokio::test]
async fn http_takes_the_address_from_the_header_and_xheaders_on_top() {
    for (xheaders, extra, expected) in [
        (false, "X-Real-Ip: 198.51.100.9\r\n", "203.0.113.7"),
        (true, "X-Real-Ip: 198.51.100.9\r\n", "198.51.100.9"),
        (true, "", "203.0.113.7"),
    ] {
        let server = HttpServer::builder()
            .tcp(TcpServer::builder().proxy_protocol(ProxyConfig::new(Version::Any)))
            .options(HttpOptions::new().xheaders(xheaders))
            .build(http_support::app);
        let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
        let request = format!(
            "PROXY TCP4 203.0.113.7 10.0.0.1 51000 80\r\nGET /ip HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
        );
        let response = http_support::exchange(addr, request.as_bytes()).await;
        assert!(
            response.ends_with(expected),
            "xheaders={xheaders}: {response}"
        );
        server.shutdown(WAIT).await;
    }
}

/// TLS behind the header, with the ClientHello in the same write as the header: the
/// handshake gets the bytes read with the header.
#[tokio::test]
async fn tls_after_the_header_in_the_same_packet() {
    use tls_support::{cert, client_config, echo};
    let tls = tcpserver::tls::TlsConfig::from_pem(cert("server.pem")).unwrap();
    let server = TcpServer::builder()
        .tls(tls)
        .proxy_protocol(ProxyConfig::new(Version::V2))
        .build(describe_then_echo);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let prefixed = Prefixed {
        inner: tcp,
        prefix: v2(1, 0x11, &v4_block(), &[]),
    };
    let connector = tokio_rustls::TlsConnector::from(client_config(&cert("ca.pem"), None, &[]));
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio::time::timeout(WAIT, connector.connect(name, prefixed))
        .await
        .unwrap()
        .unwrap();
    let mut first = Vec::new();
    loop {
        let mut byte = [0u8];
        tls.read_exact(&mut byte).await.unwrap();
        if byte[0] == b'\n' {
            break;
        }
        first.push(byte[0]);
    }
    let first = String::from_utf8(first).unwrap();
    assert!(first.starts_with("client=203.0.113.7:51000"), "{first}");
    assert_eq!(echo(&mut tls, "over tls").await.unwrap(), "over tls");
    server.shutdown(WAIT).await;
}

/// Writes `prefix` in front of the first write, in the same `write` call.
struct Prefixed {
    inner: TcpStream,
    prefix: Vec<u8>,
}

impl tokio::io::AsyncRead for Prefixed {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Prefixed {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return std::pin::Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let joined = [&this.prefix[..], buf].concat();
        match std::pin::Pin::new(&mut this.inner).poll_write(cx, &joined) {
            std::task::Poll::Ready(Ok(n)) => {
                // A small record to an idle socket: all of it goes at once.
                assert_eq!(n, joined.len(), "a short first write");
                this.prefix.clear();
                std::task::Poll::Ready(Ok(buf.len()))
            }
            other => other,
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

// ----- real peers: HAProxy, curl, nginx -----

fn free_port() -> u16 {
    StdTcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process killed when dropped, with its working directory removed.
struct Peer {
    child: Child,
    dir: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tcpserver-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until every port accepts connections.
fn wait_listening(ports: &[u16], peer: &mut Peer, what: &str) {
    let deadline = Instant::now() + WAIT;
    while !ports
        .iter()
        .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
    {
        assert!(peer.child.try_wait().unwrap().is_none(), "{what} exited");
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// HAProxy in TCP mode: one frontend per `(backend port, server options)`, in order.
fn haproxy(backends: &[(u16, &str)]) -> (Peer, Vec<u16>) {
    let dir = temp_dir("haproxy");
    let mut config = String::from(
        "global\n    maxconn 200\n\
         defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         \x20   unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt\n",
    );
    let mut ports = Vec::new();
    for (i, (backend, options)) in backends.iter().enumerate() {
        let port = free_port();
        ports.push(port);
        config.push_str(&format!(
            "frontend f{i}\n    bind 127.0.0.1:{port}\n    default_backend b{i}\n\
             backend b{i}\n    server s{i} 127.0.0.1:{backend} {options}\n"
        ));
    }
    std::fs::write(dir.join("haproxy.cfg"), &config).unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(dir.join("haproxy.cfg"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy is not installed (scripts/test-all installs it)");
    let mut peer = Peer { child, dir };
    wait_listening(&ports, &mut peer, "haproxy");
    (peer, ports)
}

/// Connects to `port` and returns the client's own address and the first line.
fn whoami_via(port: u16) -> (SocketAddr, String) {
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let local = stream.local_addr().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stream), &mut line).unwrap();
    (local, line.trim_end().to_owned())
}

#[test]
fn whoami_and_echo_behind_haproxy() {
    let args = [
        "--port",
        "0",
        "--address",
        "127.0.0.1",
        "--proxy-protocol",
        "any",
    ];
    let whoami = ServerProcess::start("whoami", &args);
    let echo = ServerProcess::start("echo", &args);
    let (_haproxy, ports) = haproxy(&[
        (whoami.addr().port(), "send-proxy"),
        (
            whoami.addr().port(),
            "send-proxy-v2 proxy-v2-options crc32c,unique-id",
        ),
        (echo.addr().port(), "send-proxy-v2 proxy-v2-options crc32c"),
    ]);
    for port in &ports[..2] {
        let (client, seen) = whoami_via(*port);
        assert_eq!(
            seen,
            client.to_string(),
            "the client, not HAProxy's connection"
        );
    }
    let mut line_client =
        tcpserver_tests::LineClient::connect(SocketAddr::from(([127, 0, 0, 1], ports[2]))).unwrap();
    assert_eq!(
        line_client.roundtrip("through haproxy").unwrap(),
        "through haproxy"
    );
    assert!(
        !whoami.stderr().contains("bad PROXY header"),
        "{}",
        whoami.stderr()
    );
}

/// HAProxy's v2 header with its checksum and unique-id TLVs, as a handler sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn haproxy_v2_tlvs_reach_the_handler() {
    let (server, addr) = proxy_server(ProxyConfig::new(Version::V2), "127.0.0.1");
    let (_haproxy, ports) = haproxy(&[(
        addr.port(),
        "send-proxy-v2 proxy-v2-options crc32c,unique-id",
    )]);
    let mut stream = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    let client = stream.local_addr().unwrap();
    let line = read_line(&mut stream).await.unwrap();
    assert_eq!(field(&line, "client"), client.to_string(), "{line}");
    assert_eq!(field(&line, "v"), "2");
    assert_eq!(field(&line, "dest"), format!("127.0.0.1:{}", ports[0]));
    assert_ne!(field(&line, "id"), "-", "HAProxy's unique id: {line}");
    drop(stream);
    server.shutdown(WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_passes_through_haproxy_behind_the_header() {
    let pem = tls_support::example_cert("server.pem")
        .display()
        .to_string();
    let args = [
        "--port",
        "0",
        "--address",
        "127.0.0.1",
        "--proxy-protocol",
        "v2",
        "--tls",
        &pem,
    ];
    let tls_echo = ServerProcess::start("tls_echo", &args);
    let (_haproxy, ports) = haproxy(&[(
        tls_echo.addr().port(),
        "send-proxy-v2 proxy-v2-options crc32c,unique-id",
    )]);
    let ca = tls_support::example_cert("ca.pem").display().to_string();
    let facts = tls_support::python(ports[0], &["--ca", &ca, "--send", "hello"]).await;
    assert_eq!(
        tls_support::fact(&facts, "echo"),
        Some("hello"),
        "{facts:?}"
    );
}

#[test]
fn curl_haproxy_protocol_against_http_hello() {
    let server = ServerProcess::start(
        "http_hello",
        &[
            "--port",
            "0",
            "--address",
            "127.0.0.1",
            "--proxy-protocol",
            "v1",
            "--admin-address",
            "127.0.0.1:0",
        ],
    );
    let url = format!("http://127.0.0.1:{}/", server.addr().port());
    let with = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--haproxy-protocol",
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&with.stdout), "Hello, world");
    // Without the header the connection is closed: the server never guesses.
    let without = Command::new("curl")
        .args(["--silent", "--max-time", "10", &url])
        .output()
        .unwrap();
    assert!(!without.status.success());
    assert!(
        server.wait_for_stderr("bad PROXY header", WAIT),
        "{}",
        server.stderr()
    );
    let admin = admin_addr(&server);
    let closed = "tcpserver_connections_closed_total{reason=\"refused\"}";
    assert!(tcpserver_tests::wait_until(WAIT, || {
        Scrape::take(admin).get(closed) == 1
    }));
    let samples = Scrape::take(admin);
    let refused = "tcpserver_proxy_header_errors_total{reason=\"bad_header\"}";
    assert_eq!(samples.get(refused), 1);
    assert_eq!(
        samples.get("tcpserver_http_requests_total{class=\"2xx\"}"),
        1
    );
}

#[test]
fn whoami_behind_nginx_stream() {
    let whoami = ServerProcess::start(
        "whoami",
        &[
            "--port",
            "0",
            "--address",
            "127.0.0.1",
            "--proxy-protocol",
            "v1",
        ],
    );
    let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("nginx is not installed (scripts/test-all installs it)");
    let module = "/usr/lib/nginx/modules/ngx_stream_module.so";
    assert!(
        std::path::Path::new(module).exists(),
        "nginx's stream module is not installed (scripts/test-all installs libnginx-mod-stream)"
    );
    let dir = temp_dir("nginx-stream");
    let port = free_port();
    let d = dir.display();
    let config = format!(
        "load_module {module};\n\
         daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         stream {{\n  server {{\n    listen 127.0.0.1:{port};\n    proxy_pass 127.0.0.1:{};\n    proxy_protocol on;\n  }}\n}}\n",
        whoami.addr().port()
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut peer = Peer { child, dir };
    wait_listening(&[port], &mut peer, "nginx");
    let (client, seen) = whoami_via(port);
    assert_eq!(seen, client.to_string());
}
