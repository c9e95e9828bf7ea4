//! The `websocket_echo` example (an HTTP upgrade to WebSocket on `#[http_server]`) run as a
//! user would, against real clients: Python's `websockets` package over `ws://` and
//! `wss://`, the same through nginx as a reverse proxy, and raw bytes for the edge cases.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tcpserver_tests::nginx::Nginx;
use tcpserver_tests::proc::ServerProcess;
use tcpserver_tests::python::python_with;

const CLIENT: &str = r#"
import asyncio, ssl, sys
from websockets.asyncio.client import connect

async def main(url, ca):
    context = ssl.create_default_context(cafile=ca) if url.startswith("wss:") else None
    async with connect(url, ssl=context, max_size=None) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01binary")
        assert await ws.recv() == b"\x00\x01binary"
        big = "x" * 200_000
        await ws.send(big)
        assert await ws.recv() == big
        await asyncio.wait_for(await ws.ping(), 10)
        if sys.argv[3:] == ["wait"]:
            print("ready", flush=True)
            try:
                await ws.recv()
            except Exception:
                pass
            print("closed", ws.close_code, ws.close_reason, flush=True)
            return
    print("closed", ws.close_code, flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

fn certs() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs"))
}

/// Runs the Python client against `url`; returns its output, panicking if it failed.
fn python_client(url: &str) -> String {
    let python = python_with(&["websockets"]);
    let output = Command::new(python)
        .args(["-c", CLIENT, url])
        .arg(certs().join("ca.pem"))
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "client for {url} failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn start(extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--port", "0", "--address", "127.0.0.1"];
    args.extend_from_slice(extra);
    ServerProcess::start("websocket_echo", &args)
}

#[test]
fn python_client_over_ws() {
    let server = start(&[]);
    let url = format!("ws://{}/", server.addr());
    assert_eq!(python_client(&url), "closed 1000\n");
    server.stop();
}

#[test]
fn python_client_over_wss() {
    let pem = certs().join("server.pem");
    let server = start(&["--tls", pem.to_str().unwrap()]);
    let url = format!("wss://localhost:{}/", server.addr().port());
    assert_eq!(python_client(&url), "closed 1000\n");
    server.stop();
}

#[test]
fn python_client_through_nginx() {
    let server = start(&[]);
    let nginx = Nginx::start(
        server.addr(),
        r#"
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
        }
"#,
    );
    let url = format!("ws://{}/", nginx.addr);
    assert_eq!(python_client(&url), "closed 1000\n");
    drop(nginx);
    server.stop();
}

/// A graceful shutdown says goodbye with a close frame (1001, going away), and the server
/// waits for the close handshake before it exits.
#[test]
fn shutdown_closes_with_going_away() {
    let server = start(&[]);
    let python = python_with(&["websockets"]);
    let mut client = Command::new(python)
        .args(["-c", CLIENT, &format!("ws://{}/", server.addr())])
        .arg(certs().join("ca.pem"))
        .arg("wait")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    server.signal(Signal::SIGTERM);
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "closed 1001 server shutting down"
    );
    assert!(client.wait().unwrap().success());
    server.stop();
}

/// The upgrade request and the first frame in one write: the frame, already read by the
/// HTTP server, reaches the WebSocket side (it comes with the upgraded stream).
#[test]
fn first_frame_in_the_upgrade_request_packet() {
    let server = start(&[]);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    request.extend(masked_text_frame(b"hi"));
    stream.write_all(&request).unwrap();
    let head = read_head(&mut stream);
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    // RFC 6455's own example key and accept value.
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    let mut frame = [0u8; 4];
    stream.read_exact(&mut frame).unwrap();
    assert_eq!(&frame, b"\x81\x02hi");
    drop(stream);
    server.stop();
}

/// Requests that are not upgrades are plain HTTP: answered, and the connection kept.
#[test]
fn plain_requests_get_http_answers() {
    let server = start(&[]);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for _ in 0..2 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let head = read_head(&mut stream);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        let mut body = vec![0u8; "this is a WebSocket endpoint\n".len()];
        stream.read_exact(&mut body).unwrap();
    }
    // An unsupported version gets 426 with the version we speak.
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        )
        .unwrap();
    let head = read_head(&mut stream);
    assert!(
        head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{head}"
    );
    drop(stream);
    server.stop();
}

fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads a response head, byte by byte so that nothing after it is consumed.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        stream.read_exact(&mut byte).expect("response head");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}
