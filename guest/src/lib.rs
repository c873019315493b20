//! The tlsbox guest: a TLS endpoint that holds all TLS state inside a WebAssembly
//! component and speaks s2n-tls's application-data contract over a host-supplied socket.
//!
//! Layers, top to bottom: [`wit`] (bindings glue, wasm only) → [`conn`] (s2n semantics) →
//! [`engine`] (every rustls call) → [`crypto`] (the RustCrypto provider). [`io`] is the
//! transport as `conn` sees it. Everything but `wit` compiles natively for tests.

#![warn(missing_docs)]
// The generated WIT glue needs `unsafe` (wasm only); everything else may not use it.
#![deny(unsafe_code)]

pub mod conn;
pub mod crypto;
pub mod engine;
pub mod io;
pub mod types;
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // generated bindings only
pub mod wit;
