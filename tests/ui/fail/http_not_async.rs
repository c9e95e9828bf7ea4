use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

#[http_server(port = 8080)]
fn hello(_request: Request<Body>) -> Response<String> {
    Response::new(String::new())
}
