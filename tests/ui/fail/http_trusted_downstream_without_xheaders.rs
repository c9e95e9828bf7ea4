use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

#[http_server(port = 8080, trusted_downstream = ["10.0.0.1"])]
async fn hello(_request: Request<Body>) -> Response<String> {
    Response::new(String::new())
}
