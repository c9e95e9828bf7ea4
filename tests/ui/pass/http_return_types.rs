// Every shape of request handler `#[http_server]` accepts: any response body, and
// `Result<Response<B>, E>` for any error that converts to `Box<dyn Error + Send + Sync>`.
// Each attribute sits in its own block: see every_key.rs for why.
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use tcpserver::http_server;
use tcpserver::httpserver::{Body, BodyError};

fn main() {
    {
        #[http_server(port = 1)]
        async fn string(_request: Request<Body>) -> Response<String> {
            Response::new(String::new())
        }
        let _ = main;
    }
    {
        #[http_server(port = 1)]
        async fn qualified(
            _request: http::Request<tcpserver::httpserver::Body>,
        ) -> http::Response<Full<Bytes>> {
            Response::new(Full::new(Bytes::from_static(b"hi")))
        }
        let _ = main;
    }
    {
        #[http_server(port = 1)]
        async fn io_error(_request: Request<Body>) -> Result<Response<Empty<Bytes>>, std::io::Error> {
            Ok(Response::new(Empty::new()))
        }
        let _ = main;
    }
    {
        #[http_server(port = 1)]
        async fn body_error(request: Request<Body>) -> Result<Response<Full<Bytes>>, BodyError> {
            let body = request.into_body().collect().await?.to_bytes();
            let mut response = Response::new(Full::new(body));
            *response.status_mut() = StatusCode::CREATED;
            Ok(response)
        }
        let _ = main;
    }
    {
        #[http_server(port = 1)]
        async fn boxed(
            _request: Request<Body>,
        ) -> Result<Response<String>, Box<dyn std::error::Error + Send + Sync>> {
            Err("not today".into())
        }
        let _ = main;
    }
    {
        #[http_server(port = 1)]
        async fn message(_request: Request<Body>) -> std::result::Result<Response<String>, String> {
            Err("not today".to_owned())
        }
        let _ = main;
    }
}
