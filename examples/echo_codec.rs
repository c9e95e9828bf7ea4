//! The line echo server written as a codec handler: the framing is `LinesCodec`, the handler
//! a function from line to line. A client that pipelines (sends many lines before reading)
//! gets the answers to all the lines already received in one write.
//!
//! ```sh
//! cargo run --example echo_codec -- --port 8888     # then: nc localhost 8888
//! ```
use tcpserver::codec::{Context, LinesCodec};
use tcpserver::tcp_server;

/// A line echo server on a codec: every line a client sends comes back.
#[tcp_server(port = 8888, codec = LinesCodec::new_with_max_length(64 * 1024))]
async fn echo_codec(line: String, _ctx: &mut Context) -> Option<String> {
    Some(line)
}
