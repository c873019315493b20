//! Poly1305 in five 26-bit limbs: every product is a 32×32→64-bit multiply, which baseline
//! wasm has (it has no 64×64→128).

use super::Limbs;
use zeroize::Zeroize;

/// Low 26 bits.
const MASK: u32 = 0x3ff_ffff;
/// The 2^128 bit of a full block, in limb 4.
const HIBIT: u32 = 1 << 24;

/// Key and accumulator in 26-bit limbs.
pub(crate) struct Limbs26 {
    /// The clamped `r`, in five 26-bit limbs.
    r: [u32; 5],
    /// `s`, the second half of the key, added at the end.
    pad: [u32; 4],
    /// The accumulator.
    h: [u32; 5],
}

/// Reads the little-endian word at `at`.
fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

impl Limbs for Limbs26 {
    fn new(key: &[u8; 32]) -> Self {
        Self {
            r: [
                word(key, 0) & 0x3ff_ffff,
                (word(key, 3) >> 2) & 0x3ff_ff03,
                (word(key, 6) >> 4) & 0x3ff_c0ff,
                (word(key, 9) >> 6) & 0x3f0_3fff,
                (word(key, 12) >> 8) & 0x00f_ffff,
            ],
            pad: [word(key, 16), word(key, 20), word(key, 24), word(key, 28)],
            h: [0; 5],
        }
    }

    fn absorb<'a>(&mut self, blocks: impl Iterator<Item = &'a [u8]>) {
        let [r0, r1, r2, r3, r4] = self.r.map(u64::from);
        let [s1, s2, s3, s4] = [r1 * 5, r2 * 5, r3 * 5, r4 * 5];
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = self.h;
        for block in blocks {
            h0 += word(block, 0) & MASK;
            h1 += (word(block, 3) >> 2) & MASK;
            h2 += (word(block, 6) >> 4) & MASK;
            h3 += (word(block, 9) >> 6) & MASK;
            h4 += (word(block, 12) >> 8) | HIBIT;

            let [g0, g1, g2, g3, g4] = [h0, h1, h2, h3, h4].map(u64::from);
            let d0 = g0 * r0 + g1 * s4 + g2 * s3 + g3 * s2 + g4 * s1;
            let mut d1 = g0 * r1 + g1 * r0 + g2 * s4 + g3 * s3 + g4 * s2;
            let mut d2 = g0 * r2 + g1 * r1 + g2 * r0 + g3 * s4 + g4 * s3;
            let mut d3 = g0 * r3 + g1 * r2 + g2 * r1 + g3 * r0 + g4 * s4;
            let mut d4 = g0 * r4 + g1 * r3 + g2 * r2 + g3 * r1 + g4 * r0;

            // Partial reduction: limbs back under 2^26 (h0 and h1 a little over, which the
            // next products tolerate).
            d1 += d0 >> 26;
            h0 = d0 as u32 & MASK;
            d2 += d1 >> 26;
            h1 = d1 as u32 & MASK;
            d3 += d2 >> 26;
            h2 = d2 as u32 & MASK;
            d4 += d3 >> 26;
            h3 = d3 as u32 & MASK;
            let carry = (d4 >> 26) as u32;
            h4 = d4 as u32 & MASK;
            h0 += carry * 5;
            h1 += h0 >> 26;
            h0 &= MASK;
        }
        self.h = [h0, h1, h2, h3, h4];
    }

    fn finalize(&self) -> [u8; 16] {
        let [mut h0, mut h1, mut h2, mut h3, mut h4] = self.h;
        h2 += h1 >> 26;
        h1 &= MASK;
        h3 += h2 >> 26;
        h2 &= MASK;
        h4 += h3 >> 26;
        h3 &= MASK;
        h0 += (h4 >> 26) * 5;
        h4 &= MASK;
        h1 += h0 >> 26;
        h0 &= MASK;

        // g = h + 5 − 2^130; take it instead of h when it did not go negative (h ≥ p),
        // choosing with a mask, not a branch.
        let mut g0 = h0 + 5;
        let mut g1 = h1 + (g0 >> 26);
        g0 &= MASK;
        let mut g2 = h2 + (g1 >> 26);
        g1 &= MASK;
        let mut g3 = h3 + (g2 >> 26);
        g2 &= MASK;
        let mut g4 = (h4 + (g3 >> 26)).wrapping_sub(1 << 26);
        g3 &= MASK;
        let take_g = (g4 >> 31).wrapping_sub(1);
        g0 &= take_g;
        g1 &= take_g;
        g2 &= take_g;
        g3 &= take_g;
        g4 &= take_g;
        let keep_h = !take_g;
        h0 = (h0 & keep_h) | g0;
        h1 = (h1 & keep_h) | g1;
        h2 = (h2 & keep_h) | g2;
        h3 = (h3 & keep_h) | g3;
        h4 = (h4 & keep_h) | g4;

        // To four 32-bit words (mod 2^128), then + s.
        let words = [
            h0 | (h1 << 26),
            (h1 >> 6) | (h2 << 20),
            (h2 >> 12) | (h3 << 14),
            (h3 >> 18) | (h4 << 8),
        ];
        let mut tag = [0u8; 16];
        let mut carry = 0u64;
        for (i, (h, s)) in words.into_iter().zip(self.pad).enumerate() {
            let sum = u64::from(h) + u64::from(s) + carry;
            tag[4 * i..4 * i + 4].copy_from_slice(&(sum as u32).to_le_bytes());
            carry = sum >> 32;
        }
        tag
    }
}

impl Drop for Limbs26 {
    fn drop(&mut self) {
        self.r.zeroize();
        self.pad.zeroize();
        self.h.zeroize();
    }
}
