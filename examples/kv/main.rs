//! A key-value server speaking the Redis protocol on a codec: PING, ECHO, GET, SET (with EX),
//! DEL, INCR, EXISTS and COMMAND, for `redis-cli` and `redis-benchmark`; one keyspace per
//! process (`state = open`). `cargo run --release --example kv -- --port 6379`
mod commands;

use std::{collections::HashMap, sync::Mutex, time::Duration, time::Instant};

use commands::Commands;
use redis_protocol::resp2::types::BytesFrame as Frame;
use tcpserver::{codec::Bytes, codec::Context, tcp_server};

type Keys = HashMap<Bytes, (Bytes, Option<Instant>)>;

fn open() -> Result<Mutex<Keys>, String> {
    Ok(Mutex::default())
}

/// Answers one command; an `Err` is the error reply.
#[tcp_server(port = 6379, runtime = "current_thread", codec = Commands::default(), state = open)]
async fn kv(command: Vec<Bytes>, _ctx: &mut Context, keys: &Mutex<Keys>) -> Option<Frame> {
    let answer = run(&command, &mut keys.lock().unwrap(), Instant::now());
    Some(answer.unwrap_or_else(|message| Frame::Error(message.into())))
}

fn run(command: &[Bytes], keys: &mut Keys, now: Instant) -> Result<Frame, String> {
    let [name, args @ ..] = command else {
        Err("ERR expected a command")?
    };
    // Keys expire when a command touches them, as Redis expires them lazily.
    for key in args {
        if keys.get(key).and_then(|e| e.1).is_some_and(|at| at <= now) {
            keys.remove(key);
        }
    }
    let number = |bytes: &[u8]| std::str::from_utf8(bytes).ok()?.parse::<i64>().ok();
    let count = |n: usize| Ok(Frame::Integer(n as i64));
    match (name.to_ascii_uppercase().as_slice(), args) {
        (b"PING", []) => Ok(Frame::SimpleString("PONG".into())),
        (b"PING" | b"ECHO", [message]) => Ok(Frame::BulkString(message.clone())),
        (b"GET", [key]) => Ok(keys
            .get(key)
            .map_or(Frame::Null, |e| Frame::BulkString(e.0.clone()))),
        (b"SET", [key, value, rest @ ..]) => {
            let expiry = match rest {
                [] => None,
                [ex, secs] if ex.eq_ignore_ascii_case(b"EX") => match number(secs) {
                    Some(secs @ 1..) => Some(now + Duration::from_secs(secs as u64)),
                    _ => Err("ERR invalid expire time in 'set' command")?,
                },
                _ => Err("ERR syntax error")?,
            };
            keys.insert(key.clone(), (value.clone(), expiry));
            Ok(Frame::SimpleString("OK".into()))
        }
        (b"DEL", [_, ..]) => count(args.iter().filter_map(|k| keys.remove(k)).count()),
        (b"EXISTS", [_, ..]) => count(args.iter().filter(|k| keys.contains_key(*k)).count()),
        (b"INCR", [key]) => {
            let (value, expiry) = keys.get(key).cloned().unwrap_or(("0".into(), None));
            let n = number(&value).and_then(|n| n.checked_add(1));
            let n = n.ok_or("ERR value is not an integer or out of range")?;
            keys.insert(key.clone(), (n.to_string().into(), expiry));
            Ok(Frame::Integer(n))
        }
        (b"COMMAND", _) => Ok(Frame::Array(Vec::new())),
        _ => Err(format!("ERR unknown command '{}'", name.escape_ascii())),
    }
}
