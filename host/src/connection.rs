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

/// Records per guest call when the host splits a large send: the guest's linear memory
/// grows to the largest argument it ever sees, so it gets whole-record chunks instead.
const RECORDS_PER_CALL: usize = 16;

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
            chunk: config.max_fragment() * RECORDS_PER_CALL,
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
    pub fn negotiate(&mut self) -> Result<(), Error> {
        Ok(self.call(|c, s, h| c.call_negotiate(s, h))??)
    }

    /// Sends `data` (s2n_send): the acknowledged byte count, `Blocked::OnWrite` if partial.
    /// After a `blocked` error, retry with the same data; after a partial result `n`, with
    /// `&data[n..]`.
    pub fn send(&mut self, data: &[u8]) -> Result<Progress, Error> {
        // The guest sees whole-record chunks; a retry presents the same first chunk, so
        // the guest's retry bookkeeping holds across the split.
        let mut sent = 0;
        for chunk in data.chunks(self.chunk) {
            match self.call(|c, s, h| c.call_send(s, h, chunk))? {
                Ok(p) if p.blocked == Blocked::NotBlocked => sent += p.bytes as usize,
                Ok(p) => {
                    return Ok(Progress {
                        bytes: u32::try_from(sent + p.bytes as usize).unwrap_or(u32::MAX),
                        blocked: Blocked::OnWrite,
                    });
                }
                Err(_) if sent > 0 => {
                    // Earlier chunks are acknowledged; this chunk's error comes back on
                    // the retry, which presents the chunk again.
                    return Ok(Progress {
                        bytes: u32::try_from(sent).unwrap_or(u32::MAX),
                        blocked: Blocked::OnWrite,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Progress {
            bytes: u32::try_from(sent).unwrap_or(u32::MAX),
            blocked: Blocked::NotBlocked,
        })
    }

    /// Sends all of `data`, waiting on the transport as needed (for blocking transports
    /// this is one `send`; for non-blocking ones it spins politely).
    pub fn send_all(&mut self, mut data: &[u8]) -> Result<(), Error> {
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
    pub fn flush(&mut self) -> Result<(), Error> {
        Ok(self.call(|c, s, h| c.call_flush(s, h))??)
    }

    /// Reads up to `max` plaintext bytes from one record (s2n_recv). Empty data with
    /// `Blocked::NotBlocked` is the peer's close_notify.
    pub fn recv(&mut self, max: usize) -> Result<Received, Error> {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        Ok(self.call(|c, s, h| c.call_recv(s, h, max))??)
    }

    /// Unread plaintext in the current record (s2n_peek).
    pub fn peek(&mut self) -> Result<usize, Error> {
        Ok(self.call(|c, s, h| c.call_peek(s, h))? as usize)
    }

    /// Closes the connection (s2n_shutdown): close_notify out, then the peer's in.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        Ok(self.call(|c, s, h| c.call_shutdown(s, h))??)
    }

    /// What the handshake negotiated, once complete.
    pub fn session_info(&mut self) -> Result<Option<SessionInfo>, Error> {
        self.call(|c, s, h| c.call_session_info(s, h))
    }

    /// Ciphertext bytes the transport accepted, handshake included.
    pub fn wire_bytes_out(&mut self) -> Result<u64, Error> {
        self.call(|c, s, h| c.call_wire_bytes_out(s, h))
    }

    /// Ciphertext bytes the transport delivered, handshake included.
    pub fn wire_bytes_in(&mut self) -> Result<u64, Error> {
        self.call(|c, s, h| c.call_wire_bytes_in(s, h))
    }

    /// The fatal alert the peer sent, if any.
    pub fn alert_received(&mut self) -> Result<Option<u8>, Error> {
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
