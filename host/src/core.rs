//! The async core: one guest instance (store, exports, the guest `config` resource) and
//! one async method per guest call. The blocking API ([`crate::Connection`]) runs these
//! methods with `block_on`; the tokio stream ([`crate::TlsStream`]) polls them from its
//! state machine. Adding a guest call means one method here and one thin wrapper each.

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use crate::bindings::{
    self, Blocked, CipherSuite, EarlyDataStatus, ErrorKind, KeyUpdateCounts, Progress, Received,
    SessionInfo,
};
use crate::config::Config;
use crate::error::Error;
use crate::runtime::{HostState, Runtime};
use crate::transport::{AsyncTransport, SocketSlot};

/// Most bytes per guest call when the host splits a large send: the guest's linear memory
/// grows to the largest argument it ever sees. Rounded down to whole records, so the wire
/// is the same as one big call.
const MAX_BYTES_PER_CALL: usize = 1 << 20;

/// A guest instance with one configuration. Connections made in it share the parsed
/// configuration; the instance runs one guest call at a time.
pub(crate) struct Instance {
    runtime: Runtime,
    store: Store<HostState>,
    guest: bindings::Endpoint,
    config: ResourceAny,
    /// Largest send per guest call, in whole records.
    chunk: usize,
    /// Set after a trap: wasmtime forbids entering the instance again.
    poisoned: bool,
}

/// Runs one guest call with a fresh deadline; a trap poisons the instance. A macro rather
/// than a method taking a closure, so the call's future borrows the store in place.
macro_rules! guest {
    ($inst:ident, |$tls:ident, $store:ident| $call:expr) => {{
        $inst.check()?;
        $inst.runtime.arm_deadline(&mut $inst.store);
        let result = {
            let $tls = $inst.guest.tlsbox_tls_tls();
            let $store = &mut $inst.store;
            $call.await
        };
        $inst.trapped(result)
    }};
}

impl Instance {
    /// Instantiates the component and builds `config` inside it.
    pub(crate) async fn new(runtime: &Runtime, config: &Config) -> Result<Self, Error> {
        let (options, trust) = config.resolve()?;
        let (mut store, guest) = runtime.instantiate(trust).await?;
        runtime.arm_deadline(&mut store);
        // A trap here fails only the construction; the store is dropped with it.
        let handle = guest
            .tlsbox_tls_tls()
            .config()
            .call_constructor(&mut store, &options)
            .await
            .map_err(Error::trap)??;
        let record = config.record_payload();
        Ok(Instance {
            runtime: runtime.clone(),
            store,
            guest,
            config: handle,
            chunk: MAX_BYTES_PER_CALL / record * record,
            poisoned: false,
        })
    }

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

    fn trapped<T>(&mut self, result: wasmtime::Result<T>) -> Result<T, Error> {
        result.map_err(|e| {
            self.poisoned = true;
            Error::trap(e)
        })
    }

    /// Starts a connection over `transport`; returns its handle and the socket's table
    /// index (for host-side flush and shutdown of the transport).
    pub(crate) async fn connect(
        &mut self,
        transport: Box<dyn AsyncTransport>,
    ) -> Result<(ResourceAny, u32), Error> {
        self.check()?;
        let socket = self.store.data_mut().push_socket(SocketSlot(transport))?;
        let rep = socket.rep();
        let config = self.config;
        let handle = guest!(self, |tls, s| tls
            .connection()
            .call_constructor(s, config, socket))??;
        Ok((handle, rep))
    }

    /// The transport behind the socket with table index `rep`.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn transport(&mut self, rep: u32) -> Option<&mut dyn AsyncTransport> {
        self.store.data_mut().transport(rep)
    }

    /// The transport behind the socket with table index `rep`, taken out (see
    /// [`HostState::take_transport`](crate::runtime::HostState::take_transport)).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn take_transport(&mut self, rep: u32) -> Option<Box<dyn AsyncTransport>> {
        self.store.data_mut().take_transport(rep)
    }

    /// The transport behind the socket with table index `rep`, to look at.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn transport_ref(&self, rep: u32) -> Option<&dyn AsyncTransport> {
        self.store.data().transport_ref(rep)
    }

    /// Forgets the transport's earlier wake-ups; call before a guest call whose `blocked`
    /// result may be waited on.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn clear_woken(&mut self, socket: u32) {
        if let Some(transport) = self.transport(socket) {
            transport.clear_woken();
        }
    }

    /// Whether a `blocked` result of the last guest call may be waited on: the caller's
    /// waker is registered with the transport (a poll returned pending), and no wake-up came
    /// while the call was still running. Otherwise retry: nothing else would wake the task.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn can_wait(&mut self, socket: u32) -> bool {
        self.store.data().registered() && self.transport(socket).is_some_and(|t| !t.woken())
    }

    /// The largest linear memory (bytes) the instance has grown to.
    pub(crate) fn peak_memory(&self) -> usize {
        self.store.data().peak_memory()
    }

    /// The diagnostics export: seals `records` records in the guest (see the WIT).
    pub(crate) async fn seal_records(
        &mut self,
        suite: CipherSuite,
        record_size: u32,
        records: u32,
    ) -> Result<u64, Error> {
        self.check()?;
        self.runtime.arm_deadline(&mut self.store);
        let result = self
            .guest
            .tlsbox_tls_diagnostics()
            .call_seal_records(&mut self.store, suite, record_size, records)
            .await;
        self.trapped(result)
    }

    /// Drops a connection's guest resource (its socket goes with it).
    pub(crate) async fn drop_connection(&mut self, h: ResourceAny) {
        if !self.poisoned {
            let _ = h.resource_drop_async(&mut self.store).await;
        }
    }

    /// Drops the guest `config` resource.
    pub(crate) async fn drop_config(&mut self) {
        if !self.poisoned {
            let _ = self.config.resource_drop_async(&mut self.store).await;
        }
    }

    pub(crate) async fn negotiate(&mut self, h: ResourceAny) -> Result<(), Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_negotiate(s, h))??)
    }

    /// One guest `send` of `data` (the caller keeps it small: linear memory grows to it).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) async fn send(&mut self, h: ResourceAny, data: &[u8]) -> Result<Progress, Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_send(s, h, data))??)
    }

    /// s2n_sendv_with_offset, handing the guest windows of whole records so its linear
    /// memory stays small. A retry starts at the caller's new offset, so the first window
    /// is the one the guest's retry bookkeeping expects.
    pub(crate) async fn sendv_with_offset(
        &mut self,
        h: ResourceAny,
        bufs: &[&[u8]],
        offset: u64,
    ) -> Result<Progress, Error> {
        let total: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        if offset > total {
            // Let the guest judge the offset (after flushing, as s2n orders it) without
            // copying the buffers in.
            return self.guest_sendv(h, &[], offset).await;
        }
        let mut sent = 0u64;
        loop {
            let window = window(bufs, offset + sent, self.chunk);
            let len: u64 = window.iter().map(|b| b.len() as u64).sum();
            match self.guest_sendv(h, &window, 0).await {
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

    async fn guest_sendv(
        &mut self,
        h: ResourceAny,
        bufs: &[&[u8]],
        offset: u64,
    ) -> Result<Progress, Error> {
        let bufs: Vec<Vec<u8>> = bufs.iter().map(|b| b.to_vec()).collect();
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_sendv_with_offset(s, h, &bufs, offset))??)
    }

    pub(crate) async fn set_dynamic_record_threshold(
        &mut self,
        h: ResourceAny,
        threshold: u32,
        timeout_secs: u16,
    ) -> Result<(), Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_set_dynamic_record_threshold(
                s,
                h,
                threshold,
                timeout_secs
            ))??)
    }

    pub(crate) async fn flush(&mut self, h: ResourceAny) -> Result<(), Error> {
        Ok(guest!(self, |tls, s| tls.connection().call_flush(s, h))??)
    }

    pub(crate) async fn recv(&mut self, h: ResourceAny, max: u32) -> Result<Received, Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_recv(s, h, max))??)
    }

    pub(crate) async fn peek(&mut self, h: ResourceAny) -> Result<u32, Error> {
        guest!(self, |tls, s| tls.connection().call_peek(s, h))
    }

    pub(crate) async fn peek_buffered(&mut self, h: ResourceAny) -> Result<u32, Error> {
        guest!(self, |tls, s| tls.connection().call_peek_buffered(s, h))
    }

    pub(crate) async fn set_recv_multi_record(
        &mut self,
        h: ResourceAny,
        enabled: bool,
    ) -> Result<(), Error> {
        guest!(self, |tls, s| tls
            .connection()
            .call_set_recv_multi_record(s, h, enabled))
    }

    pub(crate) async fn request_key_update(&mut self, h: ResourceAny) -> Result<(), Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_request_key_update(s, h))??)
    }

    pub(crate) async fn key_update_counts(
        &mut self,
        h: ResourceAny,
    ) -> Result<KeyUpdateCounts, Error> {
        guest!(self, |tls, s| tls.connection().call_key_update_counts(s, h))
    }

    pub(crate) async fn delay(&mut self, h: ResourceAny) -> Result<u64, Error> {
        guest!(self, |tls, s| tls.connection().call_delay(s, h))
    }

    pub(crate) async fn shutdown_send(&mut self, h: ResourceAny) -> Result<(), Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_shutdown_send(s, h))??)
    }

    pub(crate) async fn shutdown(&mut self, h: ResourceAny) -> Result<(), Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_shutdown(s, h))??)
    }

    pub(crate) async fn session_info(
        &mut self,
        h: ResourceAny,
    ) -> Result<Option<SessionInfo>, Error> {
        guest!(self, |tls, s| tls.connection().call_session_info(s, h))
    }

    pub(crate) async fn wire_bytes_out(&mut self, h: ResourceAny) -> Result<u64, Error> {
        guest!(self, |tls, s| tls.connection().call_wire_bytes_out(s, h))
    }

    pub(crate) async fn wire_bytes_in(&mut self, h: ResourceAny) -> Result<u64, Error> {
        guest!(self, |tls, s| tls.connection().call_wire_bytes_in(s, h))
    }

    pub(crate) async fn alert_received(&mut self, h: ResourceAny) -> Result<Option<u8>, Error> {
        guest!(self, |tls, s| tls.connection().call_alert_received(s, h))
    }

    pub(crate) async fn send_early_data(
        &mut self,
        h: ResourceAny,
        data: &[u8],
    ) -> Result<Progress, Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_send_early_data(s, h, data))??)
    }

    pub(crate) async fn recv_early_data(
        &mut self,
        h: ResourceAny,
        max: u32,
    ) -> Result<Received, Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_recv_early_data(s, h, max))??)
    }

    pub(crate) async fn early_data_status(
        &mut self,
        h: ResourceAny,
    ) -> Result<EarlyDataStatus, Error> {
        guest!(self, |tls, s| tls.connection().call_early_data_status(s, h))
    }

    pub(crate) async fn max_early_data_size(&mut self, h: ResourceAny) -> Result<u32, Error> {
        guest!(self, |tls, s| tls
            .connection()
            .call_max_early_data_size(s, h))
    }

    pub(crate) async fn remaining_early_data_size(&mut self, h: ResourceAny) -> Result<u32, Error> {
        guest!(self, |tls, s| tls
            .connection()
            .call_remaining_early_data_size(s, h))
    }

    pub(crate) async fn reject_early_data(&mut self, h: ResourceAny) -> Result<(), Error> {
        Ok(guest!(self, |tls, s| tls
            .connection()
            .call_reject_early_data(s, h))??)
    }

    pub(crate) async fn session_resumed(&mut self, h: ResourceAny) -> Result<bool, Error> {
        guest!(self, |tls, s| tls.connection().call_session_resumed(s, h))
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
