use http::Request;
use tcpserver::http_server;
use tcpserver::httpserver::Body;

#[http_server(port = 8080)]
async fn hello(_request: Request<Body>) -> String {
    "Hello, world".to_owned()
}
