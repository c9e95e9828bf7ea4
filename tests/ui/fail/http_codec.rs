// An HTTP server's framing is HTTP: `codec` is `#[tcp_server]`'s.
use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

#[http_server(port = 8080, codec = tcpserver::codec::LinesCodec::new())]
async fn hello(_request: Request<Body>) -> Response<String> {
    Response::new(String::new())
}
