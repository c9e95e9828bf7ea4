//! CRC32C (Castagnoli), for the checksum TLV of a v2 header.
//!
//! Written out rather than taken from a crate: a table-driven loop over at most
//! [`MAX_V2_LENGTH`](super::MAX_V2_LENGTH) bytes, only for the headers that carry the TLV;
//! the `crc32c` crate's hardware paths would bring a build script for no measurable gain.

/// The reflected Castagnoli polynomial.
const POLYNOMIAL: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// The CRC32C of `parts`, as if they were one slice.
pub(super) fn crc32c<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u32 {
    let mut crc = !0u32;
    for part in parts {
        for &byte in part {
            crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // The standard check value, and RFC 3720's test vectors.
        assert_eq!(crc32c([&b"123456789"[..]]), 0xE306_9283);
        assert_eq!(crc32c([&[0u8; 32][..]]), 0x8A91_36AA);
        assert_eq!(crc32c([&[0xffu8; 32][..]]), 0x62A8_AB43);
        assert_eq!(crc32c([&b"1234"[..], &b"56789"[..]]), 0xE306_9283);
    }
}
