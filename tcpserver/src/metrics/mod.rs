//! What a server counts, aggregated across its prefork workers, in Prometheus' text format
//! (`GET /metrics` on the admin listener of a [`Launcher`](crate::Launcher) binary).
//!
//! A scrape reaches whichever worker accepts it, so per-process counters would seem to
//! jump and reset. Here every worker counts into its own slot of one memory region shared
//! by all of them (made before the fork), and any worker answers a scrape with the sums
//! of every slot: the same totals whichever process answers. A restarted worker goes on
//! counting in its predecessor's slot, so counters never go back; only its gauges (active
//! connections, readiness) start again from zero.
//!
//! Counting is off until a binary turns it on (an admin listener does); then each count
//! is one relaxed atomic add into the worker's own slot.
//!
//! # Application metrics
//!
//! [`counter`] and [`gauge`] add the application's own series to the same endpoint,
//! aggregated the same way. Take the handle once (in a `static`, a handler's state) and
//! use it on the hot path:
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::LazyLock;
//! use tcpserver::metrics::{self, Counter};
//! use tcpserver::IoStream;
//!
//! static LINES: LazyLock<Counter> =
//!     LazyLock::new(|| metrics::counter("echo_lines_total", "Lines echoed"));
//!
//! async fn echo(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
//!     loop {
//!         let line = stream.read_until(b"\n", Some(64 * 1024)).await?;
//!         stream.write(&line).await?;
//!         LINES.inc();
//!     }
//! }
//! ```
//!
//! Up to [`MAX_APP_METRICS`] names per server. A counter's series is the total over the
//! workers; a gauge has one series per worker (label `worker`, the task id), each set by
//! its worker, for queries to sum or compare. Take the handles after the server started
//! (in the handler, as above): before the admin listener turns counting on, a handle
//! counts nothing.

mod encode;
mod shared;

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(any(feature = "tls", feature = "http"))]
use std::time::Duration;

pub(crate) use encode::render;

/// How many application metrics a server can hold.
pub const MAX_APP_METRICS: usize = 32;

/// The upper bounds of the duration histograms, in seconds.
pub(crate) const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionEnd {
    /// The peer closed or reset it.
    PeerClosed,
    /// The handler returned `Ok`.
    HandlerReturned,
    /// The handler returned another error.
    HandlerError,
    /// The handler panicked.
    HandlerPanic,
    /// The peer sent more than `max_buffer_size` (or a line past `max_bytes`).
    BufferFull,
    /// Something timed out.
    Timeout,
    /// The shutdown deadline closed it.
    Shutdown,
    /// Refused before the handler: a failed TLS handshake or PROXY header.
    Refused,
}

impl ConnectionEnd {
    pub(crate) const ALL: [ConnectionEnd; 8] = [
        ConnectionEnd::PeerClosed,
        ConnectionEnd::HandlerReturned,
        ConnectionEnd::HandlerError,
        ConnectionEnd::HandlerPanic,
        ConnectionEnd::BufferFull,
        ConnectionEnd::Timeout,
        ConnectionEnd::Shutdown,
        ConnectionEnd::Refused,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            ConnectionEnd::PeerClosed => "peer_closed",
            ConnectionEnd::HandlerReturned => "handler_returned",
            ConnectionEnd::HandlerError => "handler_error",
            ConnectionEnd::HandlerPanic => "handler_panic",
            ConnectionEnd::BufferFull => "buffer_full",
            ConnectionEnd::Timeout => "timeout",
            ConnectionEnd::Shutdown => "shutdown",
            ConnectionEnd::Refused => "refused",
        }
    }
}

/// How a TLS handshake ended.
#[cfg(feature = "tls")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    Ok,
    Failed,
    Timeout,
}

/// Why a PROXY header was refused.
#[cfg(feature = "proxy")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProxyError {
    Untrusted,
    BadHeader,
    Timeout,
}

// The words of a worker's slot.
pub(crate) const READY: usize = 0;
pub(crate) const ACTIVE: usize = 1;
pub(crate) const ACCEPTED: usize = 2;
pub(crate) const CLOSED: usize = 3;
pub(crate) const RECEIVED: usize = CLOSED + ConnectionEnd::ALL.len();
pub(crate) const SENT: usize = RECEIVED + 1;
pub(crate) const TLS: usize = SENT + 1;
pub(crate) const TLS_HISTOGRAM: usize = TLS + 3;
/// A histogram: one word per bucket (not cumulative), then the count, then the sum in
/// microseconds.
pub(crate) const HISTOGRAM_WORDS: usize = BUCKETS.len() + 2;
pub(crate) const PROXY_ERRORS: usize = TLS_HISTOGRAM + HISTOGRAM_WORDS;
pub(crate) const HTTP: usize = PROXY_ERRORS + 3;
pub(crate) const HTTP_HISTOGRAM: usize = HTTP + 5;
pub(crate) const APP: usize = HTTP_HISTOGRAM + HISTOGRAM_WORDS;
/// A slot, rounded up to whole cache lines so that workers never share one.
const SLOT_WORDS: usize = (APP + MAX_APP_METRICS).div_ceil(8) * 8;

// The words before the slots.
pub(crate) const DRAINING: usize = 0;
pub(crate) const RESTARTS: usize = 1;
const GLOBAL_WORDS: usize = 8;
/// An application metric's entry: a header word, then its name and help text.
const NAME_WORDS: usize = 8;
const HELP_WORDS: usize = 16;
const ENTRY_WORDS: usize = 1 + NAME_WORDS + HELP_WORDS;
const TABLE: usize = GLOBAL_WORDS;
const SLOTS: usize = TABLE + MAX_APP_METRICS * ENTRY_WORDS;

/// The region of a server with metrics on.
#[derive(Debug)]
pub(crate) struct Region {
    words: &'static [AtomicU64],
    workers: usize,
}

static REGION: OnceLock<Region> = OnceLock::new();
/// Where this process's slot starts in the region.
static SLOT: AtomicUsize = AtomicUsize::new(SLOTS);

/// Turns counting on for a server of `workers` processes (1 without fork). Call it before
/// forking, so that every worker shares the region; calling it again does nothing.
///
/// # Errors
///
/// The shared mapping could not be made.
pub(crate) fn enable(workers: usize) -> io::Result<()> {
    if REGION.get().is_some() {
        return Ok(());
    }
    let workers = workers.max(1);
    let words = shared::shared_words(SLOTS + workers * SLOT_WORDS)?;
    let _ = REGION.set(Region { words, workers });
    Ok(())
}

/// True if counting is on.
pub(crate) fn enabled() -> bool {
    REGION.get().is_some()
}

/// In worker `task_id` (after the fork): count into its slot, whose gauges start again
/// from zero (a restarted worker's predecessor is gone with its connections).
pub(crate) fn set_worker(task_id: usize) {
    let Some(region) = REGION.get() else { return };
    let base = SLOTS + task_id.min(region.workers - 1) * SLOT_WORDS;
    SLOT.store(base, Ordering::Relaxed);
    region.words[base + READY].store(0, Ordering::Relaxed);
    region.words[base + ACTIVE].store(0, Ordering::Relaxed);
    for app in 0..MAX_APP_METRICS {
        if region.app_kind(app) == Some(Kind::Gauge) {
            region.words[base + APP + app].store(0, Ordering::Relaxed);
        }
    }
}

/// This process's word `index` of its slot.
#[inline]
fn word(index: usize) -> Option<&'static AtomicU64> {
    let region = REGION.get()?;
    region.words.get(SLOT.load(Ordering::Relaxed) + index)
}

/// Adds `n` to this worker's counter `index`.
#[inline]
pub(crate) fn add(index: usize, n: u64) {
    if let Some(word) = word(index) {
        word.fetch_add(n, Ordering::Relaxed);
    }
}

/// Moves this worker's gauge `index` by `delta`.
#[inline]
pub(crate) fn gauge_add(index: usize, delta: i64) {
    add(index, delta as u64);
}

/// Sets this worker's gauge `index`.
pub(crate) fn set(index: usize, value: u64) {
    if let Some(word) = word(index) {
        word.store(value, Ordering::Relaxed);
    }
}

/// Records `took` in the histogram at `index`.
#[cfg(any(feature = "tls", feature = "http"))]
pub(crate) fn observe(index: usize, took: Duration) {
    if !enabled() {
        return;
    }
    let seconds = took.as_secs_f64();
    let bucket = BUCKETS
        .iter()
        .position(|&bound| seconds <= bound)
        .unwrap_or(BUCKETS.len());
    if bucket < BUCKETS.len() {
        add(index + bucket, 1);
    }
    add(index + BUCKETS.len(), 1);
    add(
        index + BUCKETS.len() + 1,
        u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
    );
}

/// Counts a connection's end.
pub(crate) fn closed(reason: ConnectionEnd) {
    if !enabled() {
        return;
    }
    add(CLOSED + reason as usize, 1);
    gauge_add(ACTIVE, -1);
}

/// Counts a TLS handshake.
#[cfg(feature = "tls")]
pub(crate) fn handshake(result: Handshake, took: Duration) {
    if !enabled() {
        return;
    }
    add(TLS + result as usize, 1);
    observe(TLS_HISTOGRAM, took);
}

/// Counts a refused PROXY header.
#[cfg(feature = "proxy")]
pub(crate) fn proxy_error(why: ProxyError) {
    add(PROXY_ERRORS + why as usize, 1);
}

/// Counts an HTTP response of `status` that took `took`.
#[cfg(feature = "http")]
pub(crate) fn http_request(status: u16, took: Duration) {
    if !enabled() {
        return;
    }
    add(HTTP + status_class(status), 1);
    observe(HTTP_HISTOGRAM, took);
}

/// Counts a response of `status` the HTTP parser sent on its own, to a request too
/// malformed to reach the handler (it has no duration).
#[cfg(feature = "http")]
pub(crate) fn http_rejected(status: u16) {
    add(HTTP + status_class(status), 1);
}

#[cfg(feature = "http")]
fn status_class(status: u16) -> usize {
    usize::from(status / 100).clamp(1, 5) - 1
}

/// Whether this worker accepts connections (the `READY` gauge of its slot).
pub(crate) fn worker_ready(ready: bool) {
    set(READY, u64::from(ready));
}

/// A drain or a shutdown began: readiness is off for good, in every process.
pub(crate) fn draining() {
    if let Some(region) = REGION.get() {
        region.words[DRAINING].store(1, Ordering::Relaxed);
    }
}

/// In the supervisor: worker `task_id` exited, with its connections; its slot's gauges
/// fall to zero until its successor starts.
pub(crate) fn worker_exited(task_id: usize) {
    let Some(region) = REGION.get() else { return };
    if task_id < region.workers {
        let base = SLOTS + task_id * SLOT_WORDS;
        region.words[base + READY].store(0, Ordering::Relaxed);
        region.words[base + ACTIVE].store(0, Ordering::Relaxed);
    }
}

/// In the supervisor: a crashed worker is being restarted.
pub(crate) fn worker_restarted() {
    if let Some(region) = REGION.get() {
        region.words[RESTARTS].fetch_add(1, Ordering::Relaxed);
    }
}

/// What `/readyz` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Every worker accepts, and no drain has begun.
    Ready,
    /// A drain or shutdown began.
    Draining,
    /// Not every worker accepts yet (or again, after one exited).
    Starting {
        /// Workers accepting.
        ready: usize,
        /// Workers there should be.
        workers: usize,
    },
}

/// The server's readiness, from the region every process shares.
pub(crate) fn readiness() -> Readiness {
    let Some(region) = REGION.get() else {
        return Readiness::Starting {
            ready: 0,
            workers: 0,
        };
    };
    if region.words[DRAINING].load(Ordering::Relaxed) != 0 {
        return Readiness::Draining;
    }
    let ready = (0..region.workers)
        .filter(|&w| region.slot(w, READY) != 0)
        .count();
    if ready == region.workers {
        Readiness::Ready
    } else {
        Readiness::Starting {
            ready,
            workers: region.workers,
        }
    }
}

impl Region {
    fn slot(&self, worker: usize, index: usize) -> u64 {
        self.words[SLOTS + worker * SLOT_WORDS + index].load(Ordering::Relaxed)
    }

    /// The sum over the workers of word `index`.
    fn total(&self, index: usize) -> u64 {
        (0..self.workers).fold(0u64, |sum, w| sum.wrapping_add(self.slot(w, index)))
    }

    fn global(&self, index: usize) -> u64 {
        self.words[index].load(Ordering::Relaxed)
    }

    fn entry(&self, app: usize) -> &[AtomicU64] {
        let start = TABLE + app * ENTRY_WORDS;
        &self.words[start..start + ENTRY_WORDS]
    }

    fn app_kind(&self, app: usize) -> Option<Kind> {
        let header = self.entry(app)[0].load(Ordering::Acquire);
        match header & 0xff {
            PUBLISHED => Some(if header >> 8 & 0xff == 1 {
                Kind::Gauge
            } else {
                Kind::Counter
            }),
            _ => None,
        }
    }

    /// The name and help text of a published application metric.
    fn app_text(&self, app: usize) -> Option<(Kind, String, String)> {
        let kind = self.app_kind(app)?;
        let entry = self.entry(app);
        let header = entry[0].load(Ordering::Acquire);
        let name_len = (header >> 16 & 0xffff) as usize;
        let help_len = (header >> 32 & 0xffff) as usize;
        let bytes = |words: &[AtomicU64], len: usize| {
            let all: Vec<u8> = words
                .iter()
                .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
                .collect();
            String::from_utf8_lossy(&all[..len.min(all.len())]).into_owned()
        };
        let name = bytes(&entry[1..1 + NAME_WORDS], name_len);
        let help = bytes(&entry[1 + NAME_WORDS..], help_len);
        Some((kind, name, help))
    }
}

const EMPTY: u64 = 0;
const WRITING: u64 = 1;
const PUBLISHED: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

/// Finds or adds the application metric `name` in the shared table; `None` when counting
/// is off or the table is full.
fn register(name: &str, help: &str, kind: Kind) -> Option<usize> {
    let region = REGION.get()?;
    assert!(
        valid_name(name),
        "metric name {name:?}: letters, digits, `_` and `:` only, not starting with a digit"
    );
    let name = &name.as_bytes()[..name.len().min(NAME_WORDS * 8)];
    let help = &help.as_bytes()[..help.len().min(HELP_WORDS * 8)];
    for app in 0..MAX_APP_METRICS {
        let entry = region.entry(app);
        // A process killed while writing an entry leaves it half-written for good: wait
        // for a writer a bounded time, then try the next entry.
        let give_up = std::time::Instant::now() + std::time::Duration::from_millis(100);
        loop {
            let header = entry[0].load(Ordering::Acquire);
            match header & 0xff {
                PUBLISHED => {
                    if region
                        .app_text(app)
                        .is_some_and(|(_, n, _)| n.as_bytes() == name)
                    {
                        return Some(app);
                    }
                    break;
                }
                // Another process is writing this entry: wait for it to publish.
                WRITING if std::time::Instant::now() < give_up => std::thread::yield_now(),
                WRITING => break,
                _ => {
                    if entry[0]
                        .compare_exchange(EMPTY, WRITING, Ordering::AcqRel, Ordering::Acquire)
                        .is_err()
                    {
                        continue;
                    }
                    write_bytes(&entry[1..1 + NAME_WORDS], name);
                    write_bytes(&entry[1 + NAME_WORDS..], help);
                    let kind_bits = match kind {
                        Kind::Counter => 0,
                        Kind::Gauge => 1,
                    };
                    let header = PUBLISHED
                        | kind_bits << 8
                        | (name.len() as u64) << 16
                        | (help.len() as u64) << 32;
                    entry[0].store(header, Ordering::Release);
                    return Some(app);
                }
            }
        }
    }
    tracing::warn!(
        "metric {} not registered: a server holds at most {MAX_APP_METRICS} application metrics",
        String::from_utf8_lossy(name)
    );
    None
}

fn write_bytes(words: &[AtomicU64], bytes: &[u8]) {
    for (word, chunk) in words.iter().zip(bytes.chunks(8)) {
        let mut padded = [0u8; 8];
        padded[..chunk.len()].copy_from_slice(chunk);
        word.store(u64::from_le_bytes(padded), Ordering::Relaxed);
    }
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// An application counter; see the [module documentation](self).
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    app: Option<usize>,
}

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        if let Some(app) = self.app {
            add(APP + app, n);
        }
    }
}

/// An application gauge, per worker; see the [module documentation](self).
#[derive(Debug, Clone, Copy)]
pub struct Gauge {
    app: Option<usize>,
}

impl Gauge {
    /// Sets this worker's part.
    pub fn set(&self, value: i64) {
        if let Some(app) = self.app {
            set(APP + app, value as u64);
        }
    }

    /// Moves this worker's part by `delta`.
    pub fn add(&self, delta: i64) {
        if let Some(app) = self.app {
            gauge_add(APP + app, delta);
        }
    }
}

/// The application counter `name` (with the `help` line of the scrape), registered once
/// for every worker. Without metrics (no admin listener) it counts nothing.
///
/// # Panics
///
/// If `name` is not a Prometheus name (letters, digits, `_` and `:`, not starting with a
/// digit).
pub fn counter(name: &str, help: &str) -> Counter {
    Counter {
        app: register(name, help, Kind::Counter),
    }
}

/// The application gauge `name`; each worker sets its own part, and the scrape shows one
/// series per worker. Without metrics it records nothing.
///
/// # Panics
///
/// As [`counter`].
pub fn gauge(name: &str, help: &str) -> Gauge {
    Gauge {
        app: register(name, help, Kind::Gauge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one test of this binary that turns counting on (the region is per process):
    /// readiness, application metrics and the scrape's text.
    #[test]
    fn readiness_application_metrics_and_the_scrape() {
        assert_eq!(
            readiness(),
            Readiness::Starting {
                ready: 0,
                workers: 0
            }
        );
        let before = counter("early_total", "Taken before counting was on.");
        before.inc();
        enable(2).unwrap();
        let region = REGION.get().unwrap();
        assert_eq!(
            readiness(),
            Readiness::Starting {
                ready: 0,
                workers: 2
            }
        );
        worker_ready(true);
        assert_eq!(
            readiness(),
            Readiness::Starting {
                ready: 1,
                workers: 2
            }
        );
        region.words[SLOTS + SLOT_WORDS + READY].store(1, Ordering::Relaxed);
        assert_eq!(readiness(), Readiness::Ready);
        worker_exited(1);
        assert_eq!(
            readiness(),
            Readiness::Starting {
                ready: 1,
                workers: 2
            }
        );

        let lines = counter("lines_total", "Lines.\nEchoed \\ back.");
        let again = counter("lines_total", "Lines.");
        lines.add(3);
        again.inc();
        let queue = gauge("queue_depth", "Queued jobs.");
        queue.set(7);
        queue.add(-2);
        // The other worker's part, as that worker would set it.
        let app = register("queue_depth", "", Kind::Gauge).unwrap();
        region.words[SLOTS + SLOT_WORDS + APP + app].store(4, Ordering::Relaxed);
        worker_restarted();

        let text = render().unwrap();
        for line in [
            "# TYPE lines_total counter",
            "# HELP lines_total Lines.\\nEchoed \\\\ back.",
            "lines_total 4",
            "# TYPE queue_depth gauge",
            "queue_depth{worker=\"0\"} 5",
            "queue_depth{worker=\"1\"} 4",
            "tcpserver_worker_restarts_total 1",
            "tcpserver_worker_ready{worker=\"0\"} 1",
            "tcpserver_worker_ready{worker=\"1\"} 0",
            "tcpserver_draining 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
        }
        assert!(!text.contains("early_total"), "{text}");
        assert_eq!(text.matches("# TYPE lines_total").count(), 1);
        // Every sample line is `name{labels} value`, with a number for the value.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(valid_name(series.split('{').next().unwrap()), "{line}");
        }

        draining();
        assert_eq!(readiness(), Readiness::Draining);
        assert!(
            render()
                .unwrap()
                .lines()
                .any(|l| l == "tcpserver_draining 1")
        );

        // The table holds MAX_APP_METRICS names; past that a handle counts nothing.
        let mut handles = Vec::new();
        for i in 0..MAX_APP_METRICS {
            handles.push(counter(&format!("filler_{i}_total"), ""));
        }
        assert!(handles.iter().filter(|h| h.app.is_none()).count() >= 2);
        assert!(
            std::panic::catch_unwind(|| counter("2bad", "")).is_err(),
            "a name starting with a digit"
        );
    }
}
