use http::Response;
use tcpserver::http_server;

#[http_server(port = 8080)]
async fn hello(_request: String) -> Response<String> {
    Response::new(String::new())
}
