// `crate = "..."` on `#[http_server]`, for a runtime crate that goes by another name. Each
// attribute sits in its own block: see every_key.rs for why.
extern crate tcpserver as tcp;

use http::{Request, Response};
use tcp::httpserver::Body;

// A re-export, as a facade crate would have it.
mod facade {
    pub use tcpserver as server;
}

// A local item named like the crate: without `crate`, the generated code still reaches
// the real crate, because it names it `::tcpserver`.
#[allow(dead_code)]
mod tcpserver {
    pub struct Launcher;
    pub mod httpserver {
        pub struct HttpOptions;
    }
}

fn main() {
    {
        #[tcp::http_server(port = 1, crate = "tcp", protocol = "https")]
        async fn renamed(_request: Request<Body>) -> Response<String> {
            Response::new(String::new())
        }
        let _ = main;
    }
    {
        #[facade::server::http_server(port = 1, crate = "crate::facade::server", protocol = "http")]
        async fn reexported(_request: Request<Body>) -> Response<String> {
            Response::new(String::new())
        }
        let _ = main;
    }
    {
        #[::tcpserver::http_server(port = 1, xheaders = true)]
        async fn shadowed(_request: Request<Body>) -> Response<String> {
            Response::new(String::new())
        }
        let _ = main;
    }
}
