//! A WebSocket echo server on `#[http_server]`: the handler answers the upgrade request
//! with `101 Switching Protocols` and takes the connection over as an `IoStream`
//! (`httpserver::upgrade::on`), on which tokio-tungstenite speaks the protocol.
//! `cargo run --example websocket_echo -- --port 8080`; with `--certfile cert.pem --keyfile
//! key.pem` it serves `wss://`.
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header};
use tcpserver::http_server;
use tcpserver::httpserver::{Body, upgrade};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Message, handshake::derive_accept_key};

/// Echoes every text and binary message on `/`; anything else is a plain HTTP answer.
#[http_server(port = 8080)]
async fn websocket_echo(request: Request<Body>) -> Response<String> {
    let headers = request.headers();
    let asks = |name, value: &str| {
        headers.get_all(name).iter().any(|v| {
            (v.to_str().unwrap_or_default().split(','))
                .any(|token| token.trim().eq_ignore_ascii_case(value))
        })
    };
    let key = headers.get(header::SEC_WEBSOCKET_KEY);
    let (Some(key), true, true) = (
        key,
        asks(header::UPGRADE, "websocket"),
        asks(header::CONNECTION, "upgrade"),
    ) else {
        return answer(StatusCode::BAD_REQUEST, "this is a WebSocket endpoint\n");
    };
    if headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13")) {
        let mut response = answer(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 only\n");
        (response.headers_mut()).insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return response;
    }
    let accept = derive_accept_key(key.as_bytes());
    let connection = upgrade::on(&request);
    tokio::spawn(async move {
        let Ok(stream) = connection.await else { return };
        let shutdown = stream.shutdown_signal();
        let mut socket = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
        loop {
            tokio::select! {
                message = socket.next() => match message {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                        if socket.send(message).await.is_err() {
                            return;
                        }
                    }
                    // Pings are answered and closes acknowledged by tungstenite itself.
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return,
                },
                () = shutdown.requested() => {
                    let going_away = CloseFrame { code: CloseCode::Away, reason: "server shutting down".into() };
                    // Closing is a handshake: wait for the client's close frame.
                    if socket.close(Some(going_away)).await.is_ok() {
                        while let Some(Ok(_)) = socket.next().await {}
                    }
                    return;
                }
            }
        }
    });
    let mut response = answer(StatusCode::SWITCHING_PROTOCOLS, "");
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        accept.parse().expect("base64 is a header value"),
    );
    response
}

fn answer(status: StatusCode, text: &str) -> Response<String> {
    let mut response = Response::new(text.to_owned());
    *response.status_mut() = status;
    response
}
