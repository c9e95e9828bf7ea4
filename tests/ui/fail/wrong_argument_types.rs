use tcpserver::tcp_server;
use tokio::net::TcpStream;

#[tcp_server(port = 8888)]
async fn echo(_stream: TcpStream, _addr: String) {}
