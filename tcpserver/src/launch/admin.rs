//! The admin listener: `GET /livez`, `/readyz` and `/metrics` for the orchestrator and the
//! scraper, on its own address.
//!
//! Bound once before the fork and served by every worker, like the application's sockets:
//! whichever worker accepts a probe answers it, and the answers come from memory every
//! worker shares ([`metrics`](crate::metrics)), so they do not depend on which one it was.
//!
//! The requests are a probe's or a scraper's: one small `GET` each. A request head is read
//! with plain tokio I/O (not an [`IoStream`](crate::IoStream), whose bytes would count as
//! the application's), answered, and the connection closed: no keep-alive, no body, no
//! HTTP library. Each connection has a deadline, so a stuck client holds nothing.
#![forbid(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::metrics;
use crate::netutil::{self, Family};

/// The largest request head answered; past it, 431.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request and read the answer.
const DEADLINE: Duration = Duration::from_secs(10);
/// After an accept error (out of file descriptors), how long to wait before accepting again.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Binds the admin listener, before the fork.
///
/// # Errors
///
/// The address cannot be bound; the message names it.
pub(super) fn bind(address: SocketAddr) -> io::Result<std::net::TcpListener> {
    let ip = address.ip().to_string();
    let mut sockets = netutil::bind_sockets(
        address.port(),
        Some(&ip),
        Family::Unspec,
        netutil::DEFAULT_BACKLOG,
        false,
    )
    .map_err(|e| io::Error::new(e.kind(), format!("admin listener: {e}")))?;
    sockets
        .pop()
        .ok_or_else(|| io::Error::other(format!("admin listener: {address} bound no socket")))
}

/// Answers the admin listener's connections until the runtime ends.
pub(super) async fn serve(listener: std::net::TcpListener) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!("admin listener: {e}");
            return;
        }
    };
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(async move {
                    // A client too slow or gone: nothing to report to anyone.
                    let _ = tokio::time::timeout(DEADLINE, answer(stream)).await;
                });
            }
            Err(e) => {
                tracing::warn!("admin listener: accept failed: {e}");
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
}

async fn answer(mut stream: TcpStream) -> io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let response = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&head, b"\r\n\r\n").or_else(|| find(&head, b"\n\n")) {
            break respond(&head[..end]);
        }
        if head.len() > MAX_HEAD {
            break Response::text(
                431,
                "Request Header Fields Too Large",
                "request head too large\n",
            );
        }
    };
    stream.write_all(&response.encode()).await?;
    stream.shutdown().await
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The answer to a request head.
fn respond(head: &[u8]) -> Response {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Response::text(400, "Bad Request", "malformed request line\n");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::text(400, "Bad Request", "HTTP/1.x only\n");
    }
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        let mut response = Response::text(405, "Method Not Allowed", "GET or HEAD only\n");
        response.allow = true;
        return response;
    }
    let path = target.split('?').next().unwrap_or_default();
    let mut response = match path {
        "/livez" => Response::text(200, "OK", "ok\n"),
        "/readyz" => readiness(),
        "/metrics" => match metrics::render() {
            Some(text) => Response {
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                ..Response::text(200, "OK", text)
            },
            None => Response::text(503, "Service Unavailable", "metrics are off\n"),
        },
        _ => Response::text(
            404,
            "Not Found",
            "not found: try /livez, /readyz or /metrics\n",
        ),
    };
    response.head_only = head_only;
    response
}

fn readiness() -> Response {
    match metrics::readiness() {
        metrics::Readiness::Ready => Response::text(200, "OK", "ready\n"),
        metrics::Readiness::Draining => {
            Response::text(503, "Service Unavailable", "not ready: draining\n")
        }
        metrics::Readiness::Starting { ready, workers } => Response::text(
            503,
            "Service Unavailable",
            format!("not ready: {ready} of {workers} workers accepting\n"),
        ),
    }
}

/// A whole response, closed after it is sent.
struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
    /// `HEAD`: the headers of the `GET` answer, no body.
    head_only: bool,
    /// 405: say which methods are allowed.
    allow: bool,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: impl Into<String>) -> Self {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            head_only: false,
            allow: false,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let allow = if self.allow {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        if !self.head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(head: &str) -> u16 {
        respond(head.as_bytes()).status
    }

    #[test]
    fn routes_and_methods() {
        assert_eq!(status("GET /livez HTTP/1.1\r\nHost: x"), 200);
        assert_eq!(status("GET /livez?verbose=1 HTTP/1.0"), 200);
        assert_eq!(status("GET /nothing HTTP/1.1"), 404);
        assert_eq!(status("POST /livez HTTP/1.1"), 405);
        assert!(respond(b"DELETE /livez HTTP/1.1").allow);
        assert_eq!(status("GET /livez"), 400);
        assert_eq!(status("GET /livez SPDY/3"), 400);
        let head = respond(b"HEAD /livez HTTP/1.1");
        assert!(head.head_only);
        let bytes = String::from_utf8(head.encode()).unwrap();
        assert!(bytes.contains("Content-Length: 3\r\n"), "{bytes}");
        assert!(bytes.ends_with("\r\n\r\n"), "{bytes}");
    }

    #[test]
    fn encodes_a_closed_response() {
        let bytes = Response::text(503, "Service Unavailable", "not ready\n").encode();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{text}"
        );
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nnot ready\n"), "{text}");
    }
}
