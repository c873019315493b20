//! Test scaffolding for tlsbox, for its own test suites only (a dev-dependency, never
//! published): [`pki`] makes throw-away certificates, [`scripted`] is an in-memory
//! transport that follows a script and records every call, and [`peers`] starts and stops
//! real TLS peers (`openssl s_server` and other processes) with OpenSSL-made certificates;
//! [`embedding`] runs `wasi:tls` commands in a plain wasmtime embedding.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod embedding;
pub mod peers;
pub mod pki;
pub mod scripted;

pub use scripted::ScriptedTransport;
