//! A key-value server speaking the Redis protocol on a codec: PING, ECHO, GET, SET (with EX),
//! DEL, INCR, EXISTS and COMMAND, for `redis-cli` and `redis-benchmark`; one keyspace per
//! process (`state = open`). `cargo run --release --example kv -- --port 6379`
use std::{collections::HashMap, sync::Mutex, time::Duration, time::Instant};

use redis_protocol::resp2::types::BytesFrame as Frame;
use redis_protocol::{codec::Resp2, error::RedisProtocolError as Error};
use tcpserver::codec::{Bytes, BytesMut, Context, Decoder, Encoder};
use tcpserver::tcp_server;

/// Commands in RESP2, or inline (`PING\r\n`, from telnet and `redis-benchmark`).
#[derive(Default)]
struct Commands(Resp2);

impl Decoder for Commands {
    type Item = Vec<Bytes>;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Bytes>>, Error> {
        let Some(&first) = src.first() else {
            return Ok(None);
        };
        if first == b'*' {
            return Ok(match self.0.decode(src)? {
                Some(Frame::Array(words)) => Some(words.into_iter().filter_map(word).collect()),
                other => other.map(|_| Vec::new()),
            });
        }
        let Some(end) = src.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = src.split_to(end + 1).freeze();
        let words = line
            .split(u8::is_ascii_whitespace)
            .filter(|w| !w.is_empty());
        Ok(Some(words.map(|w| line.slice_ref(w)).collect()))
    }
}

impl Encoder<Frame> for Commands {
    type Error = Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        self.0.encode(frame, dst)
    }
}

fn word(frame: Frame) -> Option<Bytes> {
    match frame {
        Frame::BulkString(word) | Frame::SimpleString(word) => Some(word),
        _ => None,
    }
}

type Keys = HashMap<Bytes, (Bytes, Option<Instant>)>;

fn open() -> Result<Mutex<Keys>, String> {
    Ok(Mutex::default())
}

fn err(message: &str) -> Option<Frame> {
    Some(Frame::Error(message.into()))
}

fn number<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// Answers one command.
#[tcp_server(port = 6379, runtime = "current_thread", codec = Commands::default(), state = open)]
async fn kv(command: Vec<Bytes>, _ctx: &mut Context, keys: &Mutex<Keys>) -> Option<Frame> {
    let Some((name, args)) = command.split_first() else {
        return err("ERR expected a command");
    };
    let (mut keys, now) = (keys.lock().unwrap(), Instant::now());
    // Keys expire when a command touches them, as Redis expires them lazily.
    for key in args {
        if keys.get(key).and_then(|e| e.1).is_some_and(|at| at <= now) {
            keys.remove(key);
        }
    }
    let count = |n: usize| Frame::Integer(n as i64);
    Some(match (name.to_ascii_uppercase().as_slice(), args) {
        (b"PING", []) => Frame::SimpleString("PONG".into()),
        (b"PING" | b"ECHO", [message]) => Frame::BulkString(message.clone()),
        (b"GET", [key]) => keys
            .get(key)
            .map_or(Frame::Null, |e| Frame::BulkString(e.0.clone())),
        (b"SET", [key, value, rest @ ..]) => {
            let expiry = match rest {
                [] => None,
                [ex, secs] if ex.eq_ignore_ascii_case(b"EX") => match number::<u64>(secs) {
                    Some(secs) if secs > 0 => Some(now + Duration::from_secs(secs)),
                    _ => return err("ERR invalid expire time in 'set' command"),
                },
                _ => return err("ERR syntax error"),
            };
            keys.insert(key.clone(), (value.clone(), expiry));
            Frame::SimpleString("OK".into())
        }
        (b"DEL", [_, ..]) => count(args.iter().filter_map(|k| keys.remove(k)).count()),
        (b"EXISTS", [_, ..]) => count(args.iter().filter(|k| keys.contains_key(*k)).count()),
        (b"INCR", [key]) => {
            let (value, expiry) = keys.get(key).cloned().unwrap_or(("0".into(), None));
            let Some(n) = number::<i64>(&value).and_then(|n| n.checked_add(1)) else {
                return err("ERR value is not an integer or out of range");
            };
            keys.insert(key.clone(), (n.to_string().into(), expiry));
            Frame::Integer(n)
        }
        (b"COMMAND", _) => Frame::Array(Vec::new()),
        _ => err(&format!("ERR unknown command '{}'", name.escape_ascii()))?,
    })
}
