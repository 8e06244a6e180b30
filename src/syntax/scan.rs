//! Finding one byte 64 bytes at a time, as the bits of a mask: the ends of lines, and `<` for heredocs. A search
//! per line, as with memchr, pays its setup on every short line, and a byte loop mispredicts where it stops.

/// Where `byte` is in `bytes` from an offset on, in order: the bit mask of one block of 64 bytes at a time.
#[derive(Clone, Copy)]
pub(super) struct BytePositions<'b> {
    bytes: &'b [u8],
    byte: u8,
    /// Where the block starts.
    block: usize,
    /// Where `byte` is in the block, those already given cleared.
    found: u64,
}

impl<'b> BytePositions<'b> {
    pub(super) fn new(bytes: &'b [u8], at: usize, byte: u8) -> Self {
        BytePositions { bytes, byte, block: at, found: byte_mask(bytes, at, byte) }
    }
}

impl Iterator for BytePositions<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.found != 0 {
                let at = self.block + self.found.trailing_zeros() as usize;
                self.found &= self.found - 1;
                return Some(at);
            }
            self.block += 64;
            if self.block >= self.bytes.len() {
                return None;
            }
            self.found = byte_mask(self.bytes, self.block, self.byte);
        }
    }
}

/// Which of the 64 bytes of `bytes` from `at` on are `byte`, as the bits of a mask: bit `k` for `bytes[at + k]`.
/// Bits past the end of `bytes` are clear.
#[inline]
fn byte_mask(bytes: &[u8], at: usize, byte: u8) -> u64 {
    if let Some(block) = bytes.get(at..).and_then(<[u8]>::first_chunk::<64>) {
        return block_mask(block, byte);
    }
    match bytes.last_chunk::<64>() {
        // Fewer than 64 bytes are left: the last 64 of the text, shifted past those before `at`. Nothing is left
        // when `at` is the end, and the shift is by all 64 bits.
        Some(block) => block_mask(block, byte).checked_shr((at + 64 - bytes.len()) as u32).unwrap_or(0),
        // A text shorter than a block, padded with a byte that is not `byte`.
        None => {
            let rest = &bytes[at.min(bytes.len())..];
            let mut block = [!byte; 64];
            block[..rest.len()].copy_from_slice(rest);
            block_mask(&block, byte)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn block_mask(block: &[u8; 64], byte: u8) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut mask = 0;
    for (k, lanes) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of every x86_64 target, and the load reads the 16 bytes of `lanes`, unaligned.
        let lanes = unsafe {
            let equal = _mm_cmpeq_epi8(_mm_loadu_si128(lanes.as_ptr().cast()), _mm_set1_epi8(byte as i8));
            _mm_movemask_epi8(equal) as u16
        };
        mask |= u64::from(lanes) << (16 * k);
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
fn block_mask(block: &[u8; 64], byte: u8) -> u64 {
    block.iter().enumerate().fold(0, |mask, (k, &b)| mask | u64::from(b == byte) << k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_mark_the_byte_from_where_they_start() {
        // Texts shorter and longer than a block, with the byte in each lane and at both ends, read from every
        // offset, the end included.
        let texts: Vec<String> = (0..150)
            .map(|len| {
                (0..len).map(|k: usize| if k.wrapping_mul(7919) % 11 < 3 || k == 63 { '\n' } else { 'a' }).collect()
            })
            .collect();
        for text in &texts {
            let bytes = text.as_bytes();
            for at in 0..=bytes.len() {
                let expected =
                    (0..64).filter(|k| bytes.get(at + k) == Some(&b'\n')).fold(0u64, |mask, k| mask | 1 << k);
                assert_eq!(byte_mask(bytes, at, b'\n'), expected, "{} bytes from {at}", bytes.len());
                assert_eq!(byte_mask(bytes, at, b'a') & expected, 0);
            }
        }
    }

    #[test]
    fn positions_are_those_of_the_byte_from_where_they_start() {
        let text = format!("{}\n{}\n\n", "a".repeat(63), "b".repeat(70));
        let bytes = text.as_bytes();
        for at in [0, 1, 63, 64, 100, bytes.len()] {
            let expected: Vec<usize> = (at..bytes.len()).filter(|&k| bytes[k] == b'\n').collect();
            assert_eq!(BytePositions::new(bytes, at, b'\n').collect::<Vec<_>>(), expected, "from {at}");
        }
    }
}
