//! Echo load generator: N connections sending fixed-size lines, ping-pong (one in flight
//! per connection) or pipelined (`--pipeline K` in flight). Prints one JSON line:
//! round trips, rate, and latency percentiles.
//!
//! ```sh
//! loadgen --addr 127.0.0.1:8888 --conns 50 --size 64 --duration 5 --warmup 1 [--pipeline 16]
//! ```
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tcpserver_bench::{arg, percentiles};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Totals {
    /// Round trips in the measured window.
    ops: u64,
    /// Round trips including the warm-up (to divide the server's whole CPU time by).
    all_ops: u64,
    samples: Vec<u32>,
    errors: u64,
}

async fn connection(
    addr: SocketAddr,
    size: usize,
    pipeline: usize,
    measure_from: Instant,
    until: Instant,
) -> Totals {
    let mut totals = Totals {
        ops: 0,
        all_ops: 0,
        samples: Vec::new(),
        errors: 0,
    };
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        totals.errors += 1;
        return totals;
    };
    let _ = stream.set_nodelay(true);
    let mut msg = vec![b'x'; size];
    msg[size - 1] = b'\n';
    let mut reply = vec![0u8; size];
    let mut sent_at = std::collections::VecDeque::with_capacity(pipeline);
    for _ in 0..pipeline {
        if stream.write_all(&msg).await.is_err() {
            totals.errors += 1;
            return totals;
        }
        sent_at.push_back(Instant::now());
    }
    loop {
        if stream.read_exact(&mut reply).await.is_err() {
            totals.errors += 1;
            return totals;
        }
        let now = Instant::now();
        let start = sent_at.pop_front().unwrap_or(now);
        totals.all_ops += 1;
        if now >= measure_from {
            totals.ops += 1;
            totals
                .samples
                .push(now.duration_since(start).as_micros().min(u32::MAX as u128) as u32);
        }
        if now >= until {
            return totals;
        }
        if stream.write_all(&msg).await.is_err() {
            totals.errors += 1;
            return totals;
        }
        sent_at.push_back(Instant::now());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = arg(&args, "--addr", "127.0.0.1:8888".parse().unwrap());
    let conns: usize = arg(&args, "--conns", 50);
    let size: usize = arg(&args, "--size", 64usize).max(2);
    let pipeline: usize = arg(&args, "--pipeline", 1usize).max(1);
    let duration = Duration::from_secs_f64(arg(&args, "--duration", 5.0));
    let warmup = Duration::from_secs_f64(arg(&args, "--warmup", 1.0));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ops, all_ops, mut samples, errors, elapsed) = runtime.block_on(async {
        let start = Instant::now();
        let measure_from = start + warmup;
        let until = measure_from + duration;
        let tasks: Vec<_> = (0..conns)
            .map(|_| tokio::spawn(connection(addr, size, pipeline, measure_from, until)))
            .collect();
        let (mut ops, mut all_ops, mut samples, mut errors) = (0, 0, Vec::new(), 0);
        for t in tasks {
            let r = t.await.unwrap();
            ops += r.ops;
            all_ops += r.all_ops;
            errors += r.errors;
            samples.extend(r.samples);
        }
        (ops, all_ops, samples, errors, duration.as_secs_f64())
    });
    let p = percentiles(&mut samples, &[0.5, 0.99, 0.999]);
    println!(
        "{{\"ops\": {ops}, \"all_ops\": {all_ops}, \"rate\": {:.1}, \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"errors\": {errors}, \"bytes_per_s\": {:.0}}}",
        ops as f64 / elapsed,
        p[0],
        p[1],
        p[2],
        ops as f64 * size as f64 * 2.0 / elapsed,
    );
}
