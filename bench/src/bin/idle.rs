//! Opens `--conns N` connections to `--addr`, makes one round trip on each so every
//! handler is parked in a read, then reports how much the server process `--pid` grew
//! (VmRSS) per connection. Prints one JSON line.
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tcpserver_bench::{arg, rss_kib};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = arg(&args, "--addr", "127.0.0.1:8888".parse().unwrap());
    let pid: u32 = arg(&args, "--pid", 0);
    let conns: usize = arg(&args, "--conns", 10_000);
    // Warm the server up (runtime, first-connection allocations) before the baseline.
    {
        let mut s = BufReader::new(TcpStream::connect(addr).unwrap());
        s.get_mut().write_all(b"warm\n").unwrap();
        let mut l = String::new();
        s.read_line(&mut l).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib(pid);
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        streams.push(BufReader::new(TcpStream::connect(addr).unwrap()));
    }
    for s in &mut streams {
        s.get_mut().write_all(b"hi\n").unwrap();
    }
    let mut line = String::new();
    for s in &mut streams {
        line.clear();
        s.read_line(&mut line).unwrap();
    }
    std::thread::sleep(Duration::from_millis(1000));
    let after = rss_kib(pid);
    println!(
        "{{\"conns\": {conns}, \"rss_before_kib\": {before}, \"rss_after_kib\": {after}, \"bytes_per_conn\": {:.0}}}",
        (after.saturating_sub(before)) as f64 * 1024.0 / conns as f64
    );
}
