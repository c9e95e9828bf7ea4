// Every return type a handler may have. Each attribute sits in its own block: see
// every_key.rs for why.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

fn main() {
    {
        #[tcp_server(port = 1)]
        async fn nothing(_stream: IoStream, _addr: SocketAddr) {}
        let _ = main;
    }
    {
        #[tcp_server(port = 1)]
        async fn unit(_stream: IoStream, _addr: SocketAddr) -> () {}
        let _ = main;
    }
    {
        #[tcp_server(port = 1)]
        async fn io_error(_stream: IoStream, _addr: SocketAddr) -> Result<(), std::io::Error> {
            Ok(())
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1)]
        async fn io_result(_stream: IoStream, _addr: SocketAddr) -> std::io::Result<()> {
            Ok(())
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1)]
        async fn ours(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
            stream.write(b"bye\n").await
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1)]
        async fn message(_stream: IoStream, addr: SocketAddr) -> Result<(), String> {
            Err(format!("{addr} is not welcome"))
        }
        let _ = main;
    }
    {
        #[tcp_server(port = 1)]
        async fn boxed(
            _stream: IoStream,
            _addr: SocketAddr,
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            Ok(())
        }
        let _ = main;
    }
}
