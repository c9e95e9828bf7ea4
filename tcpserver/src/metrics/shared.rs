//! The memory the processes of one server share: one anonymous shared mapping, made before
//! the workers are forked, seen by each of them at the same address.
//!
//! The one module of `metrics` with `unsafe`: making the mapping and viewing it as atomics.
#![allow(unsafe_code)]

use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::AtomicU64;

use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};

/// `words` zeroed 64-bit atomics in memory shared with every process forked after this
/// call, for the life of the process (the mapping is never unmapped).
///
/// # Errors
///
/// The `mmap` failure (out of memory, or a limit).
pub(super) fn shared_words(words: usize) -> io::Result<&'static [AtomicU64]> {
    let bytes = words
        .checked_mul(size_of::<AtomicU64>())
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| io::Error::other("a shared metrics region needs at least one word"))?;
    // SAFETY: an anonymous mapping at an address of the kernel's choosing aliases no
    // existing memory; MAP_SHARED makes the pages shared with the children forked later,
    // which is the point. No file descriptor is involved.
    let base = unsafe {
        mmap_anonymous(
            None,
            bytes,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
        )
    }?;
    // SAFETY: the mapping is `bytes` long, page-aligned (so aligned for `AtomicU64`),
    // zero-filled by the kernel (a valid `AtomicU64` is any 8 bytes), readable and
    // writable, and never unmapped, so a `'static` slice over it stays valid. Every
    // access goes through atomics, which are sound across processes sharing the pages as
    // across threads: no plain read or write of this memory exists anywhere.
    Ok(unsafe { std::slice::from_raw_parts(base.as_ptr().cast::<AtomicU64>(), words) })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn zeroed_and_writable() {
        let words = shared_words(1000).unwrap();
        assert!(words.iter().all(|w| w.load(Ordering::Relaxed) == 0));
        words[999].fetch_add(7, Ordering::Relaxed);
        assert_eq!(words[999].load(Ordering::Relaxed), 7);
    }
}
