// `codec` is code that makes a codec, not a string.
use tcpserver::codec::Context;
use tcpserver::tcp_server;

#[tcp_server(port = 8888, codec = "LinesCodec::new()")]
async fn handle(_line: String, _ctx: &mut Context) -> Option<String> {
    None
}
