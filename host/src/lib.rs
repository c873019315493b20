//! tlsbox: a TLS endpoint inside a WebAssembly component, driven from the host.
//!
//! The guest component holds all TLS state; this crate supplies only raw socket I/O and a
//! Rust API with s2n-tls's application-data contract:
//!
//! - [`Runtime`]: the compiled component, shared by everything in a process.
//! - [`Config`]: certificates, keys, trust anchors, ALPN, versions, suites, groups;
//!   [`TrustStore`]: the system's trust anchors (clients' default) or a bundle, parsed once.
//! - [`TlsConnector`] / [`TlsAcceptor`] / [`TlsStream`] (feature `tokio`, on by default):
//!   tokio's `AsyncRead`/`AsyncWrite` over any async byte stream, one instance per
//!   connection.
//! - [`Endpoint`] / [`Connection`]: the blocking API with s2n's results, over the same
//!   async core.
//! - [`Transport`]: where ciphertext goes for the blocking API, e.g. [`TcpTransport`].
//!
//! # Features
//!
//! - `tokio` (default): the async stream API.
//! - `wasi-tls`: [`WasiTlsProvider`], tlsbox as wasmtime-wasi-tls's TLS provider
//!   (`wasi:tls@0.2.0-draft`); `wasi-tls-p3` adds `wasi:tls@0.3.0-draft`.
//!
//! # Example
//!
//! A client and a server talking TLS over an in-memory pipe:
//!
//! ```
//! # #[cfg(feature = "tokio")]
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! use tlsbox::{Config, Runtime, TlsAcceptor, TlsConnector};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let pki = tlsbox_test_support::pki::Pki::generate(&["localhost"]).unwrap(); // test certificates
//! let runtime = Runtime::shared()?;
//! let acceptor = TlsAcceptor::new(
//!     &runtime,
//!     Config::server(pki.server_cert_pem.as_bytes(), pki.server_key_pem.as_bytes()),
//! );
//! let connector = TlsConnector::new(
//!     &runtime,
//!     Config::client("localhost").trust(pki.ca_pem.as_bytes()),
//! );
//!
//! let (client_io, server_io) = tokio::io::duplex(64 << 10);
//! let server = tokio::spawn(async move {
//!     let mut tls = acceptor.accept(server_io).await?;
//!     let mut buf = [0; 5];
//!     tls.read_exact(&mut buf).await?;
//!     tls.write_all(&buf).await?;
//!     tls.shutdown().await // close_notify
//! });
//!
//! let mut tls = connector.connect(client_io).await?;
//! tls.write_all(b"hello").await?;
//! let mut echoed = Vec::new();
//! tls.read_to_end(&mut echoed).await?; // ends at the server's close_notify
//! assert_eq!(echoed, b"hello");
//! server.await.unwrap()?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod bindings;
mod config;
mod connection;
mod core;
mod error;
mod names;
mod runtime;
mod sessions;
#[cfg(feature = "tokio")]
mod stream;
mod transport;
mod trust;
#[cfg(feature = "wasi-tls")]
mod wasi_tls;

pub use bindings::{
    AlertPolicy, Blocked, CipherSuite, ClientAuth, EarlyDataStatus, ErrorKind, IoError,
    KeyUpdateCounts, KxGroup, Progress, ProtocolVersion, Received, RecordSizing, Role, SessionInfo,
};
pub use config::Config;
pub use connection::{Connection, Endpoint};
pub use error::Error;
pub use runtime::{Limits, Reservation, Runtime};
#[cfg(feature = "tokio")]
pub use stream::{DEFAULT_HANDSHAKE_TIMEOUT, TlsAcceptor, TlsConnector, TlsStream};
pub use transport::{TcpTransport, Transport};
pub use trust::TrustStore;
#[cfg(feature = "wasi-tls")]
pub use wasi_tls::WasiTlsProvider;
