//! Holds `--conns N` connections to the echo server at `--addr` at once, opened from
//! several loopback source addresses (127.0.0.2, 127.0.0.3, ...: one address has about
//! 28,000 ephemeral ports), and measures:
//!
//! 1. opening: every connection is opened and sends one line as soon as it is connected;
//!    then every reply is read. Connections accepted and answered per second.
//! 2. one more round trip on each connection in turn: the time to echo once on every
//!    connection while all of them are open.
//! 3. the server's (`--pid`) RSS growth per connection, measured after step 1.
//!
//! Prints one JSON line. The descriptor limit (`ulimit -n`) must allow N connections.
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tcpserver_bench::{arg, rss_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Connections per source address, well inside the default ephemeral port range.
const PER_SOURCE: usize = 25_000;

/// Connections opened at once.
const BATCH: usize = 256;

/// Reads one reply line (they are short) and checks it.
async fn read_line(stream: &mut TcpStream, expected: &[u8]) -> std::io::Result<()> {
    let mut got = [0u8; 16];
    let mut n = 0;
    while n < expected.len() {
        let k = stream.read(&mut got[n..expected.len()]).await?;
        if k == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        n += k;
    }
    if &got[..n] != expected {
        return Err(std::io::Error::other("a wrong echo"));
    }
    Ok(())
}

async fn connect(addr: SocketAddr, index: usize) -> std::io::Result<TcpStream> {
    let source = Ipv4Addr::new(127, 0, 0, 2 + (index / PER_SOURCE) as u8);
    let socket = TcpSocket::new_v4()?;
    // The port is chosen at connect time, for the whole 4-tuple: a bind to port 0 would
    // search for a port free on its own, which grows slow (milliseconds) once tens of
    // thousands are taken or in TIME_WAIT from earlier runs.
    nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::IpBindAddressNoPort,
        &true,
    )
    .map_err(std::io::Error::from)?;
    socket.bind(SocketAddr::new(source.into(), 0))?;
    socket.connect(addr).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = arg(&args, "--addr", "127.0.0.1:8888".parse().unwrap());
    let pid: u32 = arg(&args, "--pid", 0);
    let conns: usize = arg(&args, "--conns", 100_000);

    // Warm the server up before the baseline.
    {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(b"warm\n").await?;
        read_line(&mut s, b"warm\n").await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);

    let opening = Instant::now();
    let mut streams = Vec::with_capacity(conns);
    // In batches, as clients arrive: the server's accept loop is what is measured, not
    // one client's connect latency.
    let mut next = 0;
    while next < conns {
        let mut batch = tokio::task::JoinSet::new();
        for i in next..(next + BATCH).min(conns) {
            batch.spawn(async move {
                let mut stream = connect(addr, i).await?;
                stream.write_all(b"hi\n").await?;
                Ok::<_, std::io::Error>(stream)
            });
        }
        next += BATCH;
        while let Some(stream) = batch.join_next().await {
            streams.push(stream.map_err(std::io::Error::other)??);
        }
    }
    for stream in &mut streams {
        read_line(stream, b"hi\n").await?;
    }
    let opened = opening.elapsed();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = rss_kib(pid);

    let round = Instant::now();
    for stream in &mut streams {
        stream.write_all(b"ping\n").await?;
        read_line(stream, b"ping\n").await?;
    }
    let echoed = round.elapsed();
    println!(
        "{{\"conns\": {conns}, \"sources\": {}, \"open_seconds\": {:.3}, \"accepts_per_second\": {:.0}, \
         \"echo_all_seconds\": {:.3}, \"rss_before_kib\": {before}, \"rss_after_kib\": {after}, \
         \"bytes_per_conn\": {:.0}}}",
        conns.div_ceil(PER_SOURCE),
        opened.as_secs_f64(),
        conns as f64 / opened.as_secs_f64(),
        echoed.as_secs_f64(),
        after.saturating_sub(before) as f64 * 1024.0 / conns as f64
    );
    Ok(())
}
