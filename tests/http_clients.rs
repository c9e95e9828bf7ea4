//! HttpServer with real clients: curl (keep-alive reuse, HTTP/1.0, chunked uploads,
//! `Expect: 100-continue`, gzip uploads) and nginx as a reverse proxy in front of it,
//! checking xheaders end to end. Both run as child processes against a server in this
//! process, on 127.0.0.1 with ephemeral ports.

mod http_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::process::{Command, Output};
use tcpserver_tests::nginx::Nginx;

use http_support::{app, gzip, serve, within};
use tcpserver::httpserver::HttpOptions;

/// Runs curl with `args` (on a blocking thread, so the server keeps running) and returns
/// its output; stdout is the response body, stderr its `-v` trace.
async fn curl(args: Vec<String>) -> Output {
    let output = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["--silent", "--show-error", "--verbose", "--max-time", "20"])
            .args(&args)
            .output()
            .expect("run curl (is it installed? scripts/test-all installs it)")
    });
    within(output).await.unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

/// A file of `data` in a fresh temporary directory.
fn temp_file(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpserver-http-clients-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

fn upload_arg(path: &Path) -> String {
    format!("@{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reuses_keep_alive_connections() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let out = curl(vec![url(addr, "/"), url(addr, "/")]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Hello worldHello world");
    assert!(
        stderr(&out).contains("Re-using existing connection"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_http10_connections_close() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let out = curl(vec!["--http1.0".into(), url(addr, "/"), url(addr, "/")]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Hello worldHello world");
    let trace = stderr(&out);
    assert!(trace.contains("< HTTP/1.0 200 OK"), "{trace}");
    assert!(!trace.contains("Re-using existing connection"), "{trace}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_chunked_upload() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let data: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let file = temp_file("chunked.bin", &data);
    let out = curl(vec![
        "-H".into(),
        "Transfer-Encoding: chunked".into(),
        "--data-binary".into(),
        upload_arg(&file),
        url(addr, "/echo"),
    ])
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("> Transfer-Encoding: chunked"));
    assert!(out.stdout == data, "echoed body differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_expect_100_continue() {
    let (_server, addr) = serve(HttpOptions::new(), app);
    let file = temp_file("expect.bin", &vec![b'e'; 2 << 20]);
    let out = curl(vec![
        "-H".into(),
        "Expect: 100-continue".into(),
        "--data-binary".into(),
        upload_arg(&file),
        url(addr, "/len"),
    ])
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("HTTP/1.1 100 Continue"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), (2 << 20).to_string());

    // Refused before the body is sent: no 100 Continue, a 413.
    let (_server, addr) = serve(HttpOptions::new().max_body_size(1 << 20), app);
    let out = curl(vec![
        "-H".into(),
        "Expect: 100-continue".into(),
        "--write-out".into(),
        "%{http_code}".into(),
        "--data-binary".into(),
        upload_arg(&file),
        url(addr, "/len"),
    ])
    .await;
    assert_eq!(stdout(&out), "413", "{}", stderr(&out));
    assert!(!stderr(&out).contains("100 Continue"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_gzip_upload_with_decompress_request() {
    let (_server, addr) = serve(HttpOptions::new().decompress_request(true), app);
    let text: Vec<u8> = b"tornado on tokio\n".repeat(10_000);
    let file = temp_file("upload.gz", &gzip(&text));
    let out = curl(vec![
        "-H".into(),
        "Content-Encoding: gzip".into(),
        "--data-binary".into(),
        upload_arg(&file),
        url(addr, "/echo"),
    ])
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout == text, "inflated body differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_https_requests_know_they_are_https() {
    use tcpserver::TcpServer;
    use tcpserver::tls::TlsConfig;
    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/certs");
    let tls = TlsConfig::from_pem(certs.join("server.pem")).unwrap();
    let server = tcpserver::HttpServer::builder()
        .options(HttpOptions::new().xheaders(true))
        .tcp(TcpServer::builder().tls(tls))
        .build(app);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let https = |path: &str| format!("https://localhost:{}{path}", addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", addr.port());
    let ca = certs.join("ca.pem").display().to_string();
    let out = curl(vec![
        "--cacert".into(),
        ca.clone(),
        "--resolve".into(),
        resolve.clone(),
        https("/proto"),
        https("/proto"),
    ])
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "httpshttps");
    assert!(
        stderr(&out).contains("Re-using existing connection"),
        "{}",
        stderr(&out)
    );
    // A proxy's X-Scheme still wins (Tornado's SSLXHeaderTest).
    let out = curl(vec![
        "--cacert".into(),
        ca.clone(),
        "--resolve".into(),
        resolve.clone(),
        "-H".into(),
        "X-Scheme: http".into(),
        https("/proto"),
    ])
    .await;
    assert_eq!(stdout(&out), "http", "{}", stderr(&out));
    // A large upload over TLS.
    let file = temp_file("tls-upload.bin", &vec![b't'; 5000]);
    let out = curl(vec![
        "--cacert".into(),
        ca,
        "--resolve".into(),
        resolve,
        "--data-binary".into(),
        upload_arg(&file),
        https("/len"),
    ])
    .await;
    assert_eq!(stdout(&out), "5000", "{}", stderr(&out));
    // Plain HTTP to the TLS port fails cleanly and costs the server nothing.
    let plain = curl(vec![url(addr, "/")]).await;
    assert!(!plain.status.success());
    let ok = curl(vec![
        "--cacert".into(),
        certs.join("ca.pem").display().to_string(),
        "--resolve".into(),
        format!("localhost:{}:127.0.0.1", addr.port()),
        https("/"),
    ])
    .await;
    assert_eq!(stdout(&ok), "Hello world");
}

// ----- nginx -----

/// nginx's `location` blocks for these tests (the upstream is named `backend`).
const LOCATIONS: &str = r#"
        # The usual proxy headers, over kept-alive upstream connections.
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
        # Only X-Forwarded-For, as if TLS ended here.
        location /xff/ {
            proxy_pass http://backend/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
        }
"#;

/// GET `path` through nginx from the loopback address `source`, with extra `headers`.
async fn get_via(nginx: SocketAddr, source: [u8; 4], path: &str, headers: &str) -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let mut stream = within(socket.connect(nginx)).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: proxied.example\r\n{headers}Connection: close\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    let mut response = Vec::new();
    within(tokio::io::AsyncReadExt::read_to_end(
        &mut stream,
        &mut response,
    ))
    .await
    .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xheaders_behind_nginx() {
    let (_server, backend) = serve(HttpOptions::new().xheaders(true), app);
    let nginx = tokio::task::spawn_blocking(move || Nginx::start(backend, LOCATIONS))
        .await
        .unwrap();
    // Clients on different loopback addresses, over nginx's kept-alive upstream
    // connections: each request gets its own client's address, nothing carries over.
    for source in [
        [127, 0, 0, 2],
        [127, 0, 0, 3],
        [127, 0, 0, 2],
        [127, 0, 0, 4],
    ] {
        let expected = std::net::Ipv4Addr::from(source).to_string();
        assert_eq!(get_via(nginx.addr, source, "/ip", "").await, expected);
        // A spoofed X-Forwarded-For loses to nginx's X-Real-IP.
        let spoofed = get_via(nginx.addr, source, "/ip", "X-Forwarded-For: 6.6.6.6\r\n").await;
        assert_eq!(spoofed, expected);
        assert_eq!(get_via(nginx.addr, source, "/proto", "").await, "http");
    }
    // X-Forwarded-For alone is read from the right: the spoofed entry is ignored.
    let via_xff = get_via(
        nginx.addr,
        [127, 0, 0, 5],
        "/xff/ip",
        "X-Forwarded-For: 6.6.6.6\r\n",
    )
    .await;
    assert_eq!(via_xff, "127.0.0.5");
    assert_eq!(
        get_via(nginx.addr, [127, 0, 0, 5], "/xff/proto", "").await,
        "https"
    );
    drop(nginx);
}

/// The TLS details reach an HTTP handler: an mTLS client's certificate (its subject read
/// in the handler), the SNI name, the version; nothing over plain HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_client_certificate_reaches_the_handler() {
    use tcpserver::TcpServer;
    use tcpserver::httpserver::{Body, RequestExt};
    use tcpserver::tls::{ClientAuth, TlsConfig};

    async fn whoami(request: http::Request<Body>) -> http::Response<String> {
        let Some(tls) = request.context().and_then(|ctx| ctx.tls()) else {
            return http::Response::new("plain".into());
        };
        let subject = match tls.peer_certificates().first() {
            Some(der) => {
                let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
                cert.subject().to_string()
            }
            None => "none".into(),
        };
        http::Response::new(format!(
            "subject={subject} sni={} version={:?} alpn={:?}",
            tls.server_name().unwrap_or("-"),
            tls.protocol_version(),
            tls.alpn_protocol().map(String::from_utf8_lossy),
        ))
    }

    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/certs");
    let tls = TlsConfig::builder()
        .pem(certs.join("server.pem"))
        .client_ca(certs.join("ca.pem"), ClientAuth::Optional)
        .build()
        .unwrap();
    let server = tcpserver::HttpServer::builder()
        .tcp(TcpServer::builder().tls(tls))
        .build(whoami);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    let cert = |with: bool| {
        let mut args = vec![
            "--cacert".to_owned(),
            certs.join("ca.pem").display().to_string(),
            "--resolve".to_owned(),
            format!("localhost:{}:127.0.0.1", addr.port()),
            "--tlsv1.3".to_owned(),
        ];
        if with {
            args.push("--cert".to_owned());
            args.push(certs.join("client.pem").display().to_string());
        }
        args.push(format!("https://localhost:{}/", addr.port()));
        args
    };
    let out = curl(cert(true)).await;
    assert_eq!(
        stdout(&out),
        "subject=O=tcpserver tests, CN=test client sni=localhost version=TLSv1_3 alpn=None",
        "{}",
        stderr(&out)
    );
    let out = curl(cert(false)).await;
    assert!(
        stdout(&out).starts_with("subject=none sni=localhost"),
        "{}",
        stderr(&out)
    );

    let plain = tcpserver::HttpServer::new(whoami);
    let plain_addr = plain.listen(0, Some("127.0.0.1")).unwrap()[0];
    assert_eq!(stdout(&curl(vec![url(plain_addr, "/")]).await), "plain");
}
