//! Poly1305 in three limbs of 44, 44 and 42 bits: nine 64×64→128-bit products per block
//! instead of twenty-five 32×32→64. Chosen where that multiply is one instruction: 64-bit
//! machines, and wasm built with the wide-arithmetic proposal (`i64.mul_wide_u`).

use super::Limbs;
use zeroize::Zeroize;

/// Low 44 bits.
const MASK44: u64 = (1 << 44) - 1;
/// Low 42 bits (the top limb).
const MASK42: u64 = (1 << 42) - 1;
/// The 2^128 bit of a full block, in the top limb.
const HIBIT: u64 = 1 << 40;

/// Key and accumulator in 44/44/42-bit limbs.
pub(crate) struct Limbs44 {
    /// The clamped `r`.
    r: [u64; 3],
    /// `s`, the second half of the key, as two little-endian words.
    pad: [u64; 2],
    /// The accumulator.
    h: [u64; 3],
}

/// Reads the little-endian 64-bit word at `at`.
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Splits a 128-bit little-endian value (two words) into 44/44/42-bit limbs.
fn split(lo: u64, hi: u64) -> [u64; 3] {
    [
        lo & MASK44,
        ((lo >> 44) | (hi << 20)) & MASK44,
        (hi >> 24) & MASK42,
    ]
}

/// The full product.
fn mul(a: u64, b: u64) -> u128 {
    u128::from(a) * u128::from(b)
}

impl Limbs for Limbs44 {
    fn new(key: &[u8; 32]) -> Self {
        let (lo, hi) = (word(key, 0), word(key, 8));
        // The clamp (RFC 8439 section 2.5.1) applied to the limbs.
        Self {
            r: [
                lo & 0xffc_0fff_ffff,
                ((lo >> 44) | (hi << 20)) & 0xfff_ffc0_ffff,
                (hi >> 24) & 0x00f_ffff_fc0f,
            ],
            pad: [word(key, 16), word(key, 24)],
            h: [0; 3],
        }
    }

    fn absorb<'a>(&mut self, blocks: impl Iterator<Item = &'a [u8]>) {
        let [r0, r1, r2] = self.r;
        // 2^130 ≡ 5, and the limbs sit at 2^0, 2^44, 2^88: a product landing at 2^132 folds
        // back times 5·4.
        let [s1, s2] = [r1 * 20, r2 * 20];
        let [mut h0, mut h1, mut h2] = self.h;
        for block in blocks {
            let [m0, m1, m2] = split(word(block, 0), word(block, 8));
            h0 += m0;
            h1 += m1;
            h2 += m2 | HIBIT;

            let d0 = mul(h0, r0) + mul(h1, s2) + mul(h2, s1);
            let mut d1 = mul(h0, r1) + mul(h1, r0) + mul(h2, s2);
            let mut d2 = mul(h0, r2) + mul(h1, r1) + mul(h2, r0);

            // Partial reduction: limbs back to their widths, h1 a little over.
            d1 += d0 >> 44;
            h0 = d0 as u64 & MASK44;
            d2 += d1 >> 44;
            h1 = d1 as u64 & MASK44;
            let carry = (d2 >> 42) as u64;
            h2 = d2 as u64 & MASK42;
            h0 += carry * 5;
            h1 += h0 >> 44;
            h0 &= MASK44;
        }
        self.h = [h0, h1, h2];
    }

    fn finalize(&self) -> [u8; 16] {
        let [mut h0, mut h1, mut h2] = self.h;
        // Carry twice round so every limb is within its width.
        for _ in 0..2 {
            h2 += h1 >> 44;
            h1 &= MASK44;
            h0 += (h2 >> 42) * 5;
            h2 &= MASK42;
            h1 += h0 >> 44;
            h0 &= MASK44;
        }

        // g = h + 5 − 2^130; take it instead of h when it did not go negative (h ≥ p),
        // choosing with a mask, not a branch.
        let mut g0 = h0 + 5;
        let mut g1 = h1 + (g0 >> 44);
        g0 &= MASK44;
        let g2 = (h2 + (g1 >> 44)).wrapping_sub(1 << 42);
        g1 &= MASK44;
        let take_g = (g2 >> 63).wrapping_sub(1);
        let keep_h = !take_g;
        h0 = (h0 & keep_h) | (g0 & take_g);
        h1 = (h1 & keep_h) | (g1 & take_g);
        h2 = (h2 & keep_h) | (g2 & take_g);

        // + s, mod 2^128.
        let [p0, p1, p2] = split(self.pad[0], self.pad[1]);
        h0 += p0;
        h1 += p1 + (h0 >> 44);
        h0 &= MASK44;
        h2 += p2 + (h1 >> 44);
        h1 &= MASK44;
        let lo = h0 | (h1 << 44);
        let hi = (h1 >> 20) | (h2 << 24);
        let mut tag = [0u8; 16];
        tag[..8].copy_from_slice(&lo.to_le_bytes());
        tag[8..].copy_from_slice(&hi.to_le_bytes());
        tag
    }
}

impl Drop for Limbs44 {
    fn drop(&mut self) {
        self.r.zeroize();
        self.pad.zeroize();
        self.h.zeroize();
    }
}
