//! What tlsbox's fuzzers run. Each target is a function of the input bytes that panics only
//! on a defect: `fuzz/` runs them under libFuzzer (cargo-fuzz), and
//! `tests/corpus.rs` replays the committed corpus on stable with `cargo test`.
//!
//! - [`peer_bytes`]: the engine and record layer, fed bytes from the peer in both roles:
//!   arbitrary bytes as the peer's first flight, and records forged under the real keys of a
//!   real handshake, during it and after it;
//! - [`calls`]: sequences of the s2n calls over a transport that returns arbitrary partial
//!   counts, would-block and errors, against a native rustls peer, checking that every
//!   application byte arrives once and in order and that each result is one the contract
//!   allows;
//! - [`config`]: configuration inputs (PEM, DER, names, ALPN lists, sizes);
//! - [`boundary`] (feature `component`): the WIT boundary through wasmtime, the real
//!   component driven by arbitrary calls over a scripted transport.

#[cfg(feature = "component")]
pub mod boundary;
pub mod calls;
pub mod config;
mod fixture;
pub mod peer_bytes;

/// A fuzz target: takes any bytes, panics only on a finding.
pub type Target = fn(&[u8]);

/// The targets by name: `fuzz/fuzz_targets/<name>.rs` runs the function, and
/// `fuzz/corpus/<name>/` holds its corpus.
pub const TARGETS: &[(&str, Target)] = &[
    ("server_first_flight", peer_bytes::server_first_flight),
    ("client_first_flight", peer_bytes::client_first_flight),
    ("forged_records", peer_bytes::forged_records),
    ("calls", calls::run),
    ("config", config::run),
    #[cfg(feature = "component")]
    ("boundary", boundary::run),
];
