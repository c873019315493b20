//! [`Endpoint`] and [`Connection`]: the guest's `config` and `connection` resources behind
//! a synchronous Rust API with s2n's results.

use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::bindings::{self, Blocked, ErrorKind, Progress, Received, SessionInfo};
use crate::config::Config;
use crate::error::Error;
use crate::runtime::{HostState, Runtime};
use crate::transport::{SocketSlot, Transport};

/// Most bytes per guest call when the host splits a large send: the guest's linear memory
/// grows to the largest argument it ever sees. Rounded down to whole records, so the wire
/// is the same as one big call.
const MAX_BYTES_PER_CALL: usize = 1 << 20;

/// A guest instance with one configuration: a store, its memory limit, and the guest
/// `config` resource. Connections made from one endpoint share the parsed configuration.
pub struct Endpoint {
    shared: Arc<Mutex<Instance>>,
    chunk: usize,
}

struct Instance {
    runtime: Runtime,
    store: Store<HostState>,
    bindings: bindings::Endpoint,
    config: ResourceAny,
    /// Set after a trap: wasmtime forbids entering the instance again.
    poisoned: bool,
}

impl Endpoint {
    /// Instantiates the component and builds `config` inside it.
    pub fn new(runtime: &Runtime, config: &Config) -> Result<Self, Error> {
        let (mut store, bindings) = runtime.instantiate()?;
        let tls = bindings.tlsbox_tls_tls();
        let handle = tls
            .config()
            .call_constructor(&mut store, &config.options)
            .map_err(Error::trap)??;
        Ok(Endpoint {
            shared: Arc::new(Mutex::new(Instance {
                runtime: runtime.clone(),
                store,
                bindings,
                config: handle,
                poisoned: false,
            })),
            chunk: MAX_BYTES_PER_CALL / config.record_payload() * config.record_payload(),
        })
    }

    /// Starts a connection over `transport`. No I/O happens until the first call.
    pub fn connect(&self, transport: impl Transport + 'static) -> Result<Connection, Error> {
        let mut guard = lock(&self.shared);
        let instance = &mut *guard;
        instance.check()?;
        let socket = instance
            .store
            .data_mut()
            .push_socket(SocketSlot(Box::new(transport)))?;
        let config = instance.config;
        let handle = instance
            .call(|tls, store| tls.connection().call_constructor(store, config, socket))??;
        drop(guard);
        Ok(Connection {
            shared: self.shared.clone(),
            handle: Some(handle),
            chunk: self.chunk,
        })
    }

    /// The largest linear memory (bytes) this endpoint's guest instance has grown to.
    pub fn peak_memory(&self) -> usize {
        lock(&self.shared).store.data().peak_memory()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        let mut instance = lock(&self.shared);
        if !instance.poisoned {
            let config = instance.config;
            let _ = config.resource_drop(&mut instance.store);
        }
    }
}

impl Instance {
    fn check(&self) -> Result<(), Error> {
        if self.poisoned {
            return Err(Error::host(
                ErrorKind::Internal,
                "trap",
                "the guest instance trapped earlier and cannot be entered again",
            ));
        }
        Ok(())
    }

    /// Runs one guest call with a fresh deadline; a trap poisons the instance.
    fn call<T>(
        &mut self,
        f: impl FnOnce(
            &bindings::exports::tlsbox::tls::tls::Guest,
            &mut Store<HostState>,
        ) -> wasmtime::Result<T>,
    ) -> Result<T, Error> {
        self.check()?;
        self.runtime.arm_deadline(&mut self.store);
        let result = f(self.bindings.tlsbox_tls_tls(), &mut self.store);
        result.map_err(|e| {
            self.poisoned = true;
            Error::trap(e)
        })
    }
}

fn lock(shared: &Mutex<Instance>) -> MutexGuard<'_, Instance> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
pub struct Connection {
    shared: Arc<Mutex<Instance>>,
    handle: Option<ResourceAny>,
    chunk: usize,
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

    fn call<T>(
        &self,
        f: impl FnOnce(
            &bindings::exports::tlsbox::tls::tls::GuestConnection,
            &mut Store<HostState>,
            ResourceAny,
        ) -> wasmtime::Result<T>,
    ) -> Result<T, Error> {
        let handle = self.handle.ok_or_else(|| {
            Error::host(
                ErrorKind::Usage,
                "closed",
                "the connection has been dropped",
            )
        })?;
        lock(&self.shared).call(|tls, store| f(&tls.connection(), store, handle))
    }

    /// Drives the handshake (s2n_negotiate).
    pub fn negotiate(&self) -> Result<(), Error> {
        Ok(self.call(|c, s, h| c.call_negotiate(s, h))??)
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
        let total: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        if offset > total {
            // Let the guest judge the offset (after flushing, as s2n orders it) without
            // copying the buffers in.
            return self.guest_sendv(&[], offset);
        }
        // The guest sees windows of whole records; a retry starts at the caller's new
        // offset, so the first window is the one the guest's retry bookkeeping expects.
        let mut sent = 0u64;
        loop {
            let window = window(bufs, offset + sent, self.chunk);
            let len: u64 = window.iter().map(|b| b.len() as u64).sum();
            match self.guest_sendv(&window, 0) {
                Ok(p) if p.blocked == Blocked::NotBlocked => sent += u64::from(p.bytes),
                Ok(p) => return Ok(progress(sent + u64::from(p.bytes), Blocked::OnWrite)),
                // Earlier windows are acknowledged; this window's error comes back on the
                // retry, which presents it again.
                Err(_) if sent > 0 => return Ok(progress(sent, Blocked::OnWrite)),
                Err(e) => return Err(e),
            }
            if offset + sent >= total || len == 0 {
                return Ok(progress(sent, Blocked::NotBlocked));
            }
        }
    }

    fn guest_sendv(&self, bufs: &[&[u8]], offset: u64) -> Result<Progress, Error> {
        let bufs: Vec<Vec<u8>> = bufs.iter().map(|b| b.to_vec()).collect();
        Ok(self.call(|c, s, h| c.call_sendv_with_offset(s, h, &bufs, offset))??)
    }

    /// Dynamic record sizing (s2n_connection_set_dynamic_record_threshold): MTU-sized
    /// records until `threshold` bytes have gone out, and again after `timeout_secs` idle.
    pub fn set_dynamic_record_threshold(
        &mut self,
        threshold: u32,
        timeout_secs: u16,
    ) -> Result<(), Error> {
        Ok(self
            .call(|c, s, h| c.call_set_dynamic_record_threshold(s, h, threshold, timeout_secs))??)
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
        Ok(self.call(|c, s, h| c.call_flush(s, h))??)
    }

    /// Reads up to `max` plaintext bytes from one record (s2n_recv). Empty data with
    /// `Blocked::NotBlocked` is the peer's close_notify.
    pub fn recv(&self, max: usize) -> Result<Received, Error> {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        Ok(self.call(|c, s, h| c.call_recv(s, h, max))??)
    }

    /// Unread plaintext in the current record (s2n_peek).
    pub fn peek(&self) -> Result<usize, Error> {
        Ok(self.call(|c, s, h| c.call_peek(s, h))? as usize)
    }

    /// Ciphertext read ahead beyond the current record (s2n_peek_buffered).
    pub fn peek_buffered(&self) -> Result<usize, Error> {
        Ok(self.call(|c, s, h| c.call_peek_buffered(s, h))? as usize)
    }

    /// Switches multi-record reads on or off from the next `recv` on.
    pub fn set_recv_multi_record(&self, enabled: bool) -> Result<(), Error> {
        self.call(|c, s, h| c.call_set_recv_multi_record(s, h, enabled))
    }

    /// Queues a TLS 1.3 KeyUpdate for the next send (s2n_connection_request_key_update).
    pub fn request_key_update(&self) -> Result<(), Error> {
        Ok(self.call(|c, s, h| c.call_request_key_update(s, h))??)
    }

    /// TLS 1.3 KeyUpdates sent and received so far (s2n_connection_get_key_update_counts).
    pub fn key_update_counts(&self) -> Result<crate::KeyUpdateCounts, Error> {
        self.call(|c, s, h| c.call_key_update_counts(s, h))
    }

    /// Blinding delay left after a failure (s2n_connection_get_delay); shutdown waits for it.
    pub fn delay(&self) -> Result<std::time::Duration, Error> {
        Ok(std::time::Duration::from_nanos(
            self.call(|c, s, h| c.call_delay(s, h))?,
        ))
    }

    /// Closes the write side (s2n_shutdown_send): queued records, then close_notify.
    pub fn shutdown_send(&self) -> Result<(), Error> {
        Ok(self.call(|c, s, h| c.call_shutdown_send(s, h))??)
    }

    /// Closes the connection (s2n_shutdown): close_notify out, then the peer's in.
    pub fn shutdown(&self) -> Result<(), Error> {
        Ok(self.call(|c, s, h| c.call_shutdown(s, h))??)
    }

    /// What the handshake negotiated, once complete.
    pub fn session_info(&self) -> Result<Option<SessionInfo>, Error> {
        self.call(|c, s, h| c.call_session_info(s, h))
    }

    /// Ciphertext bytes the transport accepted, handshake included.
    pub fn wire_bytes_out(&self) -> Result<u64, Error> {
        self.call(|c, s, h| c.call_wire_bytes_out(s, h))
    }

    /// Ciphertext bytes the transport delivered, handshake included.
    pub fn wire_bytes_in(&self) -> Result<u64, Error> {
        self.call(|c, s, h| c.call_wire_bytes_in(s, h))
    }

    /// The largest linear memory (bytes) this connection's guest instance has grown to
    /// (shared with the other connections of its endpoint).
    pub fn peak_memory(&self) -> usize {
        lock(&self.shared).store.data().peak_memory()
    }

    /// The fatal alert the peer sent, if any.
    pub fn alert_received(&self) -> Result<Option<u8>, Error> {
        self.call(|c, s, h| c.call_alert_received(s, h))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let mut instance = lock(&self.shared);
            if !instance.poisoned {
                let _ = handle.resource_drop(&mut instance.store);
            }
        }
    }
}

/// Up to `max` bytes of `bufs` starting `start` bytes in, as sub-slices.
fn window<'a>(bufs: &[&'a [u8]], mut start: u64, max: usize) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut left = max;
    for buf in bufs {
        let len = buf.len() as u64;
        if start >= len {
            start -= len;
            continue;
        }
        let begin = start as usize;
        start = 0;
        let end = buf.len().min(begin + left);
        out.push(&buf[begin..end]);
        left -= end - begin;
        if left == 0 {
            break;
        }
    }
    out
}

fn progress(bytes: u64, blocked: Blocked) -> Progress {
    Progress {
        bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        blocked,
    }
}
