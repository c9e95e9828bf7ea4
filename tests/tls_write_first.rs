//! A server that speaks first does not spin while its TLS client has not finished the
//! handshake (Tornado #2373 burns a CPU until the ClientHello comes). Alone in its file so
//! that the process's CPU time is this test's.

mod tls_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tcpserver::tls::TlsConfig;
use tcpserver::{IoStream, TcpServer};
use tcpserver_tests::proc::cpu_time;
use tls_support::{STEP, cert, client_config, rustls_handshake};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_first_does_not_spin_before_the_handshake() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let greeter = move |mut stream: IoStream, _addr: SocketAddr| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move { stream.write(b"220 hello, you speak first?\n").await }
    };
    let tls = TlsConfig::from_pem(cert("server.pem")).unwrap();
    let server = TcpServer::builder().tls(tls).build(greeter);
    let addr = server.listen(0, Some("127.0.0.1")).unwrap()[0];

    // Connected, but no ClientHello for two seconds.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let quiet = Duration::from_secs(2);
    let cpu_before = cpu_time(std::process::id());
    tokio::time::sleep(quiet).await;
    let cpu_spent = cpu_time(std::process::id()) - cpu_before;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler ran before the handshake"
    );
    assert!(
        cpu_spent < Duration::from_millis(500),
        "{cpu_spent:?} of CPU in {quiet:?} of waiting"
    );

    let mut tls = rustls_handshake(tcp, client_config(&cert("ca.pem"), None, &[]))
        .await
        .unwrap();
    let mut greeting = vec![0; 28];
    tokio::time::timeout(STEP, tls.read_exact(&mut greeting))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(greeting, b"220 hello, you speak first?\n");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    drop(tls);
    assert!(server.shutdown(STEP).await);
}
