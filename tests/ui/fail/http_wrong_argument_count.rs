use std::net::SocketAddr;

use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

#[http_server(port = 8080)]
async fn hello(_request: Request<Body>, _addr: SocketAddr) -> Response<String> {
    Response::new(String::new())
}
