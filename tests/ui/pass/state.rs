// Application state in each form: a sync or async `init`, with any boxed-error type; the
// handler taking `&State` or `Arc<State>` (or not at all); an `on_shutdown` hook; and the
// same on `#[http_server]`. Each attribute sits in its own block: see every_key.rs for why.
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, Response};
use tcpserver::httpserver::Body;
use tcpserver::{IoStream, http_server, tcp_server};

struct Db {
    name: String,
}

fn connect() -> Result<Db, std::io::Error> {
    Ok(Db { name: "sync".into() })
}

async fn connect_async() -> Result<Db, String> {
    Ok(Db { name: "async".into() })
}

mod db {
    pub async fn open() -> Result<super::Db, Box<dyn std::error::Error + Send + Sync>> {
        Ok(super::Db { name: "path".into() })
    }
}

async fn close(db: Arc<Db>) {
    drop(db);
}

fn main() {
    {
        #[tcp_server(port = 1, state = connect)]
        async fn by_ref(_stream: IoStream, _addr: SocketAddr, db: &Db) {
            let _ = &db.name;
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1, state = connect_async, on_shutdown = close)]
        async fn by_arc(_s: IoStream, _a: SocketAddr, db: Arc<Db>) -> tcpserver::Result<()> {
            let _ = &db.name;
            Ok(())
        }
        let _ = main;
    }
    {
        // The state only for the hook: the handler need not take it.
        #[tcp_server(port = 1, state = db::open, on_shutdown = close, processes = 2)]
        async fn without(_stream: IoStream, _addr: SocketAddr) {}
        let _ = main;
    }
    {
        #[http_server(port = 1, state = connect)]
        async fn hello(_request: Request<Body>, db: &Db) -> Response<String> {
            Response::new(db.name.clone())
        }
        let _ = main;
    }
    {
        #[http_server(port = 1, state = db::open, on_shutdown = close)]
        async fn hello_arc(_request: Request<Body>, db: std::sync::Arc<Db>) -> Response<String> {
            Response::new(db.name.clone())
        }
        let _ = main;
    }
}
