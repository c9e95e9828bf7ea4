//! The read buffer of an [`IoStream`](super::IoStream).
//!
//! It owns no memory while empty, so an idle connection costs no buffer. Consumed bytes
//! are skipped with an offset (no shifting per read) and the space is reclaimed when more
//! room is needed. The storage is kept initialised, so socket reads go straight into it
//! without `unsafe`.

/// Bytes received and not yet consumed: `data[start..end]`.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Appends `bytes`; on an empty buffer this allocates exactly what is needed.
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        if self.is_empty() {
            self.data = bytes.to_vec();
            self.start = 0;
            self.end = bytes.len();
        } else {
            self.spare_mut(bytes.len())[..bytes.len()].copy_from_slice(bytes);
            self.end += bytes.len();
        }
    }

    /// At least `min` bytes of writable space after the data, reclaiming consumed space
    /// first and growing geometrically otherwise. Follow with [`commit`](Self::commit).
    pub(crate) fn spare_mut(&mut self, min: usize) -> &mut [u8] {
        if self.data.len() - self.end < min {
            if self.start > 0 && self.data.len() - self.len() >= min {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let wanted = (self.end + min).max(self.data.len().saturating_mul(2));
                self.data.resize(wanted, 0);
            }
        }
        &mut self.data[self.end..]
    }

    /// Marks `n` bytes written into [`spare_mut`](Self::spare_mut) as data.
    pub(crate) fn commit(&mut self, n: usize) {
        debug_assert!(self.end + n <= self.data.len());
        self.end += n;
    }

    /// Removes and returns the first `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Vec<u8> {
        debug_assert!(n <= self.len());
        if n == self.len() && self.start == 0 && self.data.capacity() <= 2 * n.max(64) {
            // The whole buffer is the answer: hand over the allocation, no copy.
            let mut out = std::mem::take(&mut self.data);
            out.truncate(n);
            self.end = 0;
            return out;
        }
        let out = self.data[self.start..self.start + n].to_vec();
        self.consume(n);
        out
    }

    /// Copies up to `dst.len()` bytes into `dst` and consumes them; returns the count.
    pub(crate) fn take_into(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.len());
        dst[..n].copy_from_slice(&self.data[self.start..self.start + n]);
        self.consume(n);
        n
    }

    /// Drops the first `n` bytes; an emptied buffer frees its memory.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            *self = ReadBuffer::default();
        }
    }

    /// Puts `bytes` back in front of the data (a failed `read_into` returns what it took).
    pub(crate) fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.start >= bytes.len() {
            self.start -= bytes.len();
            self.data[self.start..self.start + bytes.len()].copy_from_slice(bytes);
            return;
        }
        let mut data = Vec::with_capacity(bytes.len() + self.len());
        data.extend_from_slice(bytes);
        data.extend_from_slice(self.as_slice());
        self.end = data.len();
        self.start = 0;
        self.data = data;
    }

    /// Bytes of memory held, for tests of the idle-connection footprint.
    pub(crate) fn capacity(&self) -> usize {
        self.data.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_buffer_owns_nothing() {
        let mut b = ReadBuffer::default();
        assert_eq!(b.capacity(), 0);
        b.extend(b"hello\n");
        assert_eq!(b.take(6), b"hello\n");
        assert_eq!(b.capacity(), 0);
        b.extend(b"ab");
        b.extend(b"cd");
        assert_eq!(b.take(1), b"a");
        assert_eq!(b.take(3), b"bcd");
        assert_eq!(b.capacity(), 0);
    }

    #[test]
    fn spare_space_reclaims_consumed_bytes() {
        let mut b = ReadBuffer::default();
        b.extend(&[1; 100]);
        b.consume(90);
        let cap = b.capacity();
        let spare = b.spare_mut(50);
        spare[..50].fill(2);
        b.commit(50);
        assert_eq!(b.len(), 60);
        assert!(b.capacity() >= cap);
        assert_eq!(&b.as_slice()[..10], &[1; 10]);
        assert_eq!(&b.as_slice()[10..], &[2; 50]);
    }

    #[test]
    fn unread_restores_order() {
        let mut b = ReadBuffer::default();
        b.extend(b"world");
        b.unread(b"hello ");
        assert_eq!(b.as_slice(), b"hello world");
        let mut dst = [0; 3];
        assert_eq!(b.take_into(&mut dst), 3);
        b.unread(b"hel");
        assert_eq!(b.as_slice(), b"hello world");
    }
}
