//! The `chat` example run as a user would: broadcast to the others, a clean leave, and a
//! graceful shutdown that tells everyone.

use std::time::Duration;

use nix::sys::signal::Signal;
use tcpserver_tests::LineClient;
use tcpserver_tests::proc::ServerProcess;

fn join(server: &ServerProcess) -> (LineClient, String) {
    let mut c = LineClient::connect(server.addr()).unwrap();
    let welcome = c.recv().unwrap().unwrap();
    let name = welcome.rsplit(' ').next().unwrap().to_owned();
    assert!(welcome.starts_with("welcome, you are user"), "{welcome}");
    (c, name)
}

#[test]
fn lines_go_to_everyone_else_and_leaving_is_announced() {
    let mut server = ServerProcess::start("chat", &["--port", "0", "--address", "127.0.0.1"]);
    let (mut alice, alice_name) = join(&server);
    let (mut bob, bob_name) = join(&server);
    assert_eq!(
        alice.recv().unwrap().unwrap(),
        format!("* {bob_name} joined")
    );
    let (mut carol, carol_name) = join(&server);
    assert_eq!(
        alice.recv().unwrap().unwrap(),
        format!("* {carol_name} joined")
    );
    assert_eq!(
        bob.recv().unwrap().unwrap(),
        format!("* {carol_name} joined")
    );

    alice.send("hello room").unwrap();
    let expected = format!("{alice_name}: hello room");
    assert_eq!(bob.recv().unwrap().unwrap(), expected);
    assert_eq!(carol.recv().unwrap().unwrap(), expected);

    drop(bob);
    let left = format!("* {bob_name} left");
    assert_eq!(alice.recv().unwrap().unwrap(), left);
    assert_eq!(carol.recv().unwrap().unwrap(), left);

    // The sender never gets its own line back.
    carol.send("just us").unwrap();
    assert_eq!(
        alice.recv().unwrap().unwrap(),
        format!("{carol_name}: just us")
    );
    alice
        .stream()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    carol
        .stream()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(carol.recv().is_err(), "carol got her own line back");

    server.signal(Signal::SIGTERM);
    carol
        .stream()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Others leaving may be announced first.
    loop {
        let line = carol.recv().unwrap().expect("a line before the end");
        if line == "* the server is shutting down" {
            break;
        }
        assert!(line.ends_with(" left"), "{line}");
    }
    let status = server.wait_timeout(Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}
