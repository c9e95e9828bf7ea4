//! Streaming gzip inflation of request bodies (`decompress_request`), pulled one bounded
//! piece at a time so that a small compressed body can never make us hold a large
//! decompressed one: the caller counts every piece against its limit as it comes out.
#![forbid(unsafe_code)]

use std::io::{self, BufRead, Read};

use bytes::{Buf, Bytes, BytesMut};
use flate2::bufread::MultiGzDecoder;

/// What [`Inflater::inflate`] produced.
#[derive(Debug)]
pub(crate) enum Inflated {
    /// Decompressed bytes, at most the size asked for.
    Data(Bytes),
    /// Everything fed so far is used up: [`push`](Inflater::push) more (or
    /// [`finish`](Inflater::finish)).
    NeedInput,
    /// The compressed stream ended properly (concatenated members included).
    End,
}

/// A gzip decoder fed with body frames as they arrive.
#[derive(Debug)]
pub(crate) struct Inflater {
    decoder: MultiGzDecoder<Feed>,
    saw_input: bool,
    out: BytesMut,
}

/// The compressed bytes received and not yet used; "would block" when empty until the
/// body has ended. flate2's decoders keep their state across `WouldBlock`, which is what
/// lets them run over a body that arrives in pieces.
#[derive(Debug, Default)]
struct Feed {
    data: Bytes,
    eof: bool,
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Feed {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.data.is_empty() && !self.eof {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(&self.data)
    }

    fn consume(&mut self, amount: usize) {
        self.data.advance(amount);
    }
}

impl Inflater {
    pub(crate) fn new() -> Self {
        Inflater {
            decoder: MultiGzDecoder::new(Feed::default()),
            saw_input: false,
            out: BytesMut::new(),
        }
    }

    /// True when the decoder has used every byte fed to it.
    pub(crate) fn wants_input(&self) -> bool {
        let feed = self.decoder.get_ref();
        feed.data.is_empty() && !feed.eof
    }

    /// Feeds the next piece of compressed body.
    pub(crate) fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.saw_input = true;
        let feed = self.decoder.get_mut();
        debug_assert!(
            feed.data.is_empty(),
            "fed before the previous piece was used"
        );
        feed.data = data;
    }

    /// Says that the compressed body has ended.
    pub(crate) fn finish(&mut self) {
        self.decoder.get_mut().eof = true;
    }

    /// Produces at most `max` decompressed bytes.
    ///
    /// # Errors
    ///
    /// Invalid or truncated gzip data.
    pub(crate) fn inflate(&mut self, max: usize) -> io::Result<Inflated> {
        // Tornado (zlib) accepts an empty body sent as gzip: it decompresses to nothing.
        if !self.saw_input && self.decoder.get_ref().eof {
            return Ok(Inflated::End);
        }
        self.out.resize(max.max(1), 0);
        loop {
            match self.decoder.read(&mut self.out) {
                Ok(0) => return Ok(Inflated::End),
                Ok(n) => {
                    self.out.truncate(n);
                    return Ok(Inflated::Data(self.out.split().freeze()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Inflated::NeedInput),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Feeds `pieces`, inflating `max` bytes at a time; returns the output pieces.
    fn run(pieces: &[&[u8]], max: usize) -> io::Result<Vec<Bytes>> {
        let mut inflater = Inflater::new();
        let mut pieces = pieces.iter();
        let mut out = Vec::new();
        loop {
            match inflater.inflate(max)? {
                Inflated::Data(d) => {
                    assert!(!d.is_empty() && d.len() <= max);
                    out.push(d);
                }
                Inflated::NeedInput => match pieces.next() {
                    Some(p) => inflater.push(Bytes::copy_from_slice(p)),
                    None => inflater.finish(),
                },
                Inflated::End => return Ok(out),
            }
        }
    }

    fn joined(out: Vec<Bytes>) -> Vec<u8> {
        out.concat()
    }

    #[test]
    fn byte_by_byte_input_and_bounded_output() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let compressed = gzip(&data);
        let pieces: Vec<&[u8]> = compressed.chunks(1).collect();
        let out = run(&pieces, 16).unwrap();
        assert!(out.iter().all(|p| p.len() <= 16));
        assert_eq!(joined(out), data);
    }

    #[test]
    fn concatenated_members() {
        let mut compressed = gzip(b"hello ");
        compressed.extend(gzip(b"world"));
        assert_eq!(joined(run(&[&compressed], 1024).unwrap()), b"hello world");
    }

    #[test]
    fn empty_body_is_empty() {
        assert!(run(&[], 1024).unwrap().is_empty());
    }

    #[test]
    fn invalid_and_truncated_data_fail() {
        let mut trailing = gzip(b"hello");
        trailing.push(0);
        assert!(run(&[&trailing], 1024).is_err());
        let whole = gzip(b"hello");
        assert!(run(&[&whole[..whole.len() - 3]], 1024).is_err());
        assert!(run(&[b"not gzip at all"], 1024).is_err());
    }
}
