//! tokio streams over the async core: [`TlsConnector`] / [`TlsAcceptor`] make a
//! [`TlsStream`] over any `AsyncRead + AsyncWrite` byte stream, one guest instance per
//! connection.
//!
//! How a stream works. The instance runs one guest call at a time, and a guest call never
//! waits for I/O: the socket import polls the byte stream once with the calling task's
//! waker and reports would-block at once, so the call returns `blocked` and the stream
//! returns `Pending`. The reader and the writer (e.g. the halves of `tokio::io::split`)
//! therefore progress independently: each holds the instance only for the length of one
//! guest call, never while waiting.
//!
//! Cancellation safety. A guest call in flight (suspended at an epoch yield) is owned by
//! the stream, not by the caller's future: whoever polls the stream next drives it to its
//! end and parks its outcome for the side that started it (waking that side), so dropping
//! a read or write future never drops a guest call halfway. Received plaintext is kept in
//! the stream until read. Bytes handed to the guest are owned by the stream from then on:
//! `poll_write` reports them written, and the s2n retry rule (after a block, the same
//! bytes; after a partial send of n, the rest) runs under the hood from the stream's own
//! copy, so no byte is lost or sent twice whatever the caller does next.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::io;
use std::marker::PhantomData;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasmtime::component::ResourceAny;

use crate::bindings::{
    Blocked, EarlyDataStatus, ErrorKind, KeyUpdateCounts, Progress, Received, Role, SessionInfo,
};
use crate::config::Config;
use crate::core::Instance;
use crate::error::Error;
use crate::runtime::Runtime;
use crate::transport::tokio_io::TokioTransport;

/// Plaintext per guest send from `poll_write`: eight default-sized records, so a bulk
/// writer crosses the boundary rarely while the stream's own copy stays small.
const WRITE_CHUNK: usize = 64 << 10;

/// Largest plaintext asked of one guest `recv` (a record holds at most 16 KiB).
const READ_MAX: usize = 16 << 10;

/// Makes [`TlsStream`]s as a TLS client. Cheap to clone.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use tlsbox::{Config, Runtime, TlsConnector};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let ca = std::fs::read("ca.pem")?;
/// let connector = TlsConnector::new(&Runtime::shared()?, Config::client("example.com").trust(ca));
/// let tcp = tokio::net::TcpStream::connect("example.com:443").await?;
/// let mut tls = connector.connect(tcp).await?;
/// tls.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
/// let mut page = Vec::new();
/// tls.read_to_end(&mut page).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
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
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use tlsbox::{Config, Runtime, TlsAcceptor};
///
/// let (cert, key) = (std::fs::read("cert.pem")?, std::fs::read("key.pem")?);
/// let acceptor = TlsAcceptor::new(&Runtime::shared()?, Config::server(cert, key));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// loop {
///     let (tcp, _) = listener.accept().await?;
///     let acceptor = acceptor.clone();
///     tokio::spawn(async move {
///         let mut tls = acceptor.accept(tcp).await?;
///         let (mut reader, mut writer) = tokio::io::split(tls);
///         tokio::io::copy(&mut reader, &mut writer).await // echo
///     });
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct TlsAcceptor {
    runtime: Runtime,
    config: Config,
}

impl TlsAcceptor {
    /// An acceptor with a server `config`. Without ticket keys it makes one random key for
    /// all its connections, so clients resume on any of them (see [`Config::ticket_keys`]).
    pub fn new(runtime: &Runtime, config: Config) -> Self {
        TlsAcceptor {
            runtime: runtime.clone(),
            config: config.with_shared_ticket_key(),
        }
    }

    /// Instantiates the component for a new connection over `io` and completes the
    /// handshake.
    pub async fn accept<S>(&self, io: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        TlsStream::handshake(&self.runtime, &self.config, io).await
    }
}

/// A guest call: it owns the instance and hands it back with its outcome.
type Op = Pin<Box<dyn Future<Output = (Box<Instance>, Outcome)> + Send>>;

/// A guest call in flight; the flag says whether a `blocked` outcome may be waited on
/// (see [`Instance::can_wait`]).
type Running = Pin<Box<dyn Future<Output = (Box<Instance>, Outcome, bool)> + Send>>;

/// What a guest call produced, parked for the side that started it.
enum Outcome {
    Recv(Result<Received, Error>),
    /// A send's own copy of its bytes comes back with the result (the retry needs them).
    Send(Vec<u8>, Result<Progress, Error>),
    Flush(Result<(), Error>),
    ShutdownSend(Result<(), Error>),
    Control(Box<dyn Any + Send>),
}

/// Who started a guest call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Read = 0,
    Write = 1,
    Control = 2,
}

enum Slot {
    Idle(Box<Instance>),
    Busy(Side, Running),
    /// Only while an op is being started.
    Empty,
}

/// Builds an [`Op`] from a call on the instance: `op!(|inst, h| inst.recv(h, max) => Recv)`.
macro_rules! op {
    (|$inst:ident, $h:ident| $call:expr => $outcome:ident) => {
        move |mut $inst: Box<Instance>, $h: ResourceAny| -> Op {
            Box::pin(async move {
                let result = $call.await;
                ($inst, Outcome::$outcome(result))
            })
        }
    };
}

/// A guest send of `data`; the bytes come back with the result (a retry needs them).
fn send_op(data: Vec<u8>) -> impl FnOnce(Box<Instance>, ResourceAny) -> Op {
    move |mut inst: Box<Instance>, h: ResourceAny| -> Op {
        Box::pin(async move {
            let result = inst.send(h, &data).await;
            (inst, Outcome::Send(data, result))
        })
    }
}

/// Whether a send error leaves the connection usable (the transport's `other` error:
/// retry the same bytes).
fn transient(e: &Error) -> bool {
    e.kind == ErrorKind::Io && e.name == "io"
}

/// The instance and the guest calls' bookkeeping.
struct Core {
    slot: Slot,
    handle: ResourceAny,
    socket: u32,
    parked: [Option<(Outcome, bool)>; 3],
    wakers: [Option<Waker>; 3],
}

impl Core {
    /// Drives the guest call in flight, whoever started it, until the instance is idle;
    /// parks the outcome for its owner and wakes the owner if that is another side.
    fn poll_idle(&mut self, cx: &mut Context<'_>, me: Side) -> Poll<()> {
        match &self.wakers[me as usize] {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.wakers[me as usize] = Some(cx.waker().clone()),
        }
        loop {
            let Slot::Busy(owner, op) = &mut self.slot else {
                return Poll::Ready(());
            };
            let owner = *owner;
            let (instance, outcome, wait) = ready!(op.as_mut().poll(cx));
            self.slot = Slot::Idle(instance);
            self.parked[owner as usize] = Some((outcome, wait));
            if owner != me
                && let Some(waker) = &self.wakers[owner as usize]
            {
                waker.wake_by_ref();
            }
        }
    }

    /// Starts a guest call for `side`; the instance must be idle.
    fn start(&mut self, side: Side, op: impl FnOnce(Box<Instance>, ResourceAny) -> Op) {
        let Slot::Idle(mut instance) = mem::replace(&mut self.slot, Slot::Empty) else {
            unreachable!("a guest call is started only on an idle instance");
        };
        let socket = self.socket;
        instance.clear_woken(socket);
        let call = op(instance, self.handle);
        self.slot = Slot::Busy(
            side,
            Box::pin(async move {
                let (mut instance, outcome) = call.await;
                let wait = instance.can_wait(socket);
                (instance, outcome, wait)
            }),
        );
    }

    /// The outcome parked for `side`, and whether a `blocked` one may be waited on.
    fn take(&mut self, side: Side) -> Option<(Outcome, bool)> {
        self.parked[side as usize].take()
    }

    /// The idle instance (after `poll_idle` returned ready).
    fn instance(&mut self) -> &mut Instance {
        match &mut self.slot {
            Slot::Idle(instance) => instance,
            _ => unreachable!("the instance is idle after poll_idle"),
        }
    }
}

/// A TLS connection over `S`, with tokio's [`AsyncRead`] and [`AsyncWrite`].
///
/// - A read of 0 bytes is the peer's close_notify; EOF without it is an
///   [`io::ErrorKind::UnexpectedEof`] error.
/// - `poll_write` hands the bytes to the guest (s2n's send) and reports them written;
///   `poll_flush` waits until they and any queued records are on the byte stream, and
///   `poll_shutdown` then sends close_notify and shuts the byte stream's write side. In TLS
///   1.3 reading stays open after a shutdown (a half-close). Under `AlertPolicy::S2n`, after
///   a failure `poll_shutdown` first sleeps out the blinding delay (tokio's timer), as
///   s2n-tls-tokio does, so the close_notify still goes out.
/// - `tokio::io::split` gives a reader and a writer that progress independently (one
///   sender and one receiver at once, as in s2n).
/// - Errors carry the [`Error`] as their source (`get_ref()` / `downcast_ref`); its `name`
///   is the README's stable identifier.
///
/// The s2n calls (session info, `peek`, key updates, counters) are async methods here.
pub struct TlsStream<S> {
    core: Core,
    /// Bytes of 0-RTT early data the server took during the handshake.
    early_data_len: usize,
    read: ReadState,
    write: WriteState,
    _io: PhantomData<fn() -> S>,
}

#[derive(Default)]
struct ReadState {
    buf: Vec<u8>,
    pos: usize,
    /// The peer's close_notify arrived: every later read is 0 bytes.
    eof: bool,
    error: Option<Error>,
}

#[derive(Default)]
struct WriteState {
    /// Bytes already handed to the guest whose send has not finished: the retry presents
    /// exactly these (s2n's rule), whatever the caller writes next.
    pending: Option<Vec<u8>>,
    error: Option<Error>,
    shutdown: Shutdown,
}

#[derive(Default, PartialEq, Eq, Clone, Copy)]
enum Shutdown {
    #[default]
    Open,
    /// close_notify is out; the byte stream's write side is being shut.
    Notified,
    Done,
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

/// Waits after a blocked guest call: for the byte stream, which registered this task's
/// waker when it blocked, or, if a wake-up came in the meantime, just for a turn.
async fn wait_for_io(instance: &mut Instance, socket: u32) {
    if instance.can_wait(socket) {
        pending_once().await
    } else {
        yield_once().await
    }
}

/// How long a failed handshake tries to get its alert out once nothing holds it back.
const LAST_WORD_WAIT: Duration = Duration::from_secs(1);

/// How long a failed handshake then keeps reading what the peer still sends (see [`linger`]).
const LINGER: Duration = Duration::from_secs(1);

/// Puts a failed handshake's last word on the wire before the connection is dropped, as
/// s2n-tls-tokio does: under the RFC alert policy the failing call wrote its alert already
/// (this sends it if the byte stream was full); under the s2n policy this waits out the
/// blinding delay and sends the held alert. A trapped instance has nothing to send. Then the
/// connection closes by [`linger`].
async fn last_word(instance: &mut Instance, handle: ResourceAny, socket: u32) {
    let delay = instance.delay(handle).await.unwrap_or(0);
    let send = async {
        loop {
            instance.clear_woken(socket);
            match shutdown_send_after_blinding(instance, handle).await {
                Ok(()) => break,
                Err(e) if e.is_blocked() => wait_for_io(instance, socket).await,
                Err(_) => return,
            }
        }
        let _ = poll_fn(|cx| match instance.transport(socket) {
            Some(transport) => transport.poll_flush(cx),
            None => Poll::Ready(Ok(())),
        })
        .await;
    };
    let _ = tokio::time::timeout(Duration::from_nanos(delay) + LAST_WORD_WAIT, send).await;
    let _ = tokio::time::timeout(LINGER, linger(instance, socket)).await;
}

/// A lingering close, as web servers make one: our side of the byte stream ends (a FIN after
/// the alert), and what the peer still sends is read and dropped until it closes too.
/// Closing a socket with unread data resets the connection instead, and a reset can destroy
/// the alert in the peer's receive buffer before the peer has read it.
async fn linger(instance: &mut Instance, socket: u32) {
    let _ = poll_fn(|cx| match instance.transport(socket) {
        Some(transport) => transport.poll_shutdown(cx),
        None => Poll::Ready(Ok(())),
    })
    .await;
    loop {
        let read = poll_fn(|cx| match instance.transport(socket) {
            Some(transport) => transport
                .poll_recv(cx, 16 * 1024)
                .map(|r| r.is_ok_and(|data| !data.is_empty())),
            None => Poll::Ready(false),
        })
        .await;
        if !read {
            return;
        }
    }
}

/// `shutdown-send`, first sleeping out the blinding delay as s2n-tls-tokio's `poll_shutdown`
/// does: under the s2n alert policy a failed connection refuses with `shutdown-paused` until
/// the delay (at most `max-blinding-delay-secs`) has passed, then sends its close_notify.
/// Only this connection's task waits; the instance is its own.
async fn shutdown_send_after_blinding(
    instance: &mut Instance,
    handle: ResourceAny,
) -> Result<(), Error> {
    loop {
        match instance.shutdown_send(handle).await {
            Err(e) if e.name == "shutdown-paused" => {
                let left = Duration::from_nanos(instance.delay(handle).await?);
                tokio::time::sleep(left.max(Duration::from_millis(1))).await;
            }
            result => return result,
        }
    }
}

/// Pending once after waking the task: a retry that lets other tasks run first.
async fn yield_once() {
    let mut first = true;
    poll_fn(|cx| {
        if mem::take(&mut first) {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

/// Pending once, for a task whose waker is already registered with the byte stream.
async fn pending_once() {
    let mut first = true;
    poll_fn(|_| {
        if mem::take(&mut first) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

impl<S> TlsStream<S> {
    /// Applies a send's outcome: what is left goes back to `pending`. Returns whether the
    /// send blocked.
    fn apply_send(&mut self, mut data: Vec<u8>, result: Result<Progress, Error>) -> bool {
        match result {
            Ok(progress) => {
                let sent = (progress.bytes as usize).min(data.len());
                data.drain(..sent);
                let blocked = !data.is_empty();
                if blocked {
                    self.write.pending = Some(data);
                }
                blocked
            }
            Err(e) if e.is_blocked() => {
                self.write.pending = Some(data);
                true
            }
            // The transport's `other` error leaves the connection usable: retry the same
            // bytes later, report the error now.
            Err(e) if transient(&e) => {
                self.write.pending = Some(data);
                self.write.error = Some(e);
                false
            }
            Err(e) => {
                self.write.error = Some(e);
                false
            }
        }
    }

    /// The error to report on the write side: `io` is reported once, others stick.
    fn write_error(&mut self) -> Option<io::Error> {
        let e = self.write.error.as_ref()?;
        if transient(e) {
            return self.write.error.take().map(Into::into);
        }
        Some(e.clone().into())
    }

    /// Drives the write side until nothing handed over is left in the stream: `Ready` once
    /// `pending` is empty (and no send is in flight).
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut started = false;
        loop {
            if let Some(e) = self.write_error() {
                return Poll::Ready(Err(e));
            }
            ready!(self.core.poll_idle(cx, Side::Write));
            match self.core.take(Side::Write) {
                Some((Outcome::Send(data, result), wait)) => {
                    if self.apply_send(data, result) && started && wait {
                        return Poll::Pending;
                    }
                    continue;
                }
                // A flush or shutdown whose caller went away; it is repeated when needed.
                Some(_) => continue,
                None => {}
            }
            let Some(data) = self.write.pending.take() else {
                return Poll::Ready(Ok(()));
            };
            self.core.start(Side::Write, send_op(data));
            started = true;
        }
    }

    /// Runs a write-side guest call (flush, or shutdown-send) after everything pending,
    /// until it succeeds; blocked calls wait for the byte stream.
    fn poll_write_call(&mut self, cx: &mut Context<'_>, flush: bool) -> Poll<io::Result<()>> {
        let mut started = false;
        loop {
            if let Some(e) = self.write_error() {
                return Poll::Ready(Err(e));
            }
            ready!(self.core.poll_idle(cx, Side::Write));
            let (result, wait) = match self.core.take(Side::Write) {
                Some((Outcome::Send(data, result), wait)) => {
                    if self.apply_send(data, result) && started && wait {
                        return Poll::Pending;
                    }
                    continue;
                }
                Some((Outcome::Flush(result), wait)) if flush => (Some(result), wait),
                Some((Outcome::ShutdownSend(result), wait)) if !flush => (Some(result), wait),
                _ => (None, false),
            };
            match result {
                Some(Ok(())) => return Poll::Ready(Ok(())),
                // Registered with this task's waker only if started in this poll.
                Some(Err(e)) if e.is_blocked() && started && wait => return Poll::Pending,
                Some(Err(e)) if !e.is_blocked() => return Poll::Ready(Err(e.into())),
                _ => {}
            }
            if let Some(data) = self.write.pending.take() {
                self.core.start(Side::Write, send_op(data));
            } else if flush {
                self.core
                    .start(Side::Write, op!(|inst, h| inst.flush(h) => Flush));
            } else {
                self.core.start(
                    Side::Write,
                    op!(|inst, h| shutdown_send_after_blinding(&mut inst, h) => ShutdownSend),
                );
            }
            started = true;
        }
    }

    /// Runs one guest call for the caller of an s2n method, to completion.
    async fn control<T: Send + 'static>(
        &mut self,
        call: impl FnOnce(Box<Instance>, ResourceAny) -> Op,
    ) -> Result<T, Error> {
        let mut call = Some(call);
        poll_fn(|cx| {
            loop {
                ready!(self.core.poll_idle(cx, Side::Control));
                if call.is_none() {
                    if let Some((Outcome::Control(out), _)) = self.core.take(Side::Control) {
                        let out = out
                            .downcast::<Result<T, Error>>()
                            .expect("a control call's outcome has its caller's type");
                        return Poll::Ready(*out);
                    }
                    unreachable!("a finished control call parks its outcome");
                }
                // An outcome left by a control call whose caller went away is stale.
                self.core.take(Side::Control);
                let call = call.take().expect("checked above");
                self.core.start(Side::Control, call);
            }
        })
        .await
    }
}

macro_rules! control {
    ($self:ident, |$inst:ident, $h:ident| $call:expr) => {
        $self
            .control(move |mut $inst: Box<Instance>, $h: ResourceAny| -> Op {
                Box::pin(async move {
                    let result = $call.await;
                    ($inst, Outcome::Control(Box::new(result)))
                })
            })
            .await
    };
}

impl<S> TlsStream<S> {
    /// What the handshake negotiated: version, suite, group, ALPN, SNI, peer chain.
    pub async fn session_info(&mut self) -> Result<SessionInfo, Error> {
        let info: Option<SessionInfo> = control!(self, |inst, h| inst.session_info(h))?;
        info.ok_or_else(|| Error::host(ErrorKind::Usage, "invalid-state", "no session yet"))
    }

    /// The byte stream underneath, e.g. for `peer_addr`; `None` while a guest call is in
    /// flight (a read or write of the other half is pending), when the instance holds it.
    pub fn get_ref(&self) -> Option<&S>
    where
        S: 'static,
    {
        let Slot::Idle(instance) = &self.core.slot else {
            return None;
        };
        instance
            .transport_ref(self.core.socket)?
            .io()?
            .downcast_ref()
    }

    /// The byte stream underneath, mutably (e.g. to set socket options). Reading or writing
    /// it directly corrupts the TLS stream. `None` while a guest call is in flight.
    pub fn get_mut(&mut self) -> Option<&mut S>
    where
        S: 'static,
    {
        let Slot::Idle(instance) = &mut self.core.slot else {
            return None;
        };
        instance
            .transport(self.core.socket)?
            .io_mut()?
            .downcast_mut()
    }

    /// Bytes of TLS 1.3 early data taken during the handshake (server with
    /// [`Config::max_early_data`] above 0). They are the first bytes read from the stream.
    /// Early data may be a replay: see the README.
    pub fn early_data_len(&self) -> usize {
        self.early_data_len
    }

    /// Whether early data was requested, accepted or rejected (s2n_connection_get_early_data_status).
    pub async fn early_data_status(&mut self) -> Result<EarlyDataStatus, Error> {
        control!(self, |inst, h| inst.early_data_status(h))
    }

    /// Whether the handshake resumed a session from a ticket.
    pub async fn session_resumed(&mut self) -> Result<bool, Error> {
        control!(self, |inst, h| inst.session_resumed(h))
    }

    /// The negotiated ALPN protocol, if any.
    pub async fn alpn(&mut self) -> Result<Option<String>, Error> {
        Ok(self.session_info().await?.alpn)
    }

    /// Plaintext readable without touching the byte stream: what the stream holds plus the
    /// unread rest of the guest's current record (s2n_peek).
    pub async fn peek(&mut self) -> Result<usize, Error> {
        let guest: u32 = control!(self, |inst, h| inst.peek(h))?;
        Ok(self.read.buf.len() - self.read.pos + guest as usize)
    }

    /// Ciphertext read ahead beyond the current record (s2n_peek_buffered).
    pub async fn peek_buffered(&mut self) -> Result<usize, Error> {
        let n: u32 = control!(self, |inst, h| inst.peek_buffered(h))?;
        Ok(n as usize)
    }

    /// Switches multi-record reads on or off from the next read on.
    pub async fn set_recv_multi_record(&mut self, enabled: bool) -> Result<(), Error> {
        control!(self, |inst, h| inst.set_recv_multi_record(h, enabled))
    }

    /// Dynamic record sizing (s2n_connection_set_dynamic_record_threshold).
    pub async fn set_dynamic_record_threshold(
        &mut self,
        threshold: u32,
        timeout_secs: u16,
    ) -> Result<(), Error> {
        control!(self, |inst, h| inst.set_dynamic_record_threshold(
            h,
            threshold,
            timeout_secs
        ))
    }

    /// Queues a TLS 1.3 KeyUpdate, sent ahead of the next write's data
    /// (s2n_connection_request_key_update).
    pub async fn request_key_update(&mut self) -> Result<(), Error> {
        control!(self, |inst, h| inst.request_key_update(h))
    }

    /// TLS 1.3 KeyUpdates sent and received so far (s2n_connection_get_key_update_counts).
    pub async fn key_update_counts(&mut self) -> Result<KeyUpdateCounts, Error> {
        control!(self, |inst, h| inst.key_update_counts(h))
    }

    /// Blinding delay left after a failure (s2n_connection_get_delay).
    pub async fn delay(&mut self) -> Result<std::time::Duration, Error> {
        let nanos: u64 = control!(self, |inst, h| inst.delay(h))?;
        Ok(std::time::Duration::from_nanos(nanos))
    }

    /// Ciphertext bytes the byte stream accepted, handshake included.
    pub async fn wire_bytes_out(&mut self) -> Result<u64, Error> {
        control!(self, |inst, h| inst.wire_bytes_out(h))
    }

    /// Ciphertext bytes the byte stream delivered, handshake included.
    pub async fn wire_bytes_in(&mut self) -> Result<u64, Error> {
        control!(self, |inst, h| inst.wire_bytes_in(h))
    }

    /// The fatal alert the peer sent, if any.
    pub async fn alert_received(&mut self) -> Result<Option<u8>, Error> {
        control!(self, |inst, h| inst.alert_received(h))
    }

    /// Sends everything written so far and any queued records (s2n_flush); the same as
    /// `AsyncWriteExt::flush`.
    pub async fn flush_records(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_write_call(cx, true)).await
    }

    /// The largest linear memory (bytes) this connection's instance has grown to, once no
    /// guest call is in flight.
    pub async fn peak_memory(&mut self) -> usize {
        poll_fn(|cx| self.core.poll_idle(cx, Side::Control)).await;
        self.core.instance().peak_memory()
    }
}

impl<S> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut started = false;
        loop {
            let read = &mut this.read;
            if read.pos < read.buf.len() {
                let n = buf.remaining().min(read.buf.len() - read.pos);
                buf.put_slice(&read.buf[read.pos..read.pos + n]);
                read.pos += n;
                if read.pos == read.buf.len() {
                    read.buf.clear();
                    read.pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if read.eof || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = &read.error {
                return Poll::Ready(Err(e.clone().into()));
            }
            ready!(this.core.poll_idle(cx, Side::Read));
            if let Some((Outcome::Recv(result), wait)) = this.core.take(Side::Read) {
                // A block may be waited on only if this poll's waker is the one registered
                // (the call started here) and no wake-up was absorbed; otherwise ask again.
                let wait = started && wait;
                match result {
                    Ok(Received { data, blocked }) if data.is_empty() => {
                        if blocked == Blocked::NotBlocked {
                            this.read.eof = true;
                        } else if wait {
                            return Poll::Pending;
                        }
                    }
                    Ok(Received { data, .. }) => this.read.buf = data,
                    Err(e) if e.is_blocked() => {
                        if wait {
                            return Poll::Pending;
                        }
                    }
                    Err(e) => this.read.error = Some(e),
                }
                continue;
            }
            let max = buf.remaining().min(READ_MAX) as u32;
            this.core
                .start(Side::Read, op!(|inst, h| inst.recv(h, max) => Recv));
            started = true;
        }
    }
}

impl<S> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Earlier bytes first: the guest's retry must see them before anything new.
        ready!(this.poll_pending(cx))?;
        if this.write.shutdown != Shutdown::Open {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the TLS write side is shut down",
            )));
        }
        let chunk = data[..data.len().min(WRITE_CHUNK)].to_vec();
        let accepted = chunk.len();
        this.core.start(Side::Write, send_op(chunk));
        // From here on the bytes belong to the stream: whatever happens to this call, the
        // send (and its retries) completes from the stream's copy.
        if this.core.poll_idle(cx, Side::Write).is_ready()
            && let Some((Outcome::Send(data, result), _)) = this.core.take(Side::Write)
        {
            this.apply_send(data, result);
            if let Some(e) = &this.write.error
                && !transient(e)
            {
                // A fatal error: nothing of this write goes out.
                return Poll::Ready(Err(e.clone().into()));
            }
        }
        Poll::Ready(Ok(accepted))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.write.shutdown == Shutdown::Done {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_write_call(cx, true))?;
        let socket = this.core.socket;
        match this.core.instance().transport(socket) {
            Some(transport) => transport.poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.write.shutdown == Shutdown::Open {
            ready!(this.poll_write_call(cx, false))?;
            this.write.shutdown = Shutdown::Notified;
        }
        if this.write.shutdown == Shutdown::Notified {
            ready!(this.core.poll_idle(cx, Side::Write));
            let socket = this.core.socket;
            if let Some(transport) = this.core.instance().transport(socket) {
                ready!(transport.poll_shutdown(cx))?;
            }
            this.write.shutdown = Shutdown::Done;
        }
        Poll::Ready(Ok(()))
    }
}
