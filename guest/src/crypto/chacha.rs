//! ChaCha20-Poly1305 (RFC 8439) with the keystream computed four blocks at a time.
//!
//! The four blocks run side by side in the four lanes of 128-bit vectors: vector *i* holds
//! word *i* of blocks *n* to *n*+3, so each vector instruction does the work of four scalar
//! ones, and the 16- and 8-bit rotations are single byte shuffles. In the guest the lanes are
//! wasm simd128 vectors (RustCrypto's `chacha20` has no simd128 backend: its scalar code runs
//! there well below this rate); elsewhere (native tests, fuzzing) the same code runs on
//! plain `[u32; 4]` lanes, so the vectors and property tests check the algorithm natively and
//! the interop tests check the simd128 build against native peers. Poly1305 is in `poly.rs`.

use aes_gcm::aead::consts::{U12, U16, U32};
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{self, AeadCore, AeadInOut, KeyInit, KeySizeUser, TagPosition};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::poly::Poly1305;
use lanes::{ByteRotations, U32x4};

/// Bytes in one ChaCha20 block.
const BLOCK: usize = 64;
/// Bytes in one batch of four blocks, the unit the keystream is made in.
const BATCH: usize = 4 * BLOCK;
/// "expand 32-byte k", the first four state words (RFC 8439 section 2.3).
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// ChaCha20-Poly1305 under one 256-bit key; wipes the key on drop.
#[derive(Clone)]
pub(crate) struct ChaCha20Poly1305 {
    key: [u32; 8],
}

impl Drop for ChaCha20Poly1305 {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl ZeroizeOnDrop for ChaCha20Poly1305 {}

impl KeySizeUser for ChaCha20Poly1305 {
    type KeySize = U32;
}

impl KeyInit for ChaCha20Poly1305 {
    fn new(key: &aead::Key<Self>) -> Self {
        Self { key: words(key) }
    }
}

impl AeadCore for ChaCha20Poly1305 {
    type NonceSize = U12;
    type TagSize = U16;
    const TAG_POSITION: TagPosition = TagPosition::Postfix;
}

impl AeadInOut for ChaCha20Poly1305 {
    fn encrypt_inout_detached(
        &self,
        nonce: &aead::Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
    ) -> aead::Result<aead::Tag<Self>> {
        let buf = buffer.into_out_with_copied_in();
        let stream = Keystream::new(&self.key, nonce);
        let mac = stream.mac(buf.len())?;
        stream.apply(buf);
        Ok(authenticate(mac, associated_data, buf).finalize().into())
    }

    fn decrypt_inout_detached(
        &self,
        nonce: &aead::Nonce<Self>,
        associated_data: &[u8],
        buffer: InOutBuf<'_, '_, u8>,
        tag: &aead::Tag<Self>,
    ) -> aead::Result<()> {
        let stream = Keystream::new(&self.key, nonce);
        let mac = stream.mac(buffer.len())?;
        // Compared in constant time; nothing is decrypted unless the tag matches.
        if !authenticate(mac, associated_data, buffer.get_in()).verify(tag) {
            return Err(aead::Error);
        }
        stream.apply(buffer.into_out_with_copied_in());
        Ok(())
    }
}

/// Feeds Poly1305 the RFC 8439 section 2.8 input: padded AAD, padded ciphertext, the lengths.
fn authenticate(mut mac: Poly1305, aad: &[u8], ciphertext: &[u8]) -> Poly1305 {
    mac.update_padded(aad);
    mac.update_padded(ciphertext);
    let mut lengths = [0u8; 16];
    lengths[..8].copy_from_slice(&(aad.len() as u64).to_le_bytes());
    lengths[8..].copy_from_slice(&(ciphertext.len() as u64).to_le_bytes());
    mac.update_padded(&lengths);
    mac
}

/// Little-endian words of `bytes` (a multiple of four long).
fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
    let mut out = [0u32; N];
    for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    out
}

/// The keystream for one (key, nonce): block 0 keys Poly1305, blocks 1.. encrypt.
struct Keystream {
    /// The key and the nonce as state words (the rest of the state is constants and the
    /// block counter).
    key: [u32; 8],
    nonce: [u32; 3],
    /// The first batch (blocks 0 to 3), made once: block 0 for the MAC, 1 to 3 for the
    /// first 192 bytes of the message.
    first: [u8; BATCH],
}

impl Keystream {
    fn new(key: &[u32; 8], nonce: &[u8]) -> Self {
        let nonce = words::<3>(nonce);
        Self {
            key: *key,
            nonce,
            first: batch(key, &nonce, 0),
        }
    }

    /// The one-time Poly1305 for a message of `len` bytes; a message longer than the 32-bit
    /// block counter allows (256 GiB) is refused before any byte is touched.
    fn mac(&self, len: usize) -> aead::Result<Poly1305> {
        if (len as u64).div_ceil(BLOCK as u64) >= u64::from(u32::MAX) {
            return Err(aead::Error);
        }
        let key = self.first.first_chunk::<32>().ok_or(aead::Error)?;
        Ok(Poly1305::new(key))
    }

    /// XORs the keystream from block 1 on into `buf`.
    fn apply(self, buf: &mut [u8]) {
        let (head, rest) = buf.split_at_mut(buf.len().min(BATCH - BLOCK));
        xor(head, &self.first[BLOCK..]);
        let mut counter = 4u32;
        let mut chunks = rest.chunks_exact_mut(BATCH);
        for chunk in &mut chunks {
            // Straight from the vectors into the data: the keystream never touches memory.
            xor_blocks(&rounds(&self.key, &self.nonce, counter), chunk);
            counter = counter.wrapping_add(4);
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let mut stream = batch(&self.key, &self.nonce, counter);
            xor(tail, &stream);
            stream.zeroize();
        }
    }
}

impl Drop for Keystream {
    fn drop(&mut self) {
        self.key.zeroize();
        self.first.zeroize();
    }
}

/// `data ^= stream` over `data`'s length (LLVM vectorises this loop).
fn xor(data: &mut [u8], stream: &[u8]) {
    for (byte, key) in data.iter_mut().zip(stream) {
        *byte ^= key;
    }
}

/// Blocks `counter` to `counter + 3` of the keystream, in stream order.
fn batch(key: &[u32; 8], nonce: &[u32; 3], counter: u32) -> [u8; BATCH] {
    let mut out = [0u8; BATCH];
    xor_blocks(&rounds(key, nonce, counter), &mut out);
    out
}

/// XORs four keystream blocks, as [`rounds`] leaves them, into `data` (`BATCH` bytes).
#[inline(always)]
fn xor_blocks(x: &[U32x4; 16], data: &mut [u8]) {
    // Vector i holds word i of the four blocks; transposing each group of four vectors gives
    // four consecutive words of each block.
    for group in 0..4 {
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| x[4 * group + i]);
        for (block, row) in U32x4::transpose(a, b, c, d).into_iter().enumerate() {
            let at = block * BLOCK + group * 16;
            row.xor_into(&mut data[at..at + 16]);
        }
    }
}

/// The ChaCha20 block function on blocks `counter` to `counter + 3`: vector i of the result
/// is word i of each of the four blocks.
#[inline(always)]
fn rounds(key: &[u32; 8], nonce: &[u32; 3], counter: u32) -> [U32x4; 16] {
    let start = [
        U32x4::splat(SIGMA[0]),
        U32x4::splat(SIGMA[1]),
        U32x4::splat(SIGMA[2]),
        U32x4::splat(SIGMA[3]),
        U32x4::splat(key[0]),
        U32x4::splat(key[1]),
        U32x4::splat(key[2]),
        U32x4::splat(key[3]),
        U32x4::splat(key[4]),
        U32x4::splat(key[5]),
        U32x4::splat(key[6]),
        U32x4::splat(key[7]),
        U32x4::new(
            counter,
            counter.wrapping_add(1),
            counter.wrapping_add(2),
            counter.wrapping_add(3),
        ),
        U32x4::splat(nonce[0]),
        U32x4::splat(nonce[1]),
        U32x4::splat(nonce[2]),
    ];
    let mut x = start;
    let rot = ByteRotations::new();
    for _ in 0..10 {
        quarter_round(&mut x, &rot, 0, 4, 8, 12);
        quarter_round(&mut x, &rot, 1, 5, 9, 13);
        quarter_round(&mut x, &rot, 2, 6, 10, 14);
        quarter_round(&mut x, &rot, 3, 7, 11, 15);
        quarter_round(&mut x, &rot, 0, 5, 10, 15);
        quarter_round(&mut x, &rot, 1, 6, 11, 12);
        quarter_round(&mut x, &rot, 2, 7, 8, 13);
        quarter_round(&mut x, &rot, 3, 4, 9, 14);
    }
    for (word, initial) in x.iter_mut().zip(start) {
        *word = word.add(initial);
    }
    x
}

/// The ChaCha quarter round (RFC 8439 section 2.1) on four blocks at once.
#[inline(always)]
fn quarter_round(x: &mut [U32x4; 16], rot: &ByteRotations, a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].add(x[b]);
    x[d] = x[d].xor(x[a]).rotl16(rot);
    x[c] = x[c].add(x[d]);
    x[b] = x[b].xor(x[c]).rotl12();
    x[a] = x[a].add(x[b]);
    x[d] = x[d].xor(x[a]).rotl8(rot);
    x[c] = x[c].add(x[d]);
    x[b] = x[b].xor(x[c]).rotl7();
}

/// Four 32-bit lanes: a simd128 vector in the guest.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    use core::arch::wasm32::{
        i32x4_shuffle, i64x2_shuffle, u8x16, u32x4, u32x4_add, u32x4_shl, u32x4_shr, u32x4_splat,
        v128, v128_or, v128_xor,
    };
    // The same for in-range indices; wasmtime lowers the relaxed form to a bare `pshufb`,
    // the strict one to a saturating add (out-of-range indices give zero) and `pshufb`.
    // Only the wide build (wasmtime alone) enables relaxed SIMD.
    #[cfg(target_feature = "relaxed-simd")]
    use core::arch::wasm32::i8x16_relaxed_swizzle as byte_swizzle;
    #[cfg(not(target_feature = "relaxed-simd"))]
    use core::arch::wasm32::u8x16_swizzle as byte_swizzle;

    #[derive(Clone, Copy)]
    pub(super) struct U32x4(v128);

    /// The byte permutations that rotate each 32-bit lane left by 16 and by 8 bits, as
    /// swizzle masks the compiler cannot see through. LLVM turns a swizzle by a constant
    /// into a one-input `i8x16.shuffle` and emits it with an arbitrary second operand,
    /// which Cranelift, seeing two inputs, lowers to `vpermi2b` (three cycles, mask
    /// reloaded on every use) instead of the one-cycle `pshufb` a swizzle becomes.
    pub(super) struct ByteRotations {
        by16: v128,
        by8: v128,
    }

    impl ByteRotations {
        #[inline(always)]
        pub(super) fn new() -> Self {
            core::hint::black_box(Self {
                by16: u8x16(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13),
                by8: u8x16(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14),
            })
        }
    }

    impl U32x4 {
        #[inline(always)]
        pub(super) fn splat(word: u32) -> Self {
            Self(u32x4_splat(word))
        }

        #[inline(always)]
        pub(super) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
            Self(u32x4(a, b, c, d))
        }

        #[inline(always)]
        pub(super) fn add(self, other: Self) -> Self {
            Self(u32x4_add(self.0, other.0))
        }

        #[inline(always)]
        pub(super) fn xor(self, other: Self) -> Self {
            Self(v128_xor(self.0, other.0))
        }

        /// A rotation by a whole number of bytes is one byte shuffle (`pshufb` on x86).
        #[inline(always)]
        pub(super) fn rotl16(self, rot: &ByteRotations) -> Self {
            Self(byte_swizzle(self.0, rot.by16))
        }

        #[inline(always)]
        pub(super) fn rotl8(self, rot: &ByteRotations) -> Self {
            Self(byte_swizzle(self.0, rot.by8))
        }

        #[inline(always)]
        pub(super) fn rotl12(self) -> Self {
            Self(v128_or(u32x4_shl(self.0, 12), u32x4_shr(self.0, 20)))
        }

        #[inline(always)]
        pub(super) fn rotl7(self) -> Self {
            Self(v128_or(u32x4_shl(self.0, 7), u32x4_shr(self.0, 25)))
        }

        /// Rows to columns: lane j of the result i is lane i of argument j.
        #[inline(always)]
        pub(super) fn transpose(a: Self, b: Self, c: Self, d: Self) -> [Self; 4] {
            let ab_low = i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0);
            let cd_low = i32x4_shuffle::<0, 4, 1, 5>(c.0, d.0);
            let ab_high = i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0);
            let cd_high = i32x4_shuffle::<2, 6, 3, 7>(c.0, d.0);
            [
                Self(i64x2_shuffle::<0, 2>(ab_low, cd_low)),
                Self(i64x2_shuffle::<1, 3>(ab_low, cd_low)),
                Self(i64x2_shuffle::<0, 2>(ab_high, cd_high)),
                Self(i64x2_shuffle::<1, 3>(ab_high, cd_high)),
            ]
        }

        /// `bytes ^= lanes` with the lanes little-endian (wasm's own byte order): one
        /// unaligned load, XOR and store. `bytes` is 16 long.
        #[inline(always)]
        pub(super) fn xor_into(self, bytes: &mut [u8]) {
            let data: v128 = bytemuck::pod_read_unaligned(bytes);
            bytes.copy_from_slice(bytemuck::bytes_of(&v128_xor(data, self.0)));
        }
    }
}

/// Four 32-bit lanes: plain words off wasm, the same operations one lane at a time.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    #[derive(Clone, Copy)]
    pub(super) struct U32x4([u32; 4]);

    /// Nothing to hold off wasm: the rotations are plain `rotate_left`.
    pub(super) struct ByteRotations;

    impl ByteRotations {
        pub(super) fn new() -> Self {
            ByteRotations
        }
    }

    impl U32x4 {
        pub(super) fn splat(word: u32) -> Self {
            Self([word; 4])
        }

        pub(super) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
            Self([a, b, c, d])
        }

        fn map2(self, other: Self, f: impl Fn(u32, u32) -> u32) -> Self {
            Self(std::array::from_fn(|i| f(self.0[i], other.0[i])))
        }

        pub(super) fn add(self, other: Self) -> Self {
            self.map2(other, u32::wrapping_add)
        }

        pub(super) fn xor(self, other: Self) -> Self {
            self.map2(other, |a, b| a ^ b)
        }

        pub(super) fn rotl16(self, _: &ByteRotations) -> Self {
            Self(self.0.map(|w| w.rotate_left(16)))
        }

        pub(super) fn rotl8(self, _: &ByteRotations) -> Self {
            Self(self.0.map(|w| w.rotate_left(8)))
        }

        pub(super) fn rotl12(self) -> Self {
            Self(self.0.map(|w| w.rotate_left(12)))
        }

        pub(super) fn rotl7(self) -> Self {
            Self(self.0.map(|w| w.rotate_left(7)))
        }

        /// Rows to columns: lane j of the result i is lane i of argument j.
        pub(super) fn transpose(a: Self, b: Self, c: Self, d: Self) -> [Self; 4] {
            std::array::from_fn(|i| Self([a.0[i], b.0[i], c.0[i], d.0[i]]))
        }

        /// `bytes ^= lanes` with the lanes little-endian. `bytes` is 16 long.
        pub(super) fn xor_into(self, bytes: &mut [u8]) {
            for (chunk, word) in bytes.chunks_exact_mut(4).zip(self.0) {
                let value = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ word;
                chunk.copy_from_slice(&value.to_le_bytes());
            }
        }
    }
}
