// With `codec`, a handler returns its answer: `Option<Response>`.
use tcpserver::codec::Context;
use tcpserver::tcp_server;

#[tcp_server(port = 8888, codec = tcpserver::codec::LinesCodec::new())]
async fn handle(_line: String, _ctx: &mut Context) -> String {
    String::new()
}
