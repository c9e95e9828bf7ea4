use tcpserver::tcp_server;

// Every mistake is reported in one build, each on its own token.
#[tcp_server(port = 8888, port = 1, colour = "blue", backlog = -5)]
fn echo(_stream: String) -> u8 {
    0
}
