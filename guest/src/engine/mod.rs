//! The TLS engine: every rustls call in tlsbox lives under this module, so moving to
//! rustls 0.24 (which reshapes the connection API) touches nothing else.

mod client_hello;
mod config;
mod errors;
mod names;
mod pinned;
mod plaintext;
mod protection;
mod session;
mod tickets;
mod trust;

pub use config::{EngineConfig, HostStores, SessionStore};
pub use session::Session;
pub use trust::AnchorSource;

/// Largest plaintext record TLS allows (2^14).
const MAX_RECORD: u32 = 16_384;

/// Seals `records` TLS 1.3 records of `record_size` bytes (at most 2^14) with `suite`'s AEAD
/// under a throwaway key; the ciphertext bytes produced, 0 for a suite that is not TLS 1.3.
/// The raw in-guest AEAD rate, for benchmarks.
pub fn seal_records(suite: crate::types::CipherSuite, record_size: u32, records: u32) -> u64 {
    crate::crypto::seal_records(
        names::rustls_suite(suite),
        record_size.min(MAX_RECORD) as usize,
        records,
    )
    .unwrap_or(0)
}
