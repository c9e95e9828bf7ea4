//! The Prometheus text exposition format (version 0.0.4) of the shared region.
//!
//! Written out: the format is a few lines per series, and `prometheus-client` would bring a
//! derive proc-macro and `parking_lot` into every build with an admin listener for them,
//! to encode values this module reads from the region anyway.
//!
//! Counters are the totals over the workers; gauges are one series per worker (label
//! `worker`, the task id), for queries to sum or compare.

use std::fmt::{Display, Write as _};

use super::{
    ACCEPTED, ACTIVE, APP, CLOSED, ConnectionEnd, DRAINING, Kind, MAX_APP_METRICS, READY, RECEIVED,
    REGION, RESTARTS, Region, SENT,
};

/// The whole scrape, whichever process renders it; `None` when counting is off.
pub(crate) fn render() -> Option<String> {
    let region = REGION.get()?;
    let mut s = Scrape {
        out: String::with_capacity(4096),
        r: region,
    };
    s.counter(
        "tcpserver_connections_accepted_total",
        "Connections accepted.",
        "",
        [("", ACCEPTED)],
    );
    s.per_worker(
        "tcpserver_connections_active",
        "Connections being served.",
        ACTIVE,
    );
    s.counter(
        "tcpserver_connections_closed_total",
        "Connections closed, by reason.",
        "reason",
        ConnectionEnd::ALL.map(|end| (end.label(), CLOSED + end as usize)),
    );
    s.counter(
        "tcpserver_received_bytes_total",
        "Bytes received from clients.",
        "",
        [("", RECEIVED)],
    );
    s.counter(
        "tcpserver_sent_bytes_total",
        "Bytes sent to clients.",
        "",
        [("", SENT)],
    );
    #[cfg(feature = "tls")]
    {
        use super::{TLS, TLS_HISTOGRAM};
        s.counter(
            "tcpserver_tls_handshakes_total",
            "TLS handshakes, by result.",
            "result",
            [("ok", TLS), ("failed", TLS + 1), ("timeout", TLS + 2)],
        );
        s.histogram(
            "tcpserver_tls_handshake_duration_seconds",
            "TLS handshake durations.",
            TLS_HISTOGRAM,
        );
    }
    #[cfg(feature = "proxy")]
    s.counter(
        "tcpserver_proxy_header_errors_total",
        "Connections refused for their PROXY header, by reason.",
        "reason",
        [
            ("untrusted", super::PROXY_ERRORS),
            ("bad_header", super::PROXY_ERRORS + 1),
            ("timeout", super::PROXY_ERRORS + 2),
        ],
    );
    s.family(
        "tcpserver_worker_restarts_total",
        "counter",
        "Worker processes restarted after a crash.",
    );
    s.sample("tcpserver_worker_restarts_total", "", s.r.global(RESTARTS));
    s.per_worker(
        "tcpserver_worker_ready",
        "1 while the worker accepts connections.",
        READY,
    );
    s.family(
        "tcpserver_draining",
        "gauge",
        "1 once a drain or shutdown began (readiness off).",
    );
    s.sample("tcpserver_draining", "", s.r.global(DRAINING));
    #[cfg(feature = "http")]
    {
        use super::{HTTP, HTTP_HISTOGRAM};
        s.counter(
            "tcpserver_http_requests_total",
            "HTTP responses, by status class (with the 400 and 431 the parser sends itself).",
            "class",
            [
                ("1xx", HTTP),
                ("2xx", HTTP + 1),
                ("3xx", HTTP + 2),
                ("4xx", HTTP + 3),
                ("5xx", HTTP + 4),
            ],
        );
        s.histogram(
            "tcpserver_http_request_duration_seconds",
            "Durations of the requests that reached the handler, from their head to the response head.",
            HTTP_HISTOGRAM,
        );
    }
    s.applications();
    Some(s.out)
}

/// A scrape being written.
struct Scrape<'a> {
    out: String,
    r: &'a Region,
}

impl Scrape<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl Display) {
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
        }
    }

    /// A counter family: one series per `(label value, word)`, each the total over the
    /// workers; `label` empty for a single series.
    fn counter<'v>(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        series: impl IntoIterator<Item = (&'v str, usize)>,
    ) {
        self.family(name, "counter", help);
        for (value, index) in series {
            let labels = if label.is_empty() {
                String::new()
            } else {
                format!("{label}=\"{value}\"")
            };
            self.sample(name, &labels, self.r.total(index));
        }
    }

    /// A gauge with one series per worker.
    fn per_worker(&mut self, name: &str, help: &str, index: usize) {
        self.family(name, "gauge", help);
        for w in 0..self.r.workers {
            let value = self.r.slot(w, index) as i64;
            self.sample(name, &format!("worker=\"{w}\""), value);
        }
    }

    #[cfg(any(feature = "tls", feature = "http"))]
    fn histogram(&mut self, name: &str, help: &str, at: usize) {
        use super::{BUCKETS, HISTOGRAM_WORDS};
        self.family(name, "histogram", help);
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0u64;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.r.total(at + i);
            self.sample(&bucket, &format!("le=\"{bound}\""), cumulative);
        }
        let count = self.r.total(at + BUCKETS.len());
        self.sample(&bucket, "le=\"+Inf\"", count);
        let micros = self.r.total(at + HISTOGRAM_WORDS - 1);
        self.sample(&format!("{name}_sum"), "", micros as f64 / 1e6);
        self.sample(&format!("{name}_count"), "", count);
    }

    /// The application's metrics. The entries of one name are summed: a name whose entry
    /// was left half-written by a killed process is registered again in another.
    fn applications(&mut self) {
        let r = self.r;
        let mut seen: Vec<String> = Vec::new();
        for app in 0..MAX_APP_METRICS {
            let Some((kind, name, help)) = r.app_text(app) else {
                continue;
            };
            if seen.contains(&name) {
                continue;
            }
            seen.push(name.clone());
            let entries: Vec<usize> = (app..MAX_APP_METRICS)
                .filter(|&other| r.app_text(other).is_some_and(|(_, n, _)| n == name))
                .collect();
            let per_worker = |w: usize| {
                entries
                    .iter()
                    .fold(0u64, |sum, e| sum.wrapping_add(r.slot(w, APP + e)))
            };
            match kind {
                Kind::Counter => {
                    self.family(&name, "counter", &help);
                    let total = (0..r.workers).fold(0u64, |sum, w| sum.wrapping_add(per_worker(w)));
                    self.sample(&name, "", total);
                }
                Kind::Gauge => {
                    self.family(&name, "gauge", &help);
                    for w in 0..r.workers {
                        self.sample(&name, &format!("worker=\"{w}\""), per_worker(w) as i64);
                    }
                }
            }
        }
    }
}
