//! A client of a server process's admin listener (`--admin-address`): probes and scrapes.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::proc::ServerProcess;

const WAIT: Duration = Duration::from_secs(10);

/// The admin listener's address, from the server's `admin listener on ADDR` line.
pub fn admin_addr(server: &ServerProcess) -> SocketAddr {
    assert!(
        server.wait_for_stderr("admin listener on ", WAIT),
        "{}",
        server.stderr()
    );
    let stderr = server.stderr();
    let rest = stderr
        .split("admin listener on ")
        .nth(1)
        .unwrap_or_default();
    let addr = rest.split(": ").next().unwrap_or_default();
    addr.parse()
        .unwrap_or_else(|_| panic!("no admin address in {stderr}"))
}

/// `GET path` on the admin listener: the status and the body.
pub fn get(admin: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(admin).expect("the admin listener accepts");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: admin\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, body.to_owned())
}

/// The samples of a `/metrics` scrape, by series as written (`name{labels}`).
#[derive(Debug, Clone)]
pub struct Scrape(pub HashMap<String, f64>);

impl Scrape {
    /// Scrapes `/metrics`; panics unless it answers 200.
    pub fn take(admin: SocketAddr) -> Self {
        let (status, body) = get(admin, "/metrics");
        assert_eq!(status, 200, "{body}");
        Scrape(
            body.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .map(|l| {
                    let (series, value) = l.rsplit_once(' ').expect("`series value`");
                    (series.to_owned(), value.parse().expect("a number"))
                })
                .collect(),
        )
    }

    /// The value of `series`, which must be there, as a whole number.
    pub fn get(&self, series: &str) -> u64 {
        *self
            .0
            .get(series)
            .unwrap_or_else(|| panic!("no {series} in {:?}", self.0)) as u64
    }

    /// The sum of a per-worker gauge over `workers` workers.
    pub fn per_worker_sum(&self, name: &str, workers: usize) -> u64 {
        (0..workers)
            .map(|w| self.get(&format!("{name}{{worker=\"{w}\"}}")))
            .sum()
    }
}
