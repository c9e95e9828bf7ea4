//! The log subscriber of generated binaries: `tracing` events to stderr, filtered by
//! `RUST_LOG` (default `info`). It spawns no thread, so it is safe to install before fork.

use std::io::IsTerminal;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the subscriber, unless the program installed one already.
///
/// `RUST_LOG` is a comma-separated list of `level` and `target=level` directives
/// (`debug`, `tcpserver=debug,warn`); one that cannot be read leaves the default, `info`,
/// with a warning.
pub(crate) fn init() {
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match spec.parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(e) => (
                Targets::new().with_default(LevelFilter::INFO),
                Some((spec, e)),
            ),
        },
        _ => (Targets::new().with_default(LevelFilter::INFO), None),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    if tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .try_init()
        .is_ok()
        && let Some((spec, e)) = bad
    {
        tracing::warn!("ignoring RUST_LOG={spec:?} ({e}); logging at info level");
    }
}
