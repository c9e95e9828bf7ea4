// The handler stays an ordinary async function: this calls it on a real connection, as a
// unit test of the handler would. The attribute sits in a block: see every_key.rs.
use std::net::SocketAddr;

use tcpserver::iostream::StreamOptions;
use tcpserver::{IoStream, tcp_server};

fn main() {
    #[tcp_server(port = 0, address = "127.0.0.1")]
    async fn greet(mut stream: IoStream, addr: SocketAddr) -> tcpserver::Result<()> {
        stream.write(format!("hello, {}\n", addr.ip()).as_bytes()).await
    }
    let _ = main;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = IoStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (tcp, addr) = listener.accept().await.unwrap();
        greet(IoStream::new(tcp, StreamOptions::new()), addr)
            .await
            .unwrap();
        let reply = client.read_until(b"\n", None).await.unwrap();
        assert_eq!(reply, b"hello, 127.0.0.1\n");
    });
}
