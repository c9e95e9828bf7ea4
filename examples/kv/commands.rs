//! The framing of `kv`: Redis commands in RESP2 (`redis-protocol`'s codec), or inline
//! (`PING\r\n`, as telnet and `redis-benchmark` send them), which that codec does not read.
use redis_protocol::resp2::types::BytesFrame as Frame;
use redis_protocol::{codec::Resp2, error::RedisProtocolError as Error};
use tcpserver::codec::{Bytes, BytesMut, Decoder, Encoder};

/// Reads commands as their words and writes RESP2 frames.
#[derive(Default)]
pub(crate) struct Commands(Resp2);

impl Decoder for Commands {
    type Item = Vec<Bytes>;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Bytes>>, Error> {
        if src.first() == Some(&b'*') {
            return Ok(self.0.decode(src)?.map(|frame| match frame {
                Frame::Array(words) => words.into_iter().filter_map(bulk).collect(),
                _ => Vec::new(),
            }));
        }
        Ok(src.iter().position(|&b| b == b'\n').map(|end| {
            let line = src.split_to(end + 1).freeze();
            let words = line
                .split(u8::is_ascii_whitespace)
                .filter(|w| !w.is_empty());
            words.map(|word| line.slice_ref(word)).collect()
        }))
    }
}

impl Encoder<Frame> for Commands {
    type Error = Error;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        self.0.encode(frame, dst)
    }
}

fn bulk(frame: Frame) -> Option<Bytes> {
    match frame {
        Frame::BulkString(word) => Some(word),
        _ => None,
    }
}
