//! The anchor: a line echo server written by hand with tokio, as anyone would
//! (`BufReader` + `read_until` + `write_all`). `--flavor current` or `multi`.
//! Prints `listening on ADDR` like the project's servers.
use tcpserver_bench::arg;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

async fn serve(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    eprintln!("listening on {}", listener.local_addr().unwrap());
    loop {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut reader = BufReader::new(read);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if write.write_all(&line).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = arg(&args, "--port", 0);
    let flavor: String = arg(&args, "--flavor", "current".to_owned());
    let runtime = if flavor == "multi" {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .unwrap();
    runtime.block_on(serve(port));
}
