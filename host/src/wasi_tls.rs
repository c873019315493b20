//! tlsbox as wasmtime-wasi-tls's TLS provider: every `wasi:tls` client connection a guest
//! opens runs in its own tlsbox instance through the async core, so the TLS state of
//! `wasi:tls` applications stays out of the embedder's memory too, and a trap ends only
//! that connection.

use std::future::Future;
use std::io;
use std::pin::Pin;

use wasmtime_wasi_tls::{TlsProvider, TlsTransport};

use crate::config::Config;
use crate::runtime::Runtime;
use crate::stream::{TlsConnector, TlsStream};

/// A `wasi:tls` provider for [wasmtime-wasi-tls](wasmtime_wasi_tls): one line in an
/// embedding that serves `wasi:tls@0.2.0-draft` (and `@0.3.0-draft` with the `wasi-tls-p3`
/// feature) switches its TLS to tlsbox.
///
/// ```
/// # fn main() -> Result<(), tlsbox::Error> {
/// let runtime = tlsbox::Runtime::shared()?;
/// let tls = wasmtime_wasi_tls::WasiTlsCtxBuilder::new()
///     .provider(Box::new(tlsbox::WasiTlsProvider::new(&runtime)))
///     .build();
/// # let _ = tls;
/// # Ok(())
/// # }
/// ```
///
/// Servers are verified against the system's trust store unless the config says otherwise;
/// a failed handshake reaches the guest as the `wasi:io` error whose `to-debug-string` is
/// tlsbox's error, e.g. `protocol/untrusted-certificate (alert 48): ...`, after the alert
/// went out to the server.
#[derive(Clone, Debug)]
pub struct WasiTlsProvider {
    connector: TlsConnector,
}

impl WasiTlsProvider {
    /// Clients with tlsbox's defaults, verifying servers against the system's trust store.
    pub fn new(runtime: &Runtime) -> Self {
        WasiTlsProvider::with_config(runtime, Config::client("localhost"))
    }

    /// Clients with `config`'s settings — trust, ALPN, client certificate, versions,
    /// suites, groups, record sizing, alert policy. Its server name is replaced by the one
    /// each `wasi:tls` connection names.
    pub fn with_config(runtime: &Runtime, config: Config) -> Self {
        WasiTlsProvider {
            connector: TlsConnector::new(runtime, config),
        }
    }
}

impl wasmtime_wasi_tls::TlsStream for TlsStream<Box<dyn TlsTransport>> {}

type Connecting = Pin<
    Box<
        dyn Future<Output = Result<Box<dyn wasmtime_wasi_tls::TlsStream>, wasmtime_wasi_tls::Error>>
            + Send,
    >,
>;

impl TlsProvider for WasiTlsProvider {
    fn connect(&self, server_name: String, transport: Box<dyn TlsTransport>) -> Connecting {
        let connector = self.connector.clone();
        Box::pin(async move {
            match connector.connect_to(&server_name, transport).await {
                Ok(stream) => Ok(Box::new(stream) as Box<dyn wasmtime_wasi_tls::TlsStream>),
                Err(e) => Err(wasmtime_wasi_tls::Error::msg(describe(&e))),
            }
        })
    }
}

/// The tlsbox error behind `e` as it displays (`kind/name (alert N): message`), or `e`.
fn describe(e: &io::Error) -> String {
    match e.get_ref().and_then(|e| e.downcast_ref::<crate::Error>()) {
        Some(tls) => tls.to_string(),
        None => e.to_string(),
    }
}
