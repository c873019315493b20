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

//!
//! The module's parts: `connector` (the public connector and acceptor, and the handshake),
//! `calls` (the guest-call slot that makes the stream cancel-safe), `io` (tokio's
//! `AsyncRead`/`AsyncWrite` over it) and `close` (a failed connection's last word and the
//! lingering close).

mod calls;
mod close;
mod connector;
mod io;

use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use crate::bindings::{EarlyDataStatus, ErrorKind, KeyUpdateCounts, SessionInfo};
use crate::error::Error;

use calls::{Core, Side, Slot, control};
pub use connector::{DEFAULT_HANDSHAKE_TIMEOUT, TlsAcceptor, TlsConnector};

/// Plaintext per guest send from `poll_write`: eight default-sized records, so a bulk
/// writer crosses the boundary rarely while the stream's own copy stays small.
const WRITE_CHUNK: usize = 64 << 10;

/// Largest plaintext asked of one guest `recv` (a record holds at most 16 KiB).
const READ_MAX: usize = 16 << 10;

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
    /// How long a read may wait for data (see [`TlsStream::set_read_timeout`]).
    timeout: Option<Duration>,
    /// When the read waiting now times out.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

#[derive(Default)]
struct WriteState {
    /// Bytes already handed to the guest whose send has not finished: the retry presents
    /// exactly these (s2n's rule), whatever the caller writes next.
    pending: Option<Vec<u8>>,
    error: Option<Error>,
    shutdown: Shutdown,
}

#[derive(Default, PartialEq, Eq, Clone, Copy, Debug)]
enum Shutdown {
    #[default]
    Open,
    /// close_notify is out; the byte stream's write side is being shut.
    Notified,
    Done,
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

    /// The byte stream underneath, taken back: TLS ends here without a close_notify (call
    /// `shutdown` first for a clean close). Waits for a guest call in flight to finish; bytes
    /// written but not yet sent, and ciphertext read ahead, are dropped with the guest.
    pub async fn into_inner(mut self) -> S
    where
        S: 'static,
    {
        poll_fn(|cx| self.core.poll_idle(cx, Side::Control)).await;
        let socket = self.core.socket;
        let io = self
            .core
            .instance()
            .take_transport(socket)
            .and_then(|transport| transport.into_io());
        *io.expect("a stream's transport is its byte stream until into_inner")
            .downcast()
            .expect("the byte stream has the stream's type")
    }

    /// How long a read may wait for the peer's data: past it the read fails
    /// [`io::ErrorKind::TimedOut`] (the stream stays usable; read again to wait more).
    /// `None`, the default, waits as long as it takes. The timer runs while a read waits,
    /// from the first wait after the last data.
    pub fn set_read_timeout(&mut self, limit: Option<Duration>) {
        self.read.timeout = limit;
        self.read.deadline = None;
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

    /// The largest linear memory (bytes) this connection's instance has grown to, once no
    /// guest call is in flight.
    pub async fn peak_memory(&mut self) -> usize {
        poll_fn(|cx| self.core.poll_idle(cx, Side::Control)).await;
        self.core.instance().peak_memory()
    }
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("busy", &matches!(self.core.slot, Slot::Busy(..)))
            .field("early_data_len", &self.early_data_len)
            .field("buffered_plaintext", &(self.read.buf.len() - self.read.pos))
            .field("eof", &self.read.eof)
            .field("read_error", &self.read.error)
            .field(
                "pending_bytes",
                &self.write.pending.as_ref().map_or(0, Vec::len),
            )
            .field("write_error", &self.write.error)
            .field("shutdown", &self.write.shutdown)
            .finish_non_exhaustive()
    }
}
