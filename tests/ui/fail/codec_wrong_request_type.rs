// The request is the codec's `Decoder::Item` (a `String` for `LinesCodec`): the compiler
// says so on the codec.
use tcpserver::codec::{Context, LinesCodec};
use tcpserver::tcp_server;

#[tcp_server(port = 8888, codec = LinesCodec::new())]
async fn handle(_line: Vec<u8>, _ctx: &mut Context) -> Option<String> {
    None
}
