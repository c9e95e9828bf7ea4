use http::{Request, Response};
use tcpserver::http_server;

#[http_server(port = 8080)]
async fn hello(_request: Request<String>) -> Response<String> {
    Response::new("Hello, world".to_owned())
}
