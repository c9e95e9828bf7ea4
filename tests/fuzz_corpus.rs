//! Replays every file of the fuzz corpora (`fuzz/seeds/<target>/`, written by hand, and
//! `fuzz/corpus/<target>/`, kept by the fuzzer) through the same
//! target bodies the fuzzer runs (`tcpserver_tests::fuzzing`), on stable: whatever the
//! fuzzer once found stays fixed. `scripts/fuzz` grows the corpora.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    // The hand-written cases (named for what they try), then what the fuzzer kept.
    for kind in ["seeds", "corpus"] {
        let dir = fuzz.join(kind).join(target);
        let mut these: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        these.sort();
        files.extend(these);
    }
    assert!(!files.is_empty(), "no corpus for {target}");
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} failed", file.display());
    }
    eprintln!("{target}: {} corpus files replayed", files.len());
}

#[test]
fn proxy_header_corpus() {
    replay("proxy_header", tcpserver_tests::fuzzing::proxy_header);
}

#[test]
fn http_request_corpus() {
    replay("http_request", tcpserver_tests::fuzzing::http_request);
}

#[test]
fn iostream_reads_corpus() {
    replay("iostream_reads", tcpserver_tests::fuzzing::iostream_reads);
}
