use tcpserver::tcp_server;

#[tcp_server(port = 8888)]
struct Echo;
