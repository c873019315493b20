//! tlsbox: a TLS endpoint inside a WebAssembly component, driven from the host.
//!
//! The guest component holds all TLS state; this crate supplies only raw socket I/O and a
//! Rust API with s2n-tls's application-data contract:
//!
//! - [`Runtime`]: the compiled component, shared by everything in a process.
//! - [`Config`]: certificates, keys, trust anchors, ALPN, versions, suites, groups.
//! - [`TlsConnector`] / [`TlsAcceptor`] / [`TlsStream`] (feature `tokio`, on by default):
//!   tokio's `AsyncRead`/`AsyncWrite` over any async byte stream, one instance per
//!   connection.
//! - [`Endpoint`] / [`Connection`]: the blocking API with s2n's results, over the same
//!   async core.
//! - [`Transport`]: where ciphertext goes for the blocking API — [`TcpTransport`], or
//!   `ScriptedTransport` (feature `testing`).
//!
//! # Features
//!
//! - `tokio` (default): the async stream API.
//! - `cli` (default): the `tlsbox` binary's dependencies; the library never uses them.
//! - `testing` (default through `cli`): test and demo scaffolding — [`pki`] (rcgen
//!   certificates) and [`scripted`] (an in-memory transport that follows a script and
//!   records every call).
//!
//! # Example
//!
//! A client and a server talking TLS over an in-memory pipe:
//!
//! ```
//! # #[cfg(all(feature = "tokio", feature = "testing"))]
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! use tlsbox::{Config, Runtime, TlsAcceptor, TlsConnector};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let pki = tlsbox::pki::Pki::generate(&["localhost"]).unwrap();
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
//! # #[cfg(not(all(feature = "tokio", feature = "testing")))]
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
#[cfg(feature = "testing")]
pub mod pki;
mod runtime;
#[cfg(feature = "testing")]
pub mod scripted;
mod sessions;
#[cfg(feature = "tokio")]
mod stream;
mod transport;

pub use bindings::{
    AlertPolicy, Blocked, CipherSuite, ClientAuth, EarlyDataStatus, ErrorKind, IoError,
    KeyUpdateCounts, KxGroup, Progress, ProtocolVersion, Received, RecordSizing, Role, SessionInfo,
};
pub use config::Config;
pub use connection::{Connection, Endpoint};
pub use error::Error;
pub use runtime::{Limits, Runtime};
#[cfg(feature = "testing")]
pub use scripted::ScriptedTransport;
#[cfg(feature = "tokio")]
pub use stream::{TlsAcceptor, TlsConnector, TlsStream};
pub use transport::{TcpTransport, Transport};
