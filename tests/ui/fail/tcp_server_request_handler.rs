use http::{Request, Response};
use tcpserver::tcp_server;
use tcpserver::httpserver::Body;

// An HTTP request handler under `#[tcp_server]`.
#[tcp_server(port = 8888)]
async fn hello(_request: Request<Body>) -> Response<String> {
    Response::new(String::new())
}
