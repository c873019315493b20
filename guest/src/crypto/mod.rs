//! The project's rustls `CryptoProvider`, built on RustCrypto crates and `getrandom`.
//!
//! It compiles to `wasm32-wasip2` with no C toolchain. Wasm has no AES instructions, so
//! software AES-GCM is several times slower than ChaCha20-Poly1305 there: ChaCha20-Poly1305
//! suites come first in [`DEFAULT_CIPHER_SUITES`], AES-GCM stays for interoperability.
//!
//! The individual suites, groups and the verification-algorithm table are exported so the
//! configuration layer can reorder or restrict them:
//!
//! ```
//! let mut p = tlsbox_guest::crypto::provider();
//! p.cipher_suites = vec![tlsbox_guest::crypto::TLS13_AES_256_GCM_SHA384];
//! assert!(p.kx_groups.len() >= 3);
//! ```

mod aead;
mod chacha;
mod hash;
pub mod hybrid;
mod kx;
mod poly;
pub mod sealed;
mod sign;
mod suites;
mod ticketer;
mod verify;

#[cfg(test)]
mod tests;

use rustls::SupportedCipherSuite;
use rustls::crypto::{CryptoProvider, GetRandomFailed, SecureRandom, SupportedKxGroup};

pub use aead::seal_records;
pub use hybrid::{SECP256R1MLKEM768, X25519MLKEM768};
pub use kx::{SECP256R1, SECP384R1, SECP521R1, X448, X25519};
pub use sign::load_private_key;
pub use suites::{
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256,
};
pub use ticketer::{ticketer, ticketer_with_keys};
pub use verify::SUPPORTED_SIG_ALGS;

/// Every cipher suite, in our default preference order: TLS 1.3 before TLS 1.2, and within
/// each, ChaCha20-Poly1305 (fast in wasm) before AES-128-GCM before AES-256-GCM.
pub static DEFAULT_CIPHER_SUITES: &[SupportedCipherSuite] = &[
    TLS13_CHACHA20_POLY1305_SHA256,
    TLS13_AES_128_GCM_SHA256,
    TLS13_AES_256_GCM_SHA384,
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

/// Every key-exchange group, in preference order: X25519MLKEM768 (post-quantum hybrid), then
/// X25519, P-256, SecP256r1MLKEM768, P-384, X448 and P-521.
///
/// Our ClientHello carries a key share for the first group, and for its X25519 part on its
/// own, so a server without ML-KEM answers at once, with no HelloRetryRequest. P-521 comes
/// last: it is the slowest in software and only for peers that accept nothing else; listing
/// a group costs nothing unless a server picks it.
pub static DEFAULT_KX_GROUPS: &[&dyn SupportedKxGroup] = &[
    X25519MLKEM768,
    X25519,
    SECP256R1,
    SECP256R1MLKEM768,
    SECP384R1,
    X448,
    SECP521R1,
];

/// The tlsbox crypto provider: [`DEFAULT_CIPHER_SUITES`], [`DEFAULT_KX_GROUPS`],
/// [`SUPPORTED_SIG_ALGS`], `getrandom` entropy and [`load_private_key`] for keys.
///
/// Cheap to call (it copies two short lists), but build rustls configs from it once, not per
/// connection.
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: DEFAULT_CIPHER_SUITES.to_vec(),
        kx_groups: DEFAULT_KX_GROUPS.to_vec(),
        signature_verification_algorithms: SUPPORTED_SIG_ALGS,
        secure_random: &Entropy,
        key_provider: &sign::Keys,
    }
}

/// Entropy from `getrandom`: WASI `random` in the guest, the OS natively.
#[derive(Debug)]
struct Entropy;

impl SecureRandom for Entropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        getrandom::fill(buf).map_err(|_| GetRandomFailed)
    }
}
