//! The `prefork` example run as an operator would: several workers, restarts, signals, and
//! no process left behind, ever.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tcpserver_tests::LineClient;
use tcpserver_tests::proc::{ServerProcess, processes_in_group};
use tcpserver_tests::wait_until;

fn start(extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--port", "0", "--address", "127.0.0.1", "--processes", "2"];
    args.extend_from_slice(extra);
    let server = ServerProcess::start("prefork", &args);
    assert!(
        wait_until(Duration::from_secs(10), || server.children().len() == 2),
        "{}",
        server.stderr()
    );
    server
}

/// Connects and returns `(task id, worker pid)` from the greeting, and the client.
fn greet(addr: SocketAddr) -> ((usize, u32), LineClient) {
    let mut client = LineClient::connect(addr).unwrap();
    let greeting = client.recv().unwrap().expect("greeting");
    let parts: Vec<&str> = greeting.split_whitespace().collect();
    assert_eq!((parts[0], parts[2]), ("task", "pid"), "{greeting}");
    (
        (parts[1].parse().unwrap(), parts[3].parse().unwrap()),
        client,
    )
}

/// Connects until every task id has answered; returns task id → pid.
fn workers(addr: SocketAddr, n: usize) -> HashMap<usize, u32> {
    let mut seen = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < n && Instant::now() < deadline {
        let ((id, pid), _client) = greet(addr);
        seen.insert(id, pid);
    }
    assert_eq!(seen.len(), n, "not every worker answered: {seen:?}");
    seen
}

/// SIGTERM to the supervisor: it exits 0 and no worker is left.
fn stop_cleanly(server: &mut ServerProcess) {
    server.signal(Signal::SIGTERM);
    let status = server
        .wait_timeout(Duration::from_secs(15))
        .expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert_all_gone(server);
}

fn assert_all_gone(server: &ServerProcess) {
    let pgid = server.pid();
    assert!(
        wait_until(Duration::from_secs(5), || processes_in_group(pgid)
            .is_empty()),
        "left behind: {:?}",
        processes_in_group(pgid)
    );
}

#[test]
fn workers_serve_with_their_task_ids() {
    let mut server = start(&[]);
    assert!(server.stderr().contains("Starting 2 processes"));
    let pids = workers(server.addr(), 2);
    let mut children = server.children();
    children.sort_unstable();
    let mut served: Vec<u32> = pids.values().copied().collect();
    served.sort_unstable();
    assert_eq!(children, served);
    let ((_, _), mut client) = greet(server.addr());
    assert_eq!(client.roundtrip("echo me").unwrap(), "echo me");
    drop(client);
    stop_cleanly(&mut server);
}

#[test]
fn a_killed_worker_is_replaced_with_the_same_task_id_within_a_second() {
    let mut server = start(&[]);
    let before = workers(server.addr(), 2);
    let victim = before[&0];
    let killed_at = Instant::now();
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();
    let mut replacement = None;
    while killed_at.elapsed() < Duration::from_secs(5) {
        let ((id, pid), _c) = greet(server.addr());
        if id == 0 && pid != victim {
            replacement = Some((pid, killed_at.elapsed()));
            break;
        }
    }
    let (pid, after) = replacement.expect("task 0 served by a new pid");
    assert!(
        after < Duration::from_secs(1),
        "task 0 back after {after:?}"
    );
    assert!(server.children().contains(&pid));
    assert!(server.stderr().contains(&format!(
        "child 0 (pid {victim}) killed by signal 9, restarting"
    )));
    stop_cleanly(&mut server);
}

#[test]
fn a_worker_exiting_zero_is_not_restarted() {
    let mut server = start(&[]);
    let pids = workers(server.addr(), 2);
    // A worker stopped on its own (SIGTERM) shuts down cleanly and exits 0.
    kill(Pid::from_raw(pids[&1] as i32), Signal::SIGTERM).unwrap();
    assert!(server.wait_for_stderr(
        &format!("child 1 (pid {}) exited normally", pids[&1]),
        Duration::from_secs(10)
    ));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.children(), vec![pids[&0]]);
    // Everyone is served by the remaining worker.
    for _ in 0..5 {
        assert_eq!(greet(server.addr()).0.0, 0);
    }
    stop_cleanly(&mut server);
}

#[test]
fn too_many_restarts_stops_everything_with_a_failure_status() {
    let mut server = start(&["--max-restarts", "1"]);
    let pids = workers(server.addr(), 2);
    kill(Pid::from_raw(pids[&0] as i32), Signal::SIGKILL).unwrap();
    assert!(server.wait_for_stderr("child 0", Duration::from_secs(10)));
    assert!(wait_until(Duration::from_secs(10), || server
        .children()
        .len()
        == 2));
    kill(Pid::from_raw(pids[&1] as i32), Signal::SIGKILL).unwrap();
    let status = server
        .wait_timeout(Duration::from_secs(20))
        .expect("supervisor exits");
    assert_eq!(status.code(), Some(1), "{}", server.stderr());
    assert!(
        server
            .stderr()
            .contains("Too many child restarts, giving up")
    );
    assert_all_gone(&server);
}

#[test]
fn sigterm_lets_exchanges_in_progress_finish() {
    let mut server = start(&[]);
    let (_, mut client) = greet(server.addr());
    assert_eq!(client.roundtrip("one").unwrap(), "one");
    server.signal(Signal::SIGTERM);
    assert!(server.wait_for_stderr("received SIGTERM", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(client.roundtrip("two").unwrap(), "two");
    assert!(server.try_wait().is_none());
    drop(client);
    let status = server.wait_timeout(Duration::from_secs(15)).expect("exit");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert_all_gone(&server);
}

#[test]
fn killing_the_supervisor_takes_the_workers_with_it() {
    let mut server = start(&[]);
    let workers = server.children();
    let killed_at = Instant::now();
    server.signal(Signal::SIGKILL);
    server
        .wait_timeout(Duration::from_secs(5))
        .expect("supervisor dead");
    let gone = wait_until(Duration::from_secs(5), || {
        workers
            .iter()
            .all(|&pid| kill(Pid::from_raw(pid as i32), None).is_err() || is_zombie(pid))
    });
    assert!(gone, "workers outlived the supervisor");
    assert!(
        killed_at.elapsed() < Duration::from_secs(1),
        "took {:?}",
        killed_at.elapsed()
    );
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

#[test]
fn a_second_sigint_exits_at_once() {
    let mut server = start(&["--shutdown-timeout", "60"]);
    let (_, _client) = greet(server.addr());
    server.signal(Signal::SIGINT);
    assert!(server.wait_for_stderr("received SIGINT", Duration::from_secs(5)));
    let second = Instant::now();
    server.signal(Signal::SIGINT);
    let status = server
        .wait_timeout(Duration::from_secs(5))
        .expect("immediate exit");
    assert!(second.elapsed() < Duration::from_secs(2));
    assert_ne!(status.code(), Some(0));
    assert_all_gone(&server);
}

#[test]
fn reuse_port_gives_each_worker_its_own_socket() {
    let mut server = start(&["--reuse-port"]);
    let port = server.addr().port();
    let pids = workers(server.addr(), 2);
    // Two listening sockets on the port, one per worker; the supervisor only holds it.
    let out = std::process::Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listing.lines().count(), 2, "{listing}");
    for pid in pids.values() {
        assert!(listing.contains(&format!("pid={pid},")), "{listing}");
    }
    stop_cleanly(&mut server);
}

/// In `reuse_port` mode each worker has its own accept queue. The supervisor holds every
/// worker's socket, so the connections queued on a worker that dies wait for its
/// replacement instead of being reset (closing the last descriptor of one `SO_REUSEPORT`
/// socket resets its queue: about half of 200 such connections with the kernel's default
/// `net.ipv4.tcp_migrate_req=0`).
#[test]
fn reuse_port_keeps_the_queue_of_a_worker_that_dies() {
    const QUEUED: usize = 200;
    let mut server = start(&["--reuse-port", "--backlog", "1024"]);
    let pids = workers(server.addr(), 2);
    let stopped = pids[&0];
    // Worker 0 stops accepting; the kernel still queues the connections its socket gets.
    kill(Pid::from_raw(stopped as i32), Signal::SIGSTOP).unwrap();
    let mut clients: Vec<LineClient> = (0..QUEUED)
        .map(|_| LineClient::connect(server.addr()).unwrap())
        .collect();
    kill(Pid::from_raw(stopped as i32), Signal::SIGKILL).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || {
            let children = server.children();
            children.len() == 2 && !children.contains(&stopped)
        }),
        "worker 0 restarted: {}",
        server.stderr()
    );
    let restarted = server
        .children()
        .into_iter()
        .find(|pid| *pid != pids[&1])
        .unwrap();
    let (mut greeted, mut by_replacement, mut lost) = (0, 0, Vec::new());
    for client in &mut clients {
        match client.recv() {
            Ok(Some(greeting)) => {
                greeted += 1;
                if greeting.ends_with(&format!("pid {restarted}")) {
                    by_replacement += 1;
                }
            }
            other => lost.push(format!("{other:?}")),
        }
    }
    eprintln!(
        "reuse_port: {QUEUED} connections, {by_replacement} queued on the killed worker's \
         socket and served by its replacement, {} reset",
        lost.len()
    );
    assert_eq!(greeted, QUEUED, "lost: {lost:?}");
    assert!(by_replacement > 0, "none was queued on worker 0's socket");
    drop(clients);
    stop_cleanly(&mut server);
}

#[test]
fn worker_threads_give_each_worker_a_multi_thread_runtime() {
    let thread_count = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let mut plain = start(&[]);
    let mut threaded = start(&["--worker-threads", "3"]);
    for pid in plain.children() {
        assert_eq!(
            thread_count(pid),
            1,
            "a worker runs a current-thread runtime"
        );
    }
    for pid in threaded.children() {
        assert!(
            thread_count(pid) >= 4,
            "3 runtime threads plus the main one"
        );
    }
    let ((_, _), mut client) = greet(threaded.addr());
    assert_eq!(client.roundtrip("threads").unwrap(), "threads");
    drop(client);
    for server in [&mut plain, &mut threaded] {
        stop_cleanly(server);
    }
}
