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

/// A 16-byte block as limbs, with the 2^128 bit a full block carries.
#[inline(always)]
fn block_limbs(block: &[u8]) -> [u64; 3] {
    let [m0, m1, m2] = split(word(block, 0), word(block, 8));
    [m0, m1, m2 | HIBIT]
}

/// Limb-wise sum (the limbs have room: 44 bits used of 64).
#[inline(always)]
fn add(h: [u64; 3], m: [u64; 3]) -> [u64; 3] {
    [h[0] + m[0], h[1] + m[1], h[2] + m[2]]
}

/// a·r, unreduced: three 128-bit column sums. 2^130 ≡ 5, and the limbs sit at 2^0, 2^44,
/// 2^88, so a product landing at 2^132 folds back times 5·4. Every input limb is under 2^46
/// and every `r` limb under 2^45 (so its multiple of 20 under 2^50): products under 2^96,
/// and the six of two such sums added cannot overflow a column.
#[inline(always)]
fn columns(a: [u64; 3], r: [u64; 3]) -> [u128; 3] {
    let [s1, s2] = [r[1] * 20, r[2] * 20];
    [
        mul(a[0], r[0]) + mul(a[1], s2) + mul(a[2], s1),
        mul(a[0], r[1]) + mul(a[1], r[0]) + mul(a[2], s2),
        mul(a[0], r[2]) + mul(a[1], r[1]) + mul(a[2], r[0]),
    ]
}

/// Partial reduction of three column sums: limbs back to their widths, the middle one a
/// little over (under 2^45).
#[inline(always)]
fn reduce([d0, mut d1, mut d2]: [u128; 3]) -> [u64; 3] {
    d1 += d0 >> 44;
    let mut h0 = d0 as u64 & MASK44;
    d2 += d1 >> 44;
    let mut h1 = d1 as u64 & MASK44;
    let carry = (d2 >> 42) as u64;
    let h2 = d2 as u64 & MASK42;
    h0 += carry * 5;
    h1 += h0 >> 44;
    h0 &= MASK44;
    [h0, h1, h2]
}

/// r² mod 2^130 − 5, partially reduced.
fn square(r: [u64; 3]) -> [u64; 3] {
    reduce(columns(r, r))
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
        // Two blocks per step: h = (h + m1)·r² + m2·r, six products per column instead of
        // three but one reduction for the two, which halves the carry chain each block
        // waits on.
        let r = self.r;
        let r2 = square(r);
        let mut h = self.h;
        let mut blocks = blocks;
        while let Some(first) = blocks.next() {
            let a = add(h, block_limbs(first));
            h = match blocks.next() {
                Some(second) => {
                    let [x, y] = [columns(a, r2), columns(block_limbs(second), r)];
                    reduce([x[0] + y[0], x[1] + y[1], x[2] + y[2]])
                }
                None => reduce(columns(a, r)),
            };
        }
        self.h = h;
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
