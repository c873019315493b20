//! [`Endpoint`] and [`Connection`]: the blocking API, a thin layer over the async core
//! ([`crate::core::Instance`]): each call runs the core's method to completion with
//! [`block_on`] and a transport that is always ready (it blocks inside the poll, or
//! reports would-block, as the [`Transport`] is set up).

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use wasmtime::component::ResourceAny;

use crate::bindings::{Blocked, EarlyDataStatus, ErrorKind, Progress, Received, SessionInfo};
use crate::config::Config;
use crate::core::Instance;
use crate::error::Error;
use crate::runtime::Runtime;
use crate::transport::{Blocking, Transport};

/// A guest instance with one configuration: a store, its memory limit, and the guest
/// `config` resource. Connections made from one endpoint share the instance and the parsed
/// configuration (an opt-in for density: a trap in one ends them all).
pub struct Endpoint {
    shared: Arc<Mutex<Instance>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("connections", &(Arc::strong_count(&self.shared) - 1))
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Instantiates the component and builds `config` inside it.
    pub fn new(runtime: &Runtime, config: &Config) -> Result<Self, Error> {
        let instance = block_on(Instance::new(runtime, config))?;
        Ok(Endpoint {
            shared: Arc::new(Mutex::new(instance)),
        })
    }

    /// Starts a connection over `transport`. No I/O happens until the first call.
    pub fn connect(&self, transport: impl Transport + 'static) -> Result<Connection, Error> {
        let (handle, _) = block_on(lock(&self.shared).connect(Box::new(Blocking(transport))))?;
        Ok(Connection {
            shared: self.shared.clone(),
            handle: Some(handle),
        })
    }

    /// The largest linear memory (bytes) this endpoint's guest instance has grown to.
    pub fn peak_memory(&self) -> usize {
        lock(&self.shared).peak_memory()
    }

    /// Seals `records` TLS 1.3 records of `record_size` bytes with `suite`'s AEAD inside
    /// this endpoint's instance, under a throwaway key, and returns the ciphertext bytes
    /// produced (0 for a suite that is not TLS 1.3). Time it for the raw in-guest AEAD rate
    /// (the benches compare bulk transfer with it); no connection is involved.
    pub fn seal_records(
        &self,
        suite: crate::CipherSuite,
        record_size: u32,
        records: u32,
    ) -> Result<u64, Error> {
        block_on(lock(&self.shared).seal_records(suite, record_size, records))
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        block_on(lock(&self.shared).drop_config());
    }
}

/// Runs one method of the async core to completion, holding the instance meanwhile.
macro_rules! core {
    ($conn:ident.$method:ident($($arg:expr),*)) => {{
        let handle = $conn.handle()?;
        let mut instance = lock(&$conn.shared);
        block_on(instance.$method(handle $(, $arg)*))
    }};
}

fn lock(shared: &Mutex<Instance>) -> MutexGuard<'_, Instance> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs a future to completion on the current thread. The core's futures are pending only
/// at an epoch yield, which wakes at once, so this never waits on anything but the guest.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

/// One TLS connection with s2n's application-data contract.
///
/// Every call returns at once when the transport would block, with the blocked status in
/// the result or error; call again when the transport is ready. Over a blocking transport
/// calls simply finish.
///
/// As in s2n, one thread may send while another receives (share it in an `Arc`): each call
/// holds the instance only while it runs, so over a non-blocking transport a reader waiting
/// for data never holds up a writer. Two concurrent senders (or receivers) break the retry
/// contract, exactly as they would in s2n.
///
/// `&Connection` is also [`io::Read`] and [`io::Write`]: a read of 0 bytes is the peer's
/// close_notify, transport EOF without it is an [`io::ErrorKind::UnexpectedEof`] error,
/// and a would-block transport gives [`io::ErrorKind::WouldBlock`].
pub struct Connection {
    shared: Arc<Mutex<Instance>>,
    handle: Option<ResourceAny>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("open", &self.handle.is_some())
            .field(
                "shares_its_instance",
                &(Arc::strong_count(&self.shared) > 1),
            )
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection on a private endpoint: one store and instance for this connection alone.
    pub fn new(
        runtime: &Runtime,
        config: &Config,
        transport: impl Transport + 'static,
    ) -> Result<Self, Error> {
        Endpoint::new(runtime, config)?.connect(transport)
    }

    fn handle(&self) -> Result<ResourceAny, Error> {
        self.handle.ok_or_else(|| {
            Error::host(
                ErrorKind::Usage,
                "closed",
                "the connection has been dropped",
            )
        })
    }

    /// Drives the handshake (s2n_negotiate).
    pub fn negotiate(&self) -> Result<(), Error> {
        core!(self.negotiate())
    }

    /// Sends `data` (s2n_send): the acknowledged byte count, `Blocked::OnWrite` if partial.
    /// After a `blocked` error, retry with the same data; after a partial result `n`, with
    /// `&data[n..]`.
    pub fn send(&self, data: &[u8]) -> Result<Progress, Error> {
        self.sendv_with_offset(&[data], 0)
    }

    /// Sends the bytes of `bufs` after the first `offset` (s2n_sendv_with_offset). After a
    /// partial result `n`, call again with `offset + n`; after a block, with the same
    /// arguments.
    pub fn sendv_with_offset(&self, bufs: &[&[u8]], offset: u64) -> Result<Progress, Error> {
        core!(self.sendv_with_offset(bufs, offset))
    }

    /// Dynamic record sizing (s2n_connection_set_dynamic_record_threshold): MTU-sized
    /// records until `threshold` bytes have gone out, and again after `timeout_secs` idle.
    pub fn set_dynamic_record_threshold(
        &mut self,
        threshold: u32,
        timeout_secs: u16,
    ) -> Result<(), Error> {
        core!(self.set_dynamic_record_threshold(threshold, timeout_secs))
    }

    /// Sends all of `data`, waiting on the transport as needed (for blocking transports
    /// this is one `send`; for non-blocking ones it spins politely).
    pub fn send_all(&self, mut data: &[u8]) -> Result<(), Error> {
        while !data.is_empty() {
            match self.send(data) {
                Ok(p) => data = &data[p.bytes as usize..],
                Err(e) if e.is_blocked() => std::thread::yield_now(),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Pushes queued records to the transport.
    pub fn flush(&self) -> Result<(), Error> {
        core!(self.flush())
    }

    /// Reads up to `max` plaintext bytes from one record (s2n_recv). Empty data with
    /// `Blocked::NotBlocked` is the peer's close_notify.
    pub fn recv(&self, max: usize) -> Result<Received, Error> {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        core!(self.recv(max))
    }

    /// Unread plaintext in the current record (s2n_peek).
    pub fn peek(&self) -> Result<usize, Error> {
        Ok(core!(self.peek())? as usize)
    }

    /// Ciphertext read ahead beyond the current record (s2n_peek_buffered).
    pub fn peek_buffered(&self) -> Result<usize, Error> {
        Ok(core!(self.peek_buffered())? as usize)
    }

    /// Switches multi-record reads on or off from the next `recv` on.
    pub fn set_recv_multi_record(&self, enabled: bool) -> Result<(), Error> {
        core!(self.set_recv_multi_record(enabled))
    }

    /// Queues a TLS 1.3 KeyUpdate for the next send (s2n_connection_request_key_update).
    pub fn request_key_update(&self) -> Result<(), Error> {
        core!(self.request_key_update())
    }

    /// TLS 1.3 KeyUpdates sent and received so far (s2n_connection_get_key_update_counts).
    pub fn key_update_counts(&self) -> Result<crate::KeyUpdateCounts, Error> {
        core!(self.key_update_counts())
    }

    /// Blinding delay left after a failure (s2n_connection_get_delay); shutdown waits for it.
    pub fn delay(&self) -> Result<std::time::Duration, Error> {
        Ok(std::time::Duration::from_nanos(core!(self.delay())?))
    }

    /// Closes the write side (s2n_shutdown_send): queued records, then close_notify.
    pub fn shutdown_send(&self) -> Result<(), Error> {
        core!(self.shutdown_send())
    }

    /// Closes the connection (s2n_shutdown): close_notify out, then the peer's in.
    pub fn shutdown(&self) -> Result<(), Error> {
        core!(self.shutdown())
    }

    /// What the handshake negotiated, once complete.
    pub fn session_info(&self) -> Result<Option<SessionInfo>, Error> {
        core!(self.session_info())
    }

    /// Ciphertext bytes the transport accepted, handshake included.
    pub fn wire_bytes_out(&self) -> Result<u64, Error> {
        core!(self.wire_bytes_out())
    }

    /// Ciphertext bytes the transport delivered, handshake included.
    pub fn wire_bytes_in(&self) -> Result<u64, Error> {
        core!(self.wire_bytes_in())
    }

    /// The largest linear memory (bytes) this connection's guest instance has grown to
    /// (shared with the other connections of its endpoint).
    pub fn peak_memory(&self) -> usize {
        lock(&self.shared).peak_memory()
    }

    /// The fatal alert the peer sent, if any.
    pub fn alert_received(&self) -> Result<Option<u8>, Error> {
        core!(self.alert_received())
    }

    /// Clients: sends 0-RTT early data (s2n_send_early_data), at most the remaining
    /// allowance, and drives the handshake. `bytes` counts what went out even when the call
    /// stopped: `OnRead` while the server has not answered, `NotBlocked` once early data is
    /// over. See the README's early-data section for the replay risk.
    pub fn send_early_data(&self, data: &[u8]) -> Result<Progress, Error> {
        core!(self.send_early_data(data))
    }

    /// Servers: reads 0-RTT early data (s2n_recv_early_data) while driving the handshake:
    /// `OnRead` with what arrived so far, `OnEarlyData` when `max` bytes were read and more
    /// wait, `NotBlocked` once early data is over.
    pub fn recv_early_data(&self, max: usize) -> Result<Received, Error> {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        core!(self.recv_early_data(max))
    }

    /// Where early data stands (s2n_connection_get_early_data_status).
    pub fn early_data_status(&self) -> Result<EarlyDataStatus, Error> {
        core!(self.early_data_status())
    }

    /// The early-data limit in force (s2n_connection_get_max_early_data_size).
    pub fn max_early_data_size(&self) -> Result<u32, Error> {
        core!(self.max_early_data_size())
    }

    /// Early data that may still be sent or received (0 once early data is over).
    pub fn remaining_early_data_size(&self) -> Result<u32, Error> {
        core!(self.remaining_early_data_size())
    }

    /// Servers: refuses this connection's early data; only before the ClientHello.
    pub fn reject_early_data(&self) -> Result<(), Error> {
        core!(self.reject_early_data())
    }

    /// Whether the handshake resumed a session (a ticket).
    pub fn session_resumed(&self) -> Result<bool, Error> {
        core!(self.session_resumed())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            block_on(lock(&self.shared).drop_connection(handle));
        }
    }
}

/// A tlsbox error as an I/O error: the kind says what happened, the source is the
/// [`Error`] (recover it with `get_ref()` and `downcast_ref`).
impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match e.kind {
            ErrorKind::Blocked => io::ErrorKind::WouldBlock,
            ErrorKind::Io if e.name == "broken-pipe" => io::ErrorKind::BrokenPipe,
            ErrorKind::Closed => io::ErrorKind::UnexpectedEof,
            ErrorKind::Alert | ErrorKind::Protocol => io::ErrorKind::InvalidData,
            ErrorKind::Usage => io::ErrorKind::InvalidInput,
            ErrorKind::Io | ErrorKind::Internal => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Reads plaintext: `Ok(0)` is the peer's close_notify; EOF without it is an
/// `UnexpectedEof` error.
impl io::Read for &Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let received = self.recv(buf.len())?;
        if received.data.is_empty() {
            return match received.blocked {
                Blocked::NotBlocked => Ok(0),
                _ => Err(io::ErrorKind::WouldBlock.into()),
            };
        }
        buf[..received.data.len()].copy_from_slice(&received.data);
        Ok(received.data.len())
    }
}

impl io::Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

/// Writes plaintext with s2n's send: a would-block transport gives `WouldBlock` (call
/// again with the same bytes, as `write_all` does).
impl io::Write for &Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.send(buf)? {
            Progress { bytes: 0, .. } => Err(io::ErrorKind::WouldBlock.into()),
            Progress { bytes, .. } => Ok(bytes as usize),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(Connection::flush(self)?)
    }
}

impl io::Write for Connection {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::Write::flush(&mut &*self)
    }
}
