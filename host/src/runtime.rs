//! The wasmtime embedding: one shared engine and pre-instantiated component, and a store
//! per endpoint with a memory limit and a per-call deadline on guest execution.

use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{self, EndpointPre, IoError};
use crate::error::Error;
use crate::transport::SocketSlot;

/// The guest component, built by `build.rs`.
const GUEST_WASM: &[u8] = include_bytes!(env!("TLSBOX_GUEST_WASM"));

/// How often the epoch advances; per-call deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every endpoint's store.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest linear memory a guest instance may grow to.
    pub memory_bytes: usize,
    /// Longest a single guest call may compute before it is stopped with a `trap` error.
    /// Time the guest spends waiting inside a transport call does not count, so an idle
    /// connection lives as long as its peer and application want.
    pub call_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_deadline: Duration::from_secs(60),
        }
    }
}

/// The compiled component and everything shared between endpoints. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    pre: EndpointPre<HostState>,
    limits: Limits,
}

impl Runtime {
    /// Compiles the embedded component with `limits`.
    pub fn new(limits: Limits) -> Result<Self, Error> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(Error::trap)?;
        let component = Component::new(&engine, GUEST_WASM).map_err(Error::trap)?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(Error::trap)?;
        bindings::Endpoint::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(Error::trap)?;
        let pre = EndpointPre::new(linker.instantiate_pre(&component).map_err(Error::trap)?)
            .map_err(Error::trap)?;
        spawn_epoch_ticker(&engine);
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                pre,
                limits,
            }),
        })
    }

    /// A process-wide runtime with default limits, compiled on first use.
    pub fn shared() -> Result<Self, Error> {
        static SHARED: OnceLock<Result<Runtime, Error>> = OnceLock::new();
        SHARED
            .get_or_init(|| Runtime::new(Limits::default()))
            .clone()
    }

    /// A fresh store and instance.
    pub(crate) fn instantiate(&self) -> Result<(Store<HostState>, bindings::Endpoint), Error> {
        let state = HostState {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            limits: Limiter {
                inner: StoreLimitsBuilder::new()
                    .memory_size(self.inner.limits.memory_bytes)
                    .build(),
                peak_memory: 0,
            },
            clock: CallClock::new(self.inner.limits.call_deadline),
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limits);
        // Each time the epoch deadline passes, charge only the guest's own time: a call that
        // spent its time waiting in the transport is given the rest of its budget.
        store.epoch_deadline_callback(|store| match store.data().clock.guest_time_left() {
            Some(left) => Ok(UpdateDeadline::Continue(ticks(left))),
            None => Err(wasmtime::format_err!(
                "the guest call ran past its deadline"
            )),
        });
        self.arm_deadline(&mut store);
        let instance = self
            .inner
            .pre
            .instantiate(&mut store)
            .map_err(Error::trap)?;
        Ok((store, instance))
    }

    /// Restarts the per-call deadline; called before every guest call.
    pub(crate) fn arm_deadline(&self, store: &mut Store<HostState>) {
        store.data_mut().clock.start();
        store.set_epoch_deadline(ticks(self.inner.limits.call_deadline));
    }
}

/// Epoch ticks for `time`, at least one.
fn ticks(time: Duration) -> u64 {
    u64::try_from(time.as_millis() / EPOCH_TICK.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// How long the current guest call has computed: wall time since it started, less the time
/// spent inside transport calls.
struct CallClock {
    deadline: Duration,
    started: Instant,
    in_transport: Duration,
}

impl CallClock {
    fn new(deadline: Duration) -> Self {
        CallClock {
            deadline,
            started: Instant::now(),
            in_transport: Duration::ZERO,
        }
    }

    fn start(&mut self) {
        self.started = Instant::now();
        self.in_transport = Duration::ZERO;
    }

    /// Runs a transport call off the guest's clock.
    fn off_clock<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let begun = Instant::now();
        let out = f();
        self.in_transport += begun.elapsed();
        out
    }

    /// Guest time left in this call's budget, or `None` once it is spent.
    fn guest_time_left(&self) -> Option<Duration> {
        let guest = self.started.elapsed().saturating_sub(self.in_transport);
        self.deadline
            .checked_sub(guest)
            .filter(|left| !left.is_zero())
    }
}

/// Advances the engine's epoch until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    thread::Builder::new()
        .name("tlsbox-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        })
        .ok();
}

/// Per-store host state: the resource table holding transports, WASI, and limits.
pub(crate) struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    limits: Limiter,
    clock: CallClock,
}

/// wasmtime's store limits, plus the largest linear memory the instance has grown to.
struct Limiter {
    inner: StoreLimits,
    peak_memory: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl HostState {
    /// The largest linear memory (bytes) the guest has grown to so far.
    pub(crate) fn peak_memory(&self) -> usize {
        self.limits.peak_memory
    }

    /// Puts a transport in the table for the guest to own.
    pub(crate) fn push_socket(&mut self, slot: SocketSlot) -> Result<Resource<SocketSlot>, Error> {
        self.table
            .push(slot)
            .map_err(|e| Error::trap(wasmtime::Error::from(e)))
    }

    /// Runs `f` on the transport behind `socket`, off the guest's clock.
    fn with_transport<T>(
        &mut self,
        socket: &Resource<SocketSlot>,
        f: impl FnOnce(&mut SocketSlot) -> Result<T, IoError>,
    ) -> Result<T, IoError> {
        let slot = self
            .table
            .get_mut(socket)
            .map_err(|e| IoError::Other(format!("unknown socket handle: {e}")))?;
        self.clock.off_clock(|| f(slot))
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::tlsbox::tls::types::Host for HostState {}

impl bindings::tlsbox::tls::transport::Host for HostState {}

impl bindings::tlsbox::tls::transport::HostSocket for HostState {
    fn send(&mut self, socket: Resource<SocketSlot>, data: Vec<u8>) -> Result<u32, IoError> {
        let n = self.with_transport(&socket, |slot| slot.0.send(&data))?;
        // A transport cannot take more than it was offered; pass the claim on unclamped
        // only when it fits, and let the guest report an over-claim.
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn recv(&mut self, socket: Resource<SocketSlot>, max: u32) -> Result<Vec<u8>, IoError> {
        self.with_transport(&socket, |slot| slot.0.recv(max as usize))
    }

    fn drop(&mut self, socket: Resource<SocketSlot>) -> wasmtime::Result<()> {
        self.table.delete(socket)?;
        Ok(())
    }
}
