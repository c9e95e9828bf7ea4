//! Command-line overrides: every launcher key as `--kebab-case-key VALUE`.
//!
//! Built with clap's builder API (no derive) because the defaults shown by `--help` are the
//! values compiled into each binary.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgMatches, Command, value_parser};
use tcpserver_options::units;

use super::{Launcher, RuntimeFlavor};

/// Parses `args` (program name first) into `launcher`. On `--help` or a usage error,
/// returns clap's error, which knows what to print and which exit status to use.
pub(super) fn apply_args(launcher: &mut Launcher, args: Vec<OsString>) -> Result<(), clap::Error> {
    let matches = command(launcher).try_get_matches_from(args)?;
    apply(launcher, &matches);
    Ok(())
}

fn command(l: &Launcher) -> Command {
    let bytes = || |s: &str| parse_size(s);
    let count = || value_parser!(usize);
    let toggle = |name: &'static str, default: bool| {
        Arg::new(name)
            .long(name)
            .value_name("BOOL")
            .num_args(0..=1)
            .require_equals(false)
            .default_missing_value("true")
            .value_parser(value_parser!(bool))
            .default_value(default.to_string())
    };
    Command::new(l.name.clone())
        .about(l.about.clone())
        .disable_version_flag(true)
        .arg(
            Arg::new("port")
                .long("port")
                .value_name("PORT")
                .help("TCP port to listen on (0: a free port, logged at start-up)")
                .value_parser(value_parser!(u16))
                .default_value(l.port.to_string()),
        )
        .arg(
            Arg::new("address")
                .long("address")
                .value_name("ADDR")
                .help(format!(
                    "Address or host name to bind; every address it resolves to is bound [default: {}]",
                    l.address.as_deref().unwrap_or("all interfaces")
                )),
        )
        .arg(
            Arg::new("family")
                .long("family")
                .value_name("FAMILY")
                .help("Address families to bind")
                .value_parser(PossibleValuesParser::new(["unspec", "ipv4", "ipv6"]))
                .default_value(l.family.to_string()),
        )
        .arg(
            Arg::new("backlog")
                .long("backlog")
                .value_name("N")
                .help("Listen backlog")
                .value_parser(value_parser!(u32))
                .default_value(l.backlog.to_string()),
        )
        .arg(toggle("reuse-port", l.reuse_port).help(
            "Set SO_REUSEPORT; with several processes each worker binds its own socket",
        ))
        .arg(
            Arg::new("processes")
                .long("processes")
                .value_name("N")
                .help("Worker processes (0: one per CPU available to this process)")
                .value_parser(count())
                .default_value(l.processes.to_string()),
        )
        .arg(
            Arg::new("max-restarts")
                .long("max-restarts")
                .value_name("N")
                .help("Worker restarts allowed before the supervisor gives up")
                .value_parser(count())
                .default_value(l.max_restarts.to_string()),
        )
        // One PEM, or a certificate and key pair: a usage error (status 2) otherwise.
        .arg(
            path_arg("tls", "PEM", "One PEM file holding the certificate chain and the private key", l.tls.pem.as_ref())
                .conflicts_with_all(["tls-cert", "tls-key"]),
        )
        .arg(
            path_arg("tls-cert", "FILE", "TLS certificate chain (PEM); needs --tls-key", l.tls.cert.as_ref())
                .requires("tls-key"),
        )
        .arg(
            path_arg("tls-key", "FILE", "TLS private key (PEM); needs --tls-cert", l.tls.key.as_ref())
                .requires("tls-cert"),
        )
        .arg(path_arg("tls-client-ca", "FILE", "Require client certificates signed by these CAs (PEM)", l.tls.client_ca.as_ref()))
        .arg(
            Arg::new("max-buffer-size")
                .long("max-buffer-size")
                .value_name("BYTES")
                .help("Largest read buffer per connection (suffixes k, KiB, M, MiB, G, GiB)")
                .value_parser(bytes())
                .default_value(format_size(l.max_buffer_size)),
        )
        .arg(
            Arg::new("read-chunk-size")
                .long("read-chunk-size")
                .value_name("BYTES")
                .help("Bytes asked for by each socket read (at most half of --max-buffer-size)")
                .value_parser(bytes())
                .default_value(format_size(l.read_chunk_size)),
        )
        .arg(
            Arg::new("max-connections")
                .long("max-connections")
                .value_name("N")
                .help("Connections served at once per process (0: no limit)")
                .value_parser(count())
                .default_value(l.max_connections.to_string()),
        )
        .arg(
            Arg::new("shutdown-timeout")
                .long("shutdown-timeout")
                .value_name("SECS")
                .help("On SIGTERM/SIGINT, how long in-flight connections may take to finish (e.g. 30, 1.5, 500ms)")
                .value_parser(|s: &str| parse_duration(s))
                .default_value(format_duration(l.shutdown_timeout)),
        )
        .arg(
            Arg::new("runtime")
                .long("runtime")
                .value_name("FLAVOR")
                .help(format!(
                    "Tokio runtime of each process [default: {}]",
                    match l.runtime {
                        Some(f) => f.as_str(),
                        None => "multi-thread with one process, current-thread per worker \
                                 (multi-thread when --worker-threads is given)",
                    }
                ))
                .value_parser(PossibleValuesParser::new(["multi-thread", "current-thread"])),
        )
        .arg(
            Arg::new("worker-threads")
                .long("worker-threads")
                .value_name("N")
                .help(format!(
                    "Threads of a multi-thread runtime [default: {}]",
                    l.worker_threads
                        .map_or_else(|| "one per CPU".to_owned(), |n| n.to_string())
                ))
                .value_parser(|s: &str| match s.parse::<usize>() {
                    Ok(0) => Err("must be at least 1".to_owned()),
                    Ok(n) => Ok(n),
                    Err(e) => Err(e.to_string()),
                }),
        )
        .args(l.extra_args.iter().cloned())
        .help_expected(true)
}

fn path_arg(
    name: &'static str,
    value: &'static str,
    help: &'static str,
    default: Option<&PathBuf>,
) -> Arg {
    let arg = Arg::new(name)
        .long(name)
        .value_name(value)
        .help(help)
        .value_parser(value_parser!(PathBuf));
    match default {
        Some(p) => arg.default_value(p.display().to_string()),
        None => arg,
    }
}

fn apply(l: &mut Launcher, m: &ArgMatches) {
    let get = |name: &str| m.value_source(name) == Some(clap::parser::ValueSource::CommandLine);
    if let Some(&port) = m.get_one::<u16>("port") {
        l.port = port;
    }
    if let Some(address) = m.get_one::<String>("address") {
        l.address = Some(address.clone());
    }
    if let Some(family) = m.get_one::<String>("family") {
        l.family = family.parse().unwrap_or(l.family);
    }
    if let Some(&backlog) = m.get_one::<u32>("backlog") {
        l.backlog = backlog;
    }
    if let Some(&reuse_port) = m.get_one::<bool>("reuse-port") {
        l.reuse_port = reuse_port;
    }
    if let Some(&n) = m.get_one::<usize>("processes") {
        l.processes = n;
    }
    if let Some(&n) = m.get_one::<usize>("max-restarts") {
        l.max_restarts = n;
    }
    // A TLS file given on the command line replaces the compiled-in TLS setup as a whole:
    // `--tls-cert`/`--tls-key` must not be mixed with a compiled-in single PEM file.
    if get("tls") || get("tls-cert") || get("tls-key") {
        l.tls.pem = m.get_one::<PathBuf>("tls").cloned().filter(|_| get("tls"));
        l.tls.cert = m
            .get_one::<PathBuf>("tls-cert")
            .cloned()
            .filter(|_| get("tls-cert"));
        l.tls.key = m
            .get_one::<PathBuf>("tls-key")
            .cloned()
            .filter(|_| get("tls-key"));
    }
    if let Some(ca) = m.get_one::<PathBuf>("tls-client-ca") {
        l.tls.client_ca = Some(ca.clone());
    }
    if let Some(&n) = m.get_one::<usize>("max-buffer-size") {
        l.max_buffer_size = n;
    }
    if let Some(&n) = m.get_one::<usize>("read-chunk-size") {
        l.read_chunk_size = n;
    }
    if let Some(&n) = m.get_one::<usize>("max-connections") {
        l.max_connections = n;
    }
    if let Some(&d) = m.get_one::<Duration>("shutdown-timeout") {
        l.shutdown_timeout = d;
    }
    if let Some(flavor) = m.get_one::<String>("runtime") {
        l.runtime = Some(if flavor == "current-thread" {
            RuntimeFlavor::CurrentThread
        } else {
            RuntimeFlavor::MultiThread
        });
    }
    if let Some(&n) = m.get_one::<usize>("worker-threads") {
        l.worker_threads = Some(n);
    }
    l.extra_matches = Some(m.clone());
}

/// A byte count in the shared grammar (`65536`, `64KiB`, `1MiB`), as a `usize`.
pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let bytes = units::parse_size(s)?;
    usize::try_from(bytes).map_err(|_| format!("`{s}` is too large a byte count"))
}

/// A duration in the shared grammar (`30`, `1.5`, `500ms`, `2m`).
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    units::parse_duration(s)
}

/// A byte count the way [`parse_size`] reads it back.
pub(crate) fn format_size(bytes: usize) -> String {
    units::format_size(bytes as u64)
}

pub(crate) use units::format_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("12 parsecs").is_err());
        for n in [0, 1000, 65536, 100 << 20, 3 << 30, 1536] {
            assert_eq!(parse_size(&format_size(n)), Ok(n));
        }
        assert_eq!(format_size(100 << 20), "100MiB");
        assert_eq!(format_size(65536), "64KiB");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
