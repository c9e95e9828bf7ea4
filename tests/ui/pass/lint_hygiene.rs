// The generated code trips no lint, even when the names it uses are in scope; and the
// handler, used by the generated `main`, is not dead code. The attribute sits in a block:
// see every_key.rs for why. (Clippy runs over the same expansion in tests/macro_handler.rs.)
#![deny(warnings, dead_code, unused, unused_qualifications, unused_results)]
#![deny(rust_2018_idioms, unreachable_pub, missing_debug_implementations, unsafe_code)]
#![deny(clippy::all, clippy::pedantic)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use tcpserver::launch::RuntimeFlavor;
use tcpserver::netutil::Family;
use tcpserver::{IoStream, Launcher, tcp_server};

fn main() {
    /// Greets every client.
    #[tcp_server(
        port = 8888,
        family = "ipv4",
        shutdown_timeout = "1.5s",
        runtime = "current_thread",
        max_buffer_size = "1MiB"
    )]
    async fn greet(mut stream: IoStream, addr: SocketAddr) -> tcpserver::Result<()> {
        stream.write(format!("hello, {addr}\n").as_bytes()).await
    }
    let generated: fn() -> ExitCode = main;

    // The names the generated code spells out in full are in scope here too.
    let _unused = (generated, Duration::ZERO, Family::V4, RuntimeFlavor::CurrentThread);
    let _builder: fn(u16) -> Launcher = Launcher::new;
}
