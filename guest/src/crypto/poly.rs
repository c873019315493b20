//! Poly1305 (RFC 8439 section 2.5) for ChaCha20-Poly1305, in two limb layouts chosen by
//! what the build multiplies in one instruction:
//!
//! - [`limb44::Limbs44`]: three limbs, 64×64→128-bit products — 64-bit machines, and wasm built with
//!   the wide-arithmetic proposal (`i64.mul_wide_u`; the build wasmtime runs);
//! - [`limb26::Limbs26`]: five limbs, 32×32→64-bit products — baseline wasm (Node and other
//!   engines), where a 128-bit product is a call into compiler-rt.
//!
//! Both keep the key and accumulator in locals (machine registers) while a whole message is
//! absorbed; RustCrypto's `poly1305` keeps them in its state struct, in linear memory, where
//! each access is bounds-checked. Only the padded form ChaCha20-Poly1305 uses is offered:
//! every input is zero-padded to whole 16-byte blocks. Tests run both layouts natively.

// Each build uses one of the two; the tests use both.
#[allow(dead_code)]
pub(crate) mod limb26;
#[allow(dead_code)]
pub(crate) mod limb44;

use subtle::ConstantTimeEq;

/// The layout this build uses.
#[cfg(any(target_pointer_width = "64", tlsbox_wide_arithmetic))]
pub(crate) type Poly1305 = Mac<limb44::Limbs44>;
/// The layout this build uses.
#[cfg(not(any(target_pointer_width = "64", tlsbox_wide_arithmetic)))]
pub(crate) type Poly1305 = Mac<limb26::Limbs26>;

/// One limb layout: the key and accumulator, block absorption and the final reduction.
/// Implementations wipe their state on drop.
pub(crate) trait Limbs {
    /// Keyed by the 32-byte one-time key (`r` then `s`), `r` clamped.
    fn new(key: &[u8; 32]) -> Self;
    /// h = (h + block + 2^128) · r mod 2^130 − 5, for each 16-byte block.
    fn absorb<'a>(&mut self, blocks: impl Iterator<Item = &'a [u8]>);
    /// h fully reduced mod 2^130 − 5, plus `s`, mod 2^128.
    fn finalize(&self) -> [u8; 16];
}

/// A Poly1305 computation under a one-time key.
pub(crate) struct Mac<L>(L);

impl<L: Limbs> Mac<L> {
    /// Keyed by the 32-byte one-time key (`r` then `s`).
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self(L::new(key))
    }

    /// Absorbs `data`, zero-padded to a multiple of 16 bytes.
    pub(crate) fn update_padded(&mut self, data: &[u8]) {
        let mut blocks = data.chunks_exact(16);
        self.0.absorb(&mut blocks);
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 16];
            last[..rest.len()].copy_from_slice(rest);
            self.0.absorb(last.chunks_exact(16));
        }
    }

    /// The tag.
    pub(crate) fn finalize(self) -> [u8; 16] {
        self.0.finalize()
    }

    /// Whether the tag equals `expected`, compared in constant time.
    pub(crate) fn verify(self, expected: &[u8]) -> bool {
        self.finalize().ct_eq(expected).into()
    }
}
