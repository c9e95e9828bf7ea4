// `crate = "..."` for a runtime crate that goes by another name. Each attribute sits in
// its own block: see every_key.rs for why.
extern crate tcpserver as tcp;

use std::net::SocketAddr;

use tcp::IoStream;

// A re-export, as a facade crate would have it.
mod facade {
    pub use tcpserver as server;
}

// A local item named like the crate: without `crate`, the generated code still reaches
// the real crate, because it names it `::tcpserver`.
#[allow(dead_code)]
mod tcpserver {
    pub struct Launcher;
}

fn main() {
    {
        // Renamed in the extern prelude, as a renamed dependency would be.
        #[tcp::tcp_server(port = 1, crate = "tcp", family = "ipv4", runtime = "current_thread")]
        async fn renamed(_stream: IoStream, _addr: SocketAddr) {}
        let _ = main;
    }
    {
        use facade::server as srv;
        #[srv::tcp_server(port = 1, crate = "srv", family = "ipv6", runtime = "multi_thread")]
        async fn imported(_stream: IoStream, _addr: SocketAddr) {}
        let _ = main;
    }
    {
        #[facade::server::tcp_server(port = 1, crate = "crate::facade::server", family = "unspec")]
        async fn reexported(_stream: IoStream, _addr: SocketAddr) {}
        let _ = main;
    }
    {
        #[::tcpserver::tcp_server(port = 1, runtime = "multi_thread")]
        async fn shadowed(_stream: IoStream, _addr: SocketAddr) {}
        let _ = main;
    }
}
