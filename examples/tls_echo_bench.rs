//! BENCHMARK CLIENT: `tls_echo` against the hand-written tokio-rustls anchor
//! `tls_echo_tokio`, same client, same run.
//!
//! ```sh
//! cargo build --release --examples
//! ./target/release/examples/tls_echo_bench                # 16 connections, 3 rounds of 5 s
//! ./target/release/examples/tls_echo_bench --connections 64 --seconds 10 --rounds 5
//! ```
//!
//! It starts both servers itself (the binaries next to its own), on 127.0.0.1 with
//! `examples/certs/server.pem`, and alternates between them round by round. Each round
//! runs two measurements against one server:
//!
//! - **echo**: `--connections` TLS connections, each sending a 64-byte line and waiting
//!   for it to come back, as fast as it can;
//! - **handshakes**: the same number of tasks, each connecting, completing a TLS 1.3
//!   handshake, echoing one line and closing.
//!
//! For each it reports operations per second and the server's CPU time per operation
//! (user + system, from `/proc/<pid>/stat`), the median over the rounds, and the ratio
//! `tls_echo / tls_echo_tokio`. The client shares the machine with the server, so absolute
//! figures depend on the box; the ratio is the point.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tcpserver::tls::rustls::{
    self, ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const LINE: &[u8; 64] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";

struct Options {
    connections: usize,
    seconds: f64,
    rounds: usize,
}

struct Server {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
}

#[derive(Default, Clone, Copy)]
struct Sample {
    ops_per_sec: f64,
    cpu_us_per_op: f64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_args()?;
    let dir = std::env::current_exe()?
        .parent()
        .ok_or("no directory")?
        .to_path_buf();
    let mut servers = vec![
        start(
            "tls_echo",
            &dir.join("tls_echo"),
            &[
                "--address",
                "127.0.0.1",
                "--port",
                "0",
                "--tls",
                "examples/certs/server.pem",
            ],
        )?,
        start(
            "tls_echo_tokio",
            &dir.join("tls_echo_tokio"),
            &[
                "--address",
                "127.0.0.1",
                "--port",
                "0",
                "--tls",
                "examples/certs/server.pem",
            ],
        )?,
    ];
    let config = client_config(Path::new("examples/certs/ca.pem"))?;
    println!(
        "{} connections, {} rounds of {} s per measurement and server",
        options.connections, options.rounds, options.seconds
    );

    let mut echo: Vec<Vec<Sample>> = vec![Vec::new(); servers.len()];
    let mut handshakes: Vec<Vec<Sample>> = vec![Vec::new(); servers.len()];
    for round in 0..options.rounds {
        for (i, server) in servers.iter().enumerate() {
            let e = measure(server, &options, config.clone(), Mode::Echo).await?;
            let h = measure(server, &options, config.clone(), Mode::Handshakes).await?;
            println!(
                "round {round} {:>15}: echo {:>9.0} rt/s {:>6.1} us CPU/rt | handshakes {:>7.0}/s {:>7.1} us CPU/handshake",
                server.name, e.ops_per_sec, e.cpu_us_per_op, h.ops_per_sec, h.cpu_us_per_op
            );
            echo[i].push(e);
            handshakes[i].push(h);
        }
    }
    for (what, samples) in [("echo round trips", &echo), ("handshakes", &handshakes)] {
        let ours = median(&samples[0]);
        let anchor = median(&samples[1]);
        println!(
            "{what}: tls_echo {:.0}/s, {:.1} us CPU each; tls_echo_tokio {:.0}/s, {:.1} us CPU each; \
             ratio (tls_echo / tls_echo_tokio): throughput {:.3}, CPU per operation {:.3}",
            ours.ops_per_sec,
            ours.cpu_us_per_op,
            anchor.ops_per_sec,
            anchor.cpu_us_per_op,
            ours.ops_per_sec / anchor.ops_per_sec,
            ours.cpu_us_per_op / anchor.cpu_us_per_op
        );
    }
    for server in &mut servers {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = server.child.wait();
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Echo,
    Handshakes,
}

async fn measure(
    server: &Server,
    options: &Options,
    config: Arc<ClientConfig>,
    mode: Mode,
) -> Result<Sample, Box<dyn std::error::Error>> {
    let ops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // Connections for the echo measurement are opened before the clock starts.
    let mut streams = Vec::new();
    if mode == Mode::Echo {
        for _ in 0..options.connections {
            streams.push(Some(connect(server.addr, config.clone()).await?));
        }
    } else {
        streams.resize_with(options.connections, || None);
    }
    let cpu_before = cpu_time(server.child.id());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for stream in streams {
        let (ops, stop, config, addr) = (ops.clone(), stop.clone(), config.clone(), server.addr);
        tasks.push(tokio::spawn(async move {
            match stream {
                Some(stream) => {
                    let mut stream = BufReader::new(stream);
                    let mut reply = Vec::with_capacity(LINE.len());
                    while !stop.load(Ordering::Relaxed) {
                        roundtrip(&mut stream, &mut reply).await?;
                        ops.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => {
                    while !stop.load(Ordering::Relaxed) {
                        let mut stream = BufReader::new(connect(addr, config.clone()).await?);
                        let mut reply = Vec::with_capacity(LINE.len());
                        roundtrip(&mut stream, &mut reply).await?;
                        ops.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok::<(), std::io::Error>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(options.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let cpu = cpu_time(server.child.id()) - cpu_before;
    for task in tasks {
        task.await??;
    }
    let n = ops.load(Ordering::Relaxed).max(1) as f64;
    Ok(Sample {
        ops_per_sec: n / elapsed.as_secs_f64(),
        cpu_us_per_op: cpu.as_secs_f64() * 1e6 / n,
    })
}

async fn roundtrip<S>(stream: &mut BufReader<S>, reply: &mut Vec<u8>) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.get_mut().write_all(LINE).await?;
    stream.get_mut().flush().await?;
    reply.clear();
    stream.read_until(b'\n', reply).await?;
    if reply.as_slice() != LINE {
        return Err(std::io::Error::other("wrong echo"));
    }
    Ok(())
}

async fn connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").expect("a valid name");
    TlsConnector::from(config).connect(name, tcp).await
}

fn client_config(ca: &Path) -> Result<Arc<ClientConfig>, Box<dyn std::error::Error>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    // Every handshake in the handshake measurement is a full one.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

fn start(
    name: &'static str,
    path: &PathBuf,
    args: &[&str],
) -> Result<Server, Box<dyn std::error::Error>> {
    let mut child = Command::new(path)
        .args(args)
        .env("RUST_LOG", "warn,tcpserver=info")
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "{}: {e} (build it: cargo build --release --examples)",
                path.display()
            )
        })?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let addr = loop {
        let line = lines
            .next()
            .ok_or(format!("{name} exited before listening"))??;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().parse()?;
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { name, child, addr })
}

fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
    let ticks: u64 = fields[11..13]
        .iter()
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Duration::from_micros(ticks * 1_000_000 / hz)
}

fn median(samples: &[Sample]) -> Sample {
    let mut ops: Vec<f64> = samples.iter().map(|s| s.ops_per_sec).collect();
    let mut cpu: Vec<f64> = samples.iter().map(|s| s.cpu_us_per_op).collect();
    ops.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    Sample {
        ops_per_sec: ops[ops.len() / 2],
        cpu_us_per_op: cpu[cpu.len() / 2],
    }
}

fn parse_args() -> Result<Options, Box<dyn std::error::Error>> {
    let mut options = Options {
        connections: 16,
        seconds: 5.0,
        rounds: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--connections" => options.connections = value.parse()?,
            "--seconds" => options.seconds = value.parse()?,
            "--rounds" => options.rounds = value.parse()?,
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    Ok(options)
}
