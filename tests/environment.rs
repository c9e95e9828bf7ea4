//! Every flag of a generated binary can come from its environment variable
//! (`TCPSERVER_` and the flag in upper snake case): a flag wins over the environment, which
//! wins over the compiled-in default; a bad value is a usage error naming the variable.
//! Run with the real `echo` and `http_hello` binaries.

use std::process::{Command, Output};

use tcpserver_tests::LineClient;
use tcpserver_tests::proc::{ServerProcess, example_path};

/// `example` with `vars` set and every other `TCPSERVER_` variable of the test's own
/// environment removed.
fn command(example: &str, vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(example_path(example));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("TCPSERVER_") {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().copied()).args(args);
    command
}

fn start(example: &str, vars: &[(&str, &str)], args: &[&str]) -> ServerProcess {
    ServerProcess::start_command(example, &mut command(example, vars, args))
}

fn run(example: &str, vars: &[(&str, &str)], args: &[&str]) -> Output {
    command(example, vars, args).output().unwrap()
}

#[test]
fn the_environment_sets_what_no_flag_gives() {
    // `echo` compiles in port 8888 and every interface: the environment overrides both.
    let server = start(
        "echo",
        &[
            ("TCPSERVER_PORT", "0"),
            ("TCPSERVER_ADDRESS", "::1"),
            ("TCPSERVER_MAX_CONNECTIONS", "5"),
            ("TCPSERVER_IDLE_TIMEOUT", "30s"),
        ],
        &[],
    );
    assert_eq!(server.addrs.len(), 1, "{}", server.stderr());
    let addr = server.addr();
    assert!(addr.is_ipv6() && addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 8888);
    let mut client = LineClient::connect(addr).unwrap();
    assert_eq!(
        client.roundtrip("from the environment").unwrap(),
        "from the environment"
    );
    drop(client);
    server.stop();
}

#[test]
fn a_flag_wins_over_the_environment() {
    let server = start(
        "echo",
        &[("TCPSERVER_PORT", "0"), ("TCPSERVER_ADDRESS", "::1")],
        &["--address", "127.0.0.1"],
    );
    assert_eq!(server.addrs.len(), 1);
    assert!(server.addr().is_ipv4(), "{}", server.stderr());
    let mut client = LineClient::connect(server.addr()).unwrap();
    assert_eq!(client.roundtrip("flag").unwrap(), "flag");
    drop(client);
    server.stop();
}

#[test]
fn an_empty_variable_counts_as_unset() {
    let server = start(
        "echo",
        &[("TCPSERVER_MAX_CONNECTIONS", ""), ("TCPSERVER_ADDRESS", "")],
        &["--port", "0"],
    );
    let mut client = LineClient::connect(server.addr()).unwrap();
    assert_eq!(client.roundtrip("empty").unwrap(), "empty");
    drop(client);
    server.stop();
}

#[test]
fn a_bad_value_is_a_usage_error_naming_the_variable() {
    for (vars, args, message) in [
        (
            &[("TCPSERVER_PORT", "70000")][..],
            &[][..],
            "invalid value '70000' in the environment variable TCPSERVER_PORT (--port <PORT>): 70000 is out of range",
        ),
        (
            &[("TCPSERVER_MAX_BUFFER_SIZE", "lots")],
            &["--port", "0"],
            "TCPSERVER_MAX_BUFFER_SIZE (--max-buffer-size <BYTES>)",
        ),
        (
            &[("TCPSERVER_REUSE_PORT", "yes")],
            &["--port", "0"],
            "TCPSERVER_REUSE_PORT",
        ),
        (
            &[
                ("TCPSERVER_UNIX", "/tmp/x.sock"),
                ("TCPSERVER_UNIX_MODE", "9"),
            ],
            &["--port", "0"],
            "invalid value '9' in the environment variable TCPSERVER_UNIX_MODE (--unix-mode <MODE>): `9` is not a mode",
        ),
        // The cross-key rules see the environment and the flags together.
        (
            &[("TCPSERVER_RUNTIME", "current-thread")],
            &["--port", "0", "--worker-threads", "2"],
            "needs the multi-thread runtime",
        ),
    ] {
        let out = run("echo", vars, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{vars:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{vars:?}: {stderr}");
        assert!(stderr.contains(message), "{vars:?}: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn help_names_each_variable() {
    let out = run("http_hello", &[], &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for line in help.lines().filter(|l| l.trim_start().starts_with("--")) {
        if line.contains("--help") {
            continue;
        }
        let flag = line
            .split_whitespace()
            .next()
            .unwrap()
            .trim_start_matches("--");
        let var = format!("[env: TCPSERVER_{}]", flag.to_uppercase().replace('-', "_"));
        assert!(line.contains(&var), "{line}");
    }
    assert!(help.contains("[env: TCPSERVER_XHEADERS]"), "{help}");
    assert!(help.contains("a flag wins over the environment"), "{help}");
}
