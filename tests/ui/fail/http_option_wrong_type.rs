use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

// Each HTTP option given a value of the wrong type: every mistake in one build.
#[http_server(
    port = 8080,
    xheaders = "yes",
    no_keep_alive = "true",
    max_body_size = true,
    body_timeout = "soon",
    chunk_size = 0,
)]
async fn hello(_request: Request<Body>) -> Response<String> {
    Response::new(String::new())
}
