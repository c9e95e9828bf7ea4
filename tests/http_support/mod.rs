//! Shared by the HTTP test files: a test application, an in-process server, and a raw
//! HTTP/1 client that reads exactly what the server sent.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use tcpserver::HttpServer;
use tcpserver::httpserver::{Body, BoxError, HttpOptions, IntoHttpHandler, RequestExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Fails the test if `fut` takes more than 20 s.
pub async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    timeout(Duration::from_secs(20), fut)
        .await
        .expect("timed out")
}

/// An HTTP server on 127.0.0.1, on an ephemeral port.
pub fn serve<M>(
    options: HttpOptions,
    handler: impl IntoHttpHandler<M>,
) -> (HttpServer, SocketAddr) {
    let server = HttpServer::builder().options(options).build(handler);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];
    (server, addr)
}

fn text(status: StatusCode, body: impl Into<Body>) -> Response<Body> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
}

/// The test application (Tornado's test handlers, by path).
pub async fn app(request: Request<Body>) -> Result<Response<Body>, BoxError> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    Ok(match path.as_str() {
        "/" | "/hello" => text(StatusCode::OK, "Hello world"),
        "/ip" => text(StatusCode::OK, request.remote_ip().unwrap().to_string()),
        "/proto" => text(StatusCode::OK, request.protocol().unwrap().as_str()),
        "/echo" => {
            let body = request.into_body().collect().await?.to_bytes();
            text(StatusCode::OK, body)
        }
        "/len" => {
            let body = request.into_body().collect().await?.to_bytes();
            text(StatusCode::OK, body.len().to_string())
        }
        "/upload" => {
            // Tornado's set_max_body_size from `prepare`: for this request only.
            let mut body = request.into_body();
            body.limits_mut().set_max_body_size(10240);
            let body = body.collect().await?.to_bytes();
            text(StatusCode::OK, body.len().to_string())
        }
        "/encoding" => {
            let header = |name: &str| {
                request
                    .headers()
                    .get(name)
                    .map_or("-".to_owned(), |v| v.to_str().unwrap().to_owned())
            };
            let summary = format!(
                "ce={} xcce={} cl={}",
                header("content-encoding"),
                header("x-consumed-content-encoding"),
                header("content-length"),
            );
            let body = request.into_body().collect().await?.to_bytes();
            text(
                StatusCode::OK,
                format!("{summary} body={}", String::from_utf8_lossy(&body)),
            )
        }
        "/large" => text(StatusCode::OK, vec![b'x'; 512 * 1024]),
        "/sleep" => {
            let ms: u64 = query
                .strip_prefix("ms=")
                .and_then(|v| v.parse().ok())
                .unwrap_or(500);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            text(StatusCode::OK, "slept")
        }
        "/forever" => std::future::pending().await,
        "/error" => return Err("the handler failed".into()),
        "/panic" => panic!("the handler panicked"),
        _ => text(StatusCode::NOT_FOUND, Bytes::from_static(b"not found")),
    })
}

/// One response as read off the wire.
#[derive(Debug)]
pub struct HttpResponse {
    pub status_line: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw client connection.
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
    eof: bool,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> Self {
        RawConn {
            stream: within(TcpStream::connect(addr)).await.unwrap(),
            buf: Vec::new(),
            eof: false,
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        within(self.stream.write_all(bytes)).await.unwrap();
    }

    /// Reads more bytes; false at EOF (or reset).
    async fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let mut chunk = [0u8; 16384];
        match within(self.stream.read(&mut chunk)).await {
            Ok(0) | Err(_) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    async fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    async fn take_until(&mut self, delimiter: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self
                .buf
                .windows(delimiter.len())
                .position(|w| w == delimiter)
            {
                return Some(self.buf.drain(..i + delimiter.len()).collect());
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// The next response (a 1xx one included); `None` if the server closed first.
    pub async fn response(&mut self) -> Option<HttpResponse> {
        let head = self.take_until(b"\r\n\r\n").await?;
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap().to_owned();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        let mut response = HttpResponse {
            status_line,
            status,
            headers,
            body: Vec::new(),
        };
        if (100..200).contains(&status) {
            return Some(response);
        }
        if let Some(len) = response.header("content-length") {
            let len: usize = len.parse().unwrap();
            response.body = self.take(len).await?;
        } else if response
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let line = self.take_until(b"\r\n").await?;
                let size =
                    usize::from_str_radix(String::from_utf8_lossy(&line).trim(), 16).unwrap();
                let data = self.take(size + 2).await?;
                if size == 0 {
                    break;
                }
                response.body.extend_from_slice(&data[..size]);
            }
        } else {
            response.body = self.read_to_end().await;
        }
        Some(response)
    }

    /// Everything until the server closes.
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buf)
    }

    /// How long the server takes to close the connection (with nothing more to read);
    /// panics if it does not within 10 s.
    pub async fn time_to_close(&mut self) -> Duration {
        let start = std::time::Instant::now();
        assert!(
            self.closed_within(Duration::from_secs(10)).await,
            "not closed"
        );
        start.elapsed()
    }

    /// True if the server closes the connection (with nothing more to read) within `d`.
    pub async fn closed_within(&mut self, d: Duration) -> bool {
        match timeout(d, self.read_to_end()).await {
            Ok(rest) => rest.is_empty(),
            Err(_) => false,
        }
    }
}

/// Sends `request` on a new connection and returns everything until the server closes.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut conn = RawConn::connect(addr).await;
    conn.send(request).await;
    String::from_utf8_lossy(&conn.read_to_end().await).into_owned()
}

/// Sends `request` on a new connection and returns the first response.
pub async fn request(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut conn = RawConn::connect(addr).await;
    conn.send(request).await;
    conn.response().await.expect("a response")
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
