// The request handler stays an ordinary async function: a test calls it with a request it
// builds. The attribute sits in a block: see every_key.rs.
use http::{Request, Response};
use http_body_util::BodyExt;
use tcpserver::http_server;
use tcpserver::httpserver::{Body, BodyError, Protocol, RequestContext, RequestExt};

fn main() {
    #[http_server(port = 0, address = "127.0.0.1", xheaders = true)]
    async fn greet(request: Request<Body>) -> Result<Response<String>, BodyError> {
        let ip = request.remote_ip();
        let body = request.into_body().collect().await?.to_bytes();
        Ok(Response::new(format!("{ip:?} sent {} bytes", body.len())))
    }
    let _ = main;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = Request::new(Body::empty());
        let client = RequestContext::new("192.0.2.7:5000".parse().unwrap(), Protocol::Http);
        let _ = request.extensions_mut().insert(client);
        let response = greet(request).await.unwrap();
        assert_eq!(response.body(), "Some(192.0.2.7) sent 0 bytes");
    });
}
