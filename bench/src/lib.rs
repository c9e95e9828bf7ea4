//! Shared bits of the benchmark binaries (`bench/run` drives them; see BENCHMARKS.md).
#![forbid(unsafe_code)]

/// Latency percentiles in microseconds from unsorted samples (sorted in place).
pub fn percentiles(samples: &mut [u32], points: &[f64]) -> Vec<u32> {
    samples.sort_unstable();
    points
        .iter()
        .map(|p| {
            if samples.is_empty() {
                0
            } else {
                let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
                samples[idx.min(samples.len() - 1)]
            }
        })
        .collect()
}

/// `--name value` from the command line, parsed, or `default`.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// True if `--name` is present.
pub fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}
