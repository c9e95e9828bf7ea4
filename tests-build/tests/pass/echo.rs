// The README's ten-line echo, with the default features. trybuild runs pass cases, so the
// attribute sits in a block of this file's own `main`, where the `main` it generates is a
// nested function: compiled and type-checked, never called.
use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

fn main() {
    #[tcp_server(port = 8888, processes = 0)]
    async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
        loop {
            let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
            stream.write(&line).await?;
        }
    }
    let _: fn() -> std::process::ExitCode = main;
}
