//! A smoke run of the benchmark pieces (the full suite is `bench/run`, not a test: timings
//! do not belong in tests). Checks that the load generator and the anchor run against the
//! echo example and report sane JSON.

use std::process::Command;

use tcpserver_tests::proc::{ServerProcess, example_path};

fn bench_bin(name: &str) -> std::path::PathBuf {
    // Workspace binaries sit next to the examples directory's parent.
    let path = example_path("echo")
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "tcpserver-bench", "--bin", name])
            .status()
            .unwrap()
            .success();
        assert!(ok, "building {name}");
    }
    path
}

fn loadgen(addr: std::net::SocketAddr, extra: &[&str]) -> String {
    let out = Command::new(bench_bin("loadgen"))
        .args([
            "--addr",
            &addr.to_string(),
            "--conns",
            "4",
            "--duration",
            "0.2",
            "--warmup",
            "0.05",
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn loadgen_drives_the_echo_example() {
    let server = ServerProcess::start("echo", &["--port", "0", "--address", "127.0.0.1"]);
    for extra in [&[][..], &["--pipeline", "4"], &["--size", "16384"]] {
        let report = loadgen(server.addr(), extra);
        assert!(report.contains("\"errors\": 0"), "{report}");
        let ops: u64 = report
            .split("\"ops\": ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        assert!(ops > 0, "{report}");
    }
}

#[test]
fn idle_reports_memory_per_connection() {
    let server = ServerProcess::start("echo", &["--port", "0", "--address", "127.0.0.1"]);
    let out = Command::new(bench_bin("idle"))
        .args([
            "--addr",
            &server.addr().to_string(),
            "--pid",
            &server.pid().to_string(),
            "--conns",
            "50",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("bytes_per_conn"));
}
