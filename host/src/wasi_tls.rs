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
/// feature, under which each connection runs on a tokio task of its own) switches its TLS to
/// tlsbox.
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
    #[cfg(not(feature = "wasi-tls-p3"))]
    fn connect(&self, server_name: String, transport: Box<dyn TlsTransport>) -> Connecting {
        let connector = self.connector.clone();
        Box::pin(async move {
            match connector.connect_to(&server_name, transport).await {
                Ok(stream) => Ok(Box::new(stream) as Box<dyn wasmtime_wasi_tls::TlsStream>),
                Err(e) => Err(wasmtime_wasi_tls::Error::msg(describe(&e))),
            }
        })
    }

    /// With WASIp3 the embedder polls `connect` and the stream from inside its store's
    /// concurrent event loop, where wasmtime 48 refuses (panics on) another store's
    /// concurrent call — and with component-model-async built in, every tlsbox guest call is
    /// one. So the connection runs on a task of its own and is reached through a pipe.
    #[cfg(feature = "wasi-tls-p3")]
    fn connect(&self, server_name: String, transport: Box<dyn TlsTransport>) -> Connecting {
        let connector = self.connector.clone();
        Box::pin(async move {
            let connecting =
                tokio::spawn(async move { connector.connect_to(&server_name, transport).await });
            match connecting.await.map_err(io::Error::other).and_then(|r| r) {
                Ok(stream) => Ok(Box::new(detached::Detached::new(stream))
                    as Box<dyn wasmtime_wasi_tls::TlsStream>),
                Err(e) => Err(wasmtime_wasi_tls::Error::msg(describe(&e))),
            }
        })
    }
}

/// A TLS stream on a task of its own (see the WASIp3 `connect`).
#[cfg(feature = "wasi-tls-p3")]
mod detached {
    use std::io;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, ready};

    use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

    /// Bytes the pipe holds each way.
    const PIPE: usize = 64 << 10;

    /// Our end of the pipe to the task that runs the TLS stream; the error that ended the
    /// task comes back in place of the end of the stream.
    pub(super) struct Detached {
        pipe: DuplexStream,
        failure: Arc<Mutex<Option<io::Error>>>,
    }

    impl Detached {
        /// Runs `stream` on a new task, copying both ways until both directions close.
        pub(super) fn new<S>(mut stream: S) -> Self
        where
            S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        {
            let (pipe, mut far) = tokio::io::duplex(PIPE);
            let failure = Arc::new(Mutex::new(None));
            let slot = failure.clone();
            tokio::spawn(async move {
                if let Err(e) = tokio::io::copy_bidirectional(&mut stream, &mut far).await {
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                }
            });
            Detached { pipe, failure }
        }

        fn failure(&self) -> Option<io::Error> {
            self.failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
        }
    }

    impl wasmtime_wasi_tls::TlsStream for Detached {}

    impl AsyncRead for Detached {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let before = buf.filled().len();
            ready!(Pin::new(&mut self.pipe).poll_read(cx, buf))?;
            let at_end = buf.filled().len() == before && buf.remaining() > 0;
            Poll::Ready(match self.failure().filter(|_| at_end) {
                Some(e) => Err(e),
                None => Ok(()),
            })
        }
    }

    impl AsyncWrite for Detached {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let result = ready!(Pin::new(&mut self.pipe).poll_write(cx, data));
            Poll::Ready(result.map_err(|e| self.failure().unwrap_or(e)))
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.pipe).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.pipe).poll_shutdown(cx)
        }
    }
}

/// The tlsbox error behind `e` as it displays (`kind/name (alert N): message`), or `e`.
fn describe(e: &io::Error) -> String {
    match e.get_ref().and_then(|e| e.downcast_ref::<crate::Error>()) {
        Some(tls) => tls.to_string(),
        None => e.to_string(),
    }
}
