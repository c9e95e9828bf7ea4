use std::net::SocketAddr;

use tcpserver::{IoStream, tcp_server};

// A file mode is octal: 660 here would be the mode 0o1224.
#[tcp_server(port = 8888, unix = "/run/echo.sock", unix_mode = 660)]
async fn echo(_stream: IoStream, _addr: SocketAddr) {}
