// The compiler checks what the attribute cannot: here, that the handler's future can move
// between threads. The error points at the handler.
use http::{Request, Response};
use tcpserver::http_server;
use tcpserver::httpserver::Body;

#[http_server(port = 8080)]
async fn hello(_request: Request<Body>) -> Response<String> {
    let shared = std::rc::Rc::new(());
    tokio::task::yield_now().await;
    drop(shared);
    Response::new(String::new())
}
