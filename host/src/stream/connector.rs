//! [`TlsConnector`] and [`TlsAcceptor`]: each connection gets its own guest instance and
//! runs its handshake (a server taking 0-RTT data reads it first); a failed handshake puts
//! its last word on the wire before the error is returned.

use std::io;
use std::marker::PhantomData;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use wasmtime::component::ResourceAny;

use super::calls::{Core, Slot, wait_for_io};
use super::close::last_word;
use super::{READ_MAX, ReadState, TlsStream, WriteState};
use crate::bindings::{Blocked, Role};
use crate::config::Config;
use crate::core::Instance;
use crate::error::Error;
use crate::runtime::Runtime;
use crate::transport::tokio_io::TokioTransport;

/// Makes [`TlsStream`]s as a TLS client. Cheap to clone.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// # let pki = tlsbox_test_support::pki::Pki::generate(&["localhost"]).unwrap();
/// # let ca = pki.ca_pem.clone();
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let addr = listener.local_addr()?;
/// # let acceptor = tlsbox::TlsAcceptor::new(
/// #     &tlsbox::Runtime::shared()?,
/// #     tlsbox::Config::server(pki.server_cert_pem, pki.server_key_pem),
/// # );
/// # tokio::spawn(async move {
/// #     use tokio::io::AsyncWriteExt;
/// #     let mut tls = acceptor.accept(listener.accept().await?.0).await?;
/// #     tls.write_all(b"hello").await?;
/// #     tls.shutdown().await
/// # });
/// use tlsbox::{Config, Runtime, TlsConnector};
/// use tokio::io::AsyncReadExt;
///
/// let connector = TlsConnector::new(&Runtime::shared()?, Config::client("localhost").trust(ca));
/// let tcp = tokio::net::TcpStream::connect(addr).await?;
/// let mut tls = connector.connect(tcp).await?;
/// let mut greeting = Vec::new();
/// tls.read_to_end(&mut greeting).await?; // to the server's close_notify
/// assert_eq!(greeting, b"hello");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TlsConnector {
    runtime: Runtime,
    config: Config,
}

impl TlsConnector {
    /// A connector with a client `config` (its server name is sent and verified).
    pub fn new(runtime: &Runtime, config: Config) -> Self {
        TlsConnector {
            runtime: runtime.clone(),
            config,
        }
    }

    /// Instantiates the component for a new connection over `io` and completes the
    /// handshake.
    pub async fn connect<S>(&self, io: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        TlsStream::handshake(&self.runtime, &self.config, io).await
    }

    /// Like [`connect`](Self::connect), verifying and sending `server_name` instead of the
    /// config's.
    pub async fn connect_to<S>(&self, server_name: &str, io: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut config = self.config.clone();
        config.options.server_name = Some(server_name.to_owned());
        TlsStream::handshake(&self.runtime, &config, io).await
    }
}

/// Makes [`TlsStream`]s as a TLS server. Cheap to clone.
///
/// An echo server, a task and a guest instance per connection:
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// # let pki = tlsbox_test_support::pki::Pki::generate(&["localhost"]).unwrap();
/// # let (cert, key) = (pki.server_cert_pem.clone(), pki.server_key_pem.clone());
/// use tlsbox::{Config, Runtime, TlsAcceptor};
///
/// let acceptor = TlsAcceptor::new(&Runtime::shared()?, Config::server(cert, key));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let addr = listener.local_addr()?;
/// tokio::spawn(async move {
///     loop {
///         let (tcp, _) = listener.accept().await?;
///         let acceptor = acceptor.clone();
///         tokio::spawn(async move {
///             let tls = acceptor.accept(tcp).await?;
///             let (mut reader, mut writer) = tokio::io::split(tls);
///             tokio::io::copy(&mut reader, &mut writer).await // echo
///         });
///     }
///     #[allow(unreachable_code)]
///     std::io::Result::Ok(())
/// });
/// # use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// # let client = tlsbox::Config::client("localhost").trust(pki.ca_pem);
/// # let connector = tlsbox::TlsConnector::new(&Runtime::shared()?, client);
/// # let mut tls = connector.connect(tokio::net::TcpStream::connect(addr).await?).await?;
/// # tls.write_all(b"echo").await?;
/// # let mut echoed = [0; 4];
/// # tls.read_exact(&mut echoed).await?;
/// # assert_eq!(&echoed, b"echo");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TlsAcceptor {
    runtime: Runtime,
    config: Config,
    handshake_timeout: Option<Duration>,
}

/// How long [`TlsAcceptor::accept`] gives a client to complete its handshake by default, as
/// nginx's `ssl_handshake_timeout`: a client that connects and stalls cannot hold an
/// instance and a socket forever, and a real client still gets its handshake done when a
/// burst of thousands queues for the CPU (a handshake's clock starts at `accept`).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

impl TlsAcceptor {
    /// An acceptor with a server `config`. Without ticket keys it makes one random key for
    /// all its connections, so clients resume on any of them (see [`Config::ticket_keys`]).
    /// Handshakes must finish within [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub fn new(runtime: &Runtime, config: Config) -> Self {
        TlsAcceptor {
            runtime: runtime.clone(),
            config: config.with_shared_ticket_key(),
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }

    /// How long a client has to complete its handshake (0-RTT data included) once
    /// [`accept`](Self::accept) starts; `None` waits as long as the client takes.
    pub fn handshake_timeout(mut self, limit: Option<Duration>) -> Self {
        self.handshake_timeout = limit;
        self
    }

    /// Instantiates the component for a new connection over `io` and completes the
    /// handshake. A client that has not finished it within the handshake timeout is
    /// disconnected (the byte stream dropped) and this fails with
    /// [`io::ErrorKind::TimedOut`].
    pub async fn accept<S>(&self, io: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let handshake = TlsStream::handshake(&self.runtime, &self.config, io);
        match self.handshake_timeout {
            Some(limit) => tokio::time::timeout(limit, handshake)
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the client did not complete its handshake within {limit:?}"),
                    ))
                }),
            None => handshake.await,
        }
    }
}

impl<S> TlsStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn handshake(runtime: &Runtime, config: &Config, io: S) -> io::Result<Self> {
        let mut instance = Box::new(Instance::new(runtime, config).await?);
        let (handle, socket) = instance.connect(Box::new(TokioTransport::new(io))).await?;
        let takes_early_data =
            config.options.role == Role::Server && config.options.max_early_data > 0;
        let mut early = Vec::new();
        if let Err(e) = establish(&mut instance, handle, socket, takes_early_data, &mut early).await
        {
            last_word(&mut instance, handle, socket).await;
            return Err(e.into());
        }
        Ok(TlsStream {
            core: Core {
                slot: Slot::Idle(instance),
                handle,
                socket,
                parked: Default::default(),
                wakers: Default::default(),
            },
            early_data_len: early.len(),
            // Early data is the first of the stream.
            read: ReadState {
                buf: early,
                ..ReadState::default()
            },
            write: WriteState::default(),
            _io: PhantomData,
        })
    }
}

/// The handshake, reading the client's early data first when the server takes it.
async fn establish(
    instance: &mut Instance,
    handle: ResourceAny,
    socket: u32,
    takes_early_data: bool,
    early: &mut Vec<u8>,
) -> Result<(), Error> {
    if takes_early_data {
        loop {
            instance.clear_woken(socket);
            match instance.recv_early_data(handle, READ_MAX as u32).await {
                Ok(r) if r.blocked == Blocked::NotBlocked => {
                    early.extend_from_slice(&r.data);
                    break;
                }
                Ok(r) => early.extend_from_slice(&r.data),
                Err(e) if e.is_blocked() => {}
                Err(e) => return Err(e),
            }
            wait_for_io(instance, socket).await;
        }
    }
    loop {
        instance.clear_woken(socket);
        match instance.negotiate(handle).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_blocked() => wait_for_io(instance, socket).await,
            Err(e) => return Err(e),
        }
    }
}
