//! The log subscriber of generated binaries: `tracing` events to stderr, filtered by
//! `RUST_LOG` (default `info`). It spawns no thread, so it is safe to install before fork.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the subscriber, unless the program installed one already.
pub(crate) fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
