// The compiler checks the response's body type: it must be an HTTP body.
use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

#[http_server(port = 8080)]
async fn hello(_request: Request<Body>) -> Response<u32> {
    Response::new(42)
}
