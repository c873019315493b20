//! tlsbox: a TLS endpoint inside a WebAssembly component, driven from the host.
//!
//! The guest component holds all TLS state; this crate supplies only raw socket I/O and a
//! Rust API with s2n-tls's application-data contract:
//!
//! - [`Runtime`]: the compiled component, shared by everything in a process.
//! - [`Config`]: certificates, keys, trust anchors, ALPN, versions, suites, groups.
//! - [`Endpoint`] / [`Connection`]: a guest instance and the connections made from it.
//! - [`Transport`]: where ciphertext goes — [`TcpTransport`], [`ScriptedTransport`].

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod bindings;
mod config;
mod connection;
mod error;
mod names;
pub mod pki;
mod runtime;
pub mod scripted;
mod transport;

pub use bindings::{
    AlertPolicy, Blocked, CipherSuite, ClientAuth, ErrorKind, IoError, KeyUpdateCounts, KxGroup,
    Progress, ProtocolVersion, Received, RecordSizing, Role, SessionInfo,
};
pub use config::Config;
pub use connection::{Connection, Endpoint};
pub use error::Error;
pub use runtime::{Limits, Runtime};
pub use scripted::ScriptedTransport;
pub use transport::{TcpTransport, Transport};
