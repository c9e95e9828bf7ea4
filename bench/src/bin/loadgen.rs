//! Echo load generator: N connections sending fixed-size lines, ping-pong (one in flight
//! per connection) or pipelined (`--pipeline K` in flight), over TCP or TLS. Prints one
//! JSON line: round trips, rate, and latency percentiles.
//!
//! ```sh
//! loadgen --addr 127.0.0.1:8888 --conns 50 --size 64 --duration 5 --warmup 1 [--pipeline 16 [--burst]]
//! loadgen --addr 127.0.0.1:8443 --tls-ca examples/certs/ca.pem [--handshakes]
//! loadgen --addr 127.0.0.1:8888 --connections [--proxy-v2]
//! ```
//!
//! `--pipeline K` keeps K lines in flight by sending a new line, in its own write, after
//! each answer; with `--burst`, each connection writes its K lines at once, reads the K
//! answers, and writes the next K (as `redis-benchmark -P` does).
//!
//! With `--handshakes` (TLS) or `--connections` (plain TCP), each connection task
//! repeatedly connects, echoes one line and closes: one operation per connection. With
//! `--proxy-v2`, every connection starts with a PROXY protocol v2 header, in the same
//! write as its first line over plain TCP (as a proxy forwards a client's first bytes).
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tcpserver_bench::{arg, flag, percentiles, server_name, tls_connector};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Default)]
struct Totals {
    /// Operations in the measured window.
    ops: u64,
    /// Operations including the warm-up (to divide the server's whole CPU time by).
    all_ops: u64,
    samples: Vec<u32>,
    errors: u64,
}

impl Totals {
    fn record(&mut self, start: Instant, now: Instant, measure_from: Instant) {
        self.all_ops += 1;
        if now >= measure_from {
            self.ops += 1;
            let us = now.duration_since(start).as_micros().min(u32::MAX as u128) as u32;
            self.samples.push(us);
        }
    }
}

#[derive(Clone)]
struct Plan {
    addr: SocketAddr,
    size: usize,
    pipeline: usize,
    /// Write the `pipeline` lines of a batch at once, and the next batch once all are
    /// answered.
    burst: bool,
    measure_from: Instant,
    until: Instant,
    tls: Option<TlsConnector>,
    /// A PROXY v2 header to start every connection with.
    proxy_header: Option<Vec<u8>>,
}

impl Plan {
    fn message(&self) -> Vec<u8> {
        let mut msg = vec![b'x'; self.size];
        msg[self.size - 1] = b'\n';
        msg
    }
}

async fn echo_session<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, plan: &Plan) -> Totals {
    let mut totals = Totals::default();
    let msg = plan.message();
    let mut reply = vec![0u8; plan.size];
    if plan.burst {
        return echo_bursts(stream, plan, &msg).await;
    }
    let mut sent_at = VecDeque::with_capacity(plan.pipeline);
    for _ in 0..plan.pipeline {
        if send(&mut stream, &msg).await.is_err() {
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
        totals.record(sent_at.pop_front().unwrap_or(now), now, plan.measure_from);
        if now >= plan.until {
            return totals;
        }
        if send(&mut stream, &msg).await.is_err() {
            totals.errors += 1;
            return totals;
        }
        sent_at.push_back(Instant::now());
    }
}

/// `--burst`: `pipeline` lines in one write, then their answers, again and again.
async fn echo_bursts<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    plan: &Plan,
    msg: &[u8],
) -> Totals {
    let mut totals = Totals::default();
    let batch = msg.repeat(plan.pipeline);
    let mut replies = vec![0u8; batch.len()];
    loop {
        let sent = Instant::now();
        if send(&mut stream, &batch).await.is_err()
            || stream.read_exact(&mut replies).await.is_err()
        {
            totals.errors += 1;
            return totals;
        }
        let now = Instant::now();
        for _ in 0..plan.pipeline {
            totals.record(sent, now, plan.measure_from);
        }
        if now >= plan.until {
            return totals;
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, msg: &[u8]) -> std::io::Result<()> {
    stream.write_all(msg).await?;
    stream.flush().await
}

async fn connect(plan: &Plan) -> std::io::Result<TcpStream> {
    let tcp = TcpStream::connect(plan.addr).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

async fn echo_connection(plan: Plan) -> Totals {
    let Ok(mut tcp) = connect(&plan).await else {
        return Totals {
            errors: 1,
            ..Totals::default()
        };
    };
    if let Some(header) = &plan.proxy_header
        && tcp.write_all(header).await.is_err()
    {
        return Totals {
            errors: 1,
            ..Totals::default()
        };
    }
    match &plan.tls {
        None => echo_session(tcp, &plan).await,
        Some(tls) => match tls.connect(server_name(), tcp).await {
            Ok(stream) => echo_session(stream, &plan).await,
            Err(_) => Totals {
                errors: 1,
                ..Totals::default()
            },
        },
    }
}

/// Connect (and handshake), one echo, close; again until the end.
async fn connection_loop(plan: Plan) -> Totals {
    let mut totals = Totals::default();
    let msg = plan.message();
    let mut reply = vec![0u8; plan.size];
    loop {
        let start = Instant::now();
        let done = async {
            let mut tcp = connect(&plan).await?;
            match &plan.tls {
                Some(tls) => {
                    if let Some(header) = &plan.proxy_header {
                        tcp.write_all(header).await?;
                    }
                    let mut stream = tls.connect(server_name(), tcp).await?;
                    send(&mut stream, &msg).await?;
                    stream.read_exact(&mut reply).await?;
                    stream.shutdown().await
                }
                None => {
                    let first = match &plan.proxy_header {
                        Some(header) => [&header[..], &msg[..]].concat(),
                        None => msg.clone(),
                    };
                    send(&mut tcp, &first).await?;
                    tcp.read_exact(&mut reply).await?;
                    tcp.shutdown().await
                }
            }
        }
        .await;
        let now = Instant::now();
        match done {
            Ok(()) => totals.record(start, now, plan.measure_from),
            Err(_) => totals.errors += 1,
        }
        if now >= plan.until {
            return totals;
        }
    }
}

/// A PROXY protocol v2 header for a client at 203.0.113.7:51000 of 127.0.0.1:8888.
fn proxy_v2_header() -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0x00, 0x0c, 203, 0, 113, 7, 127, 0, 0, 1]);
    header.extend_from_slice(&51000u16.to_be_bytes());
    header.extend_from_slice(&8888u16.to_be_bytes());
    header
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let conns: usize = arg(&args, "--conns", 50);
    let duration = Duration::from_secs_f64(arg(&args, "--duration", 5.0));
    let warmup = Duration::from_secs_f64(arg(&args, "--warmup", 1.0));
    let ca: String = arg(&args, "--tls-ca", String::new());
    let per_connection = flag(&args, "--handshakes") || flag(&args, "--connections");
    let proxy_v2 = flag(&args, "--proxy-v2");
    let size: usize = arg(&args, "--size", 64usize).max(2);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (totals, elapsed) = runtime.block_on(async {
        let start = Instant::now();
        let plan = Plan {
            addr: arg(&args, "--addr", "127.0.0.1:8888".parse().unwrap()),
            size,
            pipeline: arg(&args, "--pipeline", 1usize).max(1),
            burst: flag(&args, "--burst"),
            measure_from: start + warmup,
            until: start + warmup + duration,
            tls: (!ca.is_empty()).then(|| tls_connector(&ca)),
            proxy_header: proxy_v2.then(proxy_v2_header),
        };
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                let plan = plan.clone();
                if per_connection {
                    tokio::spawn(connection_loop(plan))
                } else {
                    tokio::spawn(echo_connection(plan))
                }
            })
            .collect();
        let mut all = Totals::default();
        for t in tasks {
            let r = t.await.unwrap();
            all.ops += r.ops;
            all.all_ops += r.all_ops;
            all.errors += r.errors;
            all.samples.extend(r.samples);
        }
        (all, duration.as_secs_f64())
    });
    let Totals {
        ops,
        all_ops,
        mut samples,
        errors,
    } = totals;
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
