//! A line-based chat room: every line a client sends goes to every other connected
//! client. Shows state shared across connections (one room per process, so run it with
//! one process) and a clean leave on disconnect.
//!
//! ```sh
//! cargo run --example chat -- --port 8899
//! # in two other terminals:  nc localhost 8899
//! ```
use std::net::SocketAddr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use tcpserver::{IoStream, tcp_server};
use tokio::sync::broadcast;

/// A message for the room: who sent it (so nobody gets their own lines back) and the line.
#[derive(Clone)]
struct Message {
    from: u64,
    text: String,
}

/// The room: a broadcast channel every member subscribes to, and member numbers.
struct Room {
    messages: broadcast::Sender<Message>,
    next_member: AtomicU64,
}

static ROOM: LazyLock<Room> = LazyLock::new(|| Room {
    // A member more than this many messages behind misses some (and is told so).
    messages: broadcast::channel(1024).0,
    next_member: AtomicU64::new(1),
});

/// A line-based chat room: each line a client sends is broadcast to every other client.
#[tcp_server(port = 8899, max_buffer_size = "1MiB")]
async fn chat(mut stream: IoStream, _addr: SocketAddr) -> tcpserver::Result<()> {
    let me = ROOM.next_member.fetch_add(1, Ordering::Relaxed);
    // Subscribe before announcing, so our own join is not missed by the logic below.
    let mut inbox = ROOM.messages.subscribe();
    announce(me, format!("* user{me} joined\n"));
    stream
        .write(format!("welcome, you are user{me}\n").as_bytes())
        .await?;
    let result = serve_member(me, &mut stream, &mut inbox).await;
    // Leave cleanly, whatever ended the session: the peer left, sent garbage, or the
    // server is shutting down.
    announce(me, format!("* user{me} left\n"));
    result
}

async fn serve_member(
    me: u64,
    stream: &mut IoStream,
    inbox: &mut broadcast::Receiver<Message>,
) -> tcpserver::Result<()> {
    let shutdown = stream.shutdown_signal();
    // Reading and writing at once: a member whose client is slow to take the room's lines
    // still gets its own lines read meanwhile.
    let (mut reader, mut writer) = stream.split();
    let speak = async {
        loop {
            let line = reader.read_until(b"\n", Some(4096)).await?;
            let text = String::from_utf8_lossy(&line);
            announce(
                me,
                format!("user{me}: {}\n", text.trim_end_matches(['\r', '\n'])),
            );
        }
    };
    let listen = async {
        loop {
            tokio::select! {
                message = inbox.recv() => match message {
                    Ok(m) if m.from == me => {}
                    Ok(m) => writer.write(m.text.as_bytes()).await?,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        writer.write(format!("* you missed {n} messages\n").as_bytes()).await?;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
                () = shutdown.requested() => {
                    return writer.write(b"* the server is shutting down\n").await;
                }
            }
        }
    };
    // Whichever ends first (the client left or sent garbage; the room closed; the server
    // is shutting down) ends the session.
    tokio::select! {
        ended = speak => ended,
        ended = listen => ended,
    }
}

fn announce(from: u64, text: String) {
    // No receivers is fine: an empty room.
    let _ = ROOM.messages.send(Message { from, text });
}
