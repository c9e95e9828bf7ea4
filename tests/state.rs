//! Application state on the attribute (`state = open, on_shutdown = save`), with the real
//! `visits` binary: created in every process that serves before it accepts (again in a
//! restarted worker), shared by the connections, handed back at shutdown; a failed
//! creation is one line and exit status 1, in one process or in every worker. The
//! application's own flags (`args = Args`) join tcpserver's, from the command line or the
//! environment.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tcpserver_tests::proc::{ServerProcess, child_pids, example_path, processes_in_group};

/// One visit: the greeting, `visit N to pid P`, as (N, P).
fn visit(addr: SocketAddr) -> (u64, u32) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut greeting = String::new();
    stream.read_to_string(&mut greeting).unwrap();
    let words: Vec<&str> = greeting.split_whitespace().collect();
    match words[..] {
        [_, n, "to", "pid", pid] => (n.parse().unwrap(), pid.parse().unwrap()),
        _ => panic!("greeting {greeting:?}"),
    }
}

fn start(file: &Path, args: &[&str]) -> ServerProcess {
    let mut command = Command::new(example_path("visits"));
    command
        .env("TCPSERVER_VISITS_FILE", file)
        .args(["--port", "0", "--address", "127.0.0.1"])
        .args(args);
    ServerProcess::start_command("visits", &mut command)
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpserver-state-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("visits")
}

#[test]
fn one_process_creates_shares_and_saves_its_state() {
    let file = temp_file("one");
    let server = start(&file, &[]);
    let pid = server.pid();
    for n in 1..=3 {
        assert_eq!(visit(server.addr()), (n, pid));
    }
    let stderr = server.stop();
    assert!(stderr.contains("3 visits"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "3\n");
    // The next run's state starts from what the last one saved.
    let server = start(&file, &[]);
    assert_eq!(visit(server.addr()).0, 4);
    server.stop();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "4\n");
}

#[test]
fn every_worker_creates_its_own_state_and_a_restarted_one_again() {
    let file = temp_file("workers");
    std::fs::write(&file, "100\n").unwrap();
    let server = start(&file, &["--processes", "2"]);
    // Each worker counts on from the file, on its own.
    let mut seen = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 2 && Instant::now() < deadline {
        let (n, pid) = visit(server.addr());
        let last = seen.entry(pid).or_insert(100);
        assert_eq!(n, *last + 1, "worker {pid}");
        *last = n;
    }
    assert_eq!(seen.len(), 2, "both workers answered");
    let workers = child_pids(server.pid());
    assert_eq!(workers.len(), 2);
    // A worker killed and restarted creates its state again, from the file.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(workers[0] as i32),
        Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let restarted = loop {
        let now = child_pids(server.pid());
        if let Some(&new) = now.iter().find(|p| !workers.contains(p)) {
            break new;
        }
        assert!(Instant::now() < deadline, "no restart: {}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (n, pid) = visit(server.addr());
        if pid == restarted {
            assert_eq!(n, 101, "a fresh state from the file");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted worker never answered"
        );
    }
    let stderr = server.stop();
    // Each worker saved its own count at its shutdown.
    assert_eq!(stderr.matches(" visits").count(), 2, "{stderr}");
    let saved: u64 = std::fs::read_to_string(&file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(saved > 100, "{saved}");
}

#[test]
fn a_failed_creation_is_one_line_and_exit_one() {
    let missing = Path::new("/nonexistent-tcpserver-dir/visits");
    for args in [&[][..], &["--processes", "2"]] {
        let mut command = Command::new(example_path("visits"));
        command
            .env("TCPSERVER_VISITS_FILE", missing)
            .args(["--port", "0", "--address", "127.0.0.1"])
            .args(args);
        let mut server = ServerProcess::spawn_command(&mut command);
        let status = server
            .wait_timeout(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("{args:?}: still running: {}", server.stderr()));
        let stderr = server.stderr();
        assert_eq!(status.code(), Some(1), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let cause = "cannot create the application's state: /nonexistent-tcpserver-dir/visits: No such file or directory";
        let failures: Vec<&str> = stderr.lines().filter(|l| l.contains(cause)).collect();
        if args.is_empty() {
            assert_eq!(
                failures,
                [format!("visits: error: {cause} (os error 2)")],
                "{stderr}"
            );
            // Nothing else but the listening lines.
            assert!(
                stderr
                    .lines()
                    .all(|l| l.contains("listening on") || l.contains(cause)),
                "{stderr}"
            );
        } else {
            assert!(!failures.is_empty(), "{stderr}");
            assert!(
                stderr
                    .lines()
                    .last()
                    .unwrap()
                    .contains("every worker failed to start"),
                "{stderr}"
            );
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(
                processes_in_group(server.pid()),
                Vec::<u32>::new(),
                "{stderr}"
            );
        }
    }
}

#[test]
fn the_application_flags_join_the_command_line_and_the_environment() {
    let file = temp_file("args");
    // The flag wins over the environment (which names a file that cannot exist).
    let mut command = Command::new(example_path("visits"));
    command
        .env("TCPSERVER_VISITS_FILE", "/nonexistent-tcpserver-dir/visits")
        .env("TCPSERVER_ADDRESS", "127.0.0.1")
        .args(["--port", "0", "--greeting", "hello"])
        .arg("--visits-file")
        .arg(&file);
    let server = ServerProcess::start_command("visits", &mut command);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let mut greeting = String::new();
    stream.read_to_string(&mut greeting).unwrap();
    assert!(greeting.starts_with("hello 1 to pid "), "{greeting}");
    server.stop();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "1\n");

    // One `--help` for both, each flag with its variable.
    let out = Command::new(example_path("visits"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--visits-file <PATH>",
        "[env: TCPSERVER_VISITS_FILE]",
        "--greeting <GREETING>",
        "[default: visit]",
        "[env: TCPSERVER_GREETING",
        "--port <PORT>",
        "[default: 8888] [env: TCPSERVER_PORT]",
        "--max-connections <N>",
        "a flag wins over the environment",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }

    // Usage errors, the application's and tcpserver's alike: one line, exit status 2.
    for (args, message) in [
        (
            &["--visits-fil", "x"][..],
            "unexpected argument '--visits-fil' found; tip: a similar argument exists: '--visits-file'",
        ),
        (
            &["--port", "70000"],
            "invalid value '70000' for --port <PORT>: 70000 is out of range",
        ),
        (
            &["--greeting"],
            "a value is required for '--greeting <GREETING>'",
        ),
        (
            &["--runtime", "current-thread", "--worker-threads", "2"],
            "needs the multi-thread runtime",
        ),
        (
            &["--start", "many"],
            "invalid value 'many' for '--start <N>'",
        ),
    ] {
        let out = Command::new(example_path("visits"))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("visits: error: "), "{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn a_bad_application_value_from_the_environment_names_its_variable() {
    let out = Command::new(example_path("visits"))
        .env("TCPSERVER_START", "many")
        .args(["--port", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("invalid value 'many' for '--start <N>'")
            && stderr.contains("(from the environment variable TCPSERVER_START)"),
        "{stderr}"
    );
    // A good one is used: the count starts there.
    let mut command = Command::new(example_path("visits"));
    command
        .env("TCPSERVER_START", "41")
        .args(["--port", "0", "--address", "127.0.0.1"]);
    let server = ServerProcess::start_command("visits", &mut command);
    assert_eq!(visit(server.addr()).0, 42);
    server.stop();
}
