//! The wasmtime embedding: one shared engine and pre-instantiated component, and a store
//! per instance with a memory limit and a per-call deadline on guest execution.
//!
//! Guest calls are async (`call_async`): every epoch tick a running call yields to the
//! executor, so one busy connection cannot starve the others on the same thread, and the
//! per-call deadline counts only the time the guest actually runs — not the time it waits
//! in a transport call, nor the time it sits suspended at a yield.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{
    Cache, CacheConfig, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::{self, EndpointPre, IoError};
use crate::error::Error;
use crate::transport::{AsyncTransport, Detached, SocketSlot};
use crate::trust::TrustStore;

/// The guest component (the wide-arithmetic build), built by `build/main.rs`.
const GUEST_WASM: &[u8] = include_bytes!(env!("TLSBOX_GUEST_WASM"));

/// How often the epoch advances: the slice after which a running guest call yields, and
/// the unit the per-call deadline is checked in.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every instance's store.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest linear memory a guest instance may grow to.
    pub memory_bytes: usize,
    /// Longest a single guest call may compute before it is stopped with a `trap` error.
    /// Time the guest spends waiting inside a transport call does not count, so an idle
    /// connection lives as long as its peer and application want.
    pub call_deadline: Duration,
    /// Instances to reserve up front in wasmtime's pooling allocator; `None` (the default)
    /// allocates each instance on demand.
    ///
    /// A pool makes each new instance about 0.1 ms cheaper, but reserving it costs the
    /// process about 40 ms at start for 16,384 slots, and two memory mappings per slot for
    /// the fiber stacks (each store keeps the stack of its last call, so stacks are reserved
    /// per slot): Linux's default of 65,530 mappings per process then runs out before
    /// 10,000 connections. On demand, an instance costs six mappings while it lives. With
    /// [`Reservation::Full`] a slot reserves 8 GiB of address space (room for two memories),
    /// so a pool of more than about 15,000 slots cannot be reserved and instances come on
    /// demand after all ([`Runtime::is_pooled`] says which).
    pub pool_slots: Option<u32>,
    /// How much address space each instance's linear memory reserves.
    pub reservation: Reservation,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_deadline: Duration::from_secs(60),
            pool_slots: None,
            reservation: Reservation::Full,
        }
    }
}

/// How much address space each instance's linear memory reserves, which decides whether
/// the guest's memory accesses are bounds-checked. Either way an instance grows only to
/// [`Limits::memory_bytes`] and costs only the pages it touches; the reservation is address
/// space, not memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reservation {
    /// 4 GiB and a guard region per instance: every address a 32-bit guest can form falls
    /// inside it, so wasmtime compiles no bounds checks and the guest's crypto runs about
    /// 13–16 % faster (docs/performance.md). About 30,000 instances fit in a process at once
    /// on x86-64 (128 TiB of user address space); an AArch64 kernel with 39-bit addresses
    /// gives a process 512 GiB, room for about 120, so use [`Reservation::Compact`] there.
    #[default]
    Full,
    /// [`Limits::memory_bytes`] per instance: every access is bounds-checked, and the
    /// number of instances is limited by memory, not address space.
    Compact,
}

/// The compiled component and everything shared between instances. Cheap to clone.
///
/// One runtime serves any number of connections, blocking and async alike; each
/// connection gets its own instance (store, linear memory) from the shared
/// pre-instantiated component.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    pre: EndpointPre<HostState>,
    limits: Limits,
    pooled: bool,
    /// Instances alive now (each holds a [`Live`]).
    live: Arc<AtomicUsize>,
}

/// Counts an instance among its runtime's live ones until its store is dropped.
struct Live(Arc<AtomicUsize>);

impl Live {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Live(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("limits", &self.inner.limits)
            .field("pooled", &self.inner.pooled)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Compiles the embedded component with `limits`.
    ///
    /// Instances are allocated on demand, or from a pooling allocator of
    /// `limits.pool_slots` slots (if its address space cannot be reserved, on demand after
    /// all); either way linear memories are initialised copy-on-write, so an instance costs
    /// only the pages it touches.
    ///
    /// Compiled code is kept in wasmtime's on-disk cache (keyed by the component, the engine
    /// settings and wasmtime's version), so only the first process on a machine pays the
    /// compile. `TLSBOX_CODE_CACHE` names another directory for it, or `off`; where no
    /// cache can be set up, every process compiles.
    pub fn new(limits: Limits) -> Result<Self, Error> {
        let cache = code_cache();
        let pooled = limits.pool_slots.and_then(|slots| {
            Engine::new(&engine_config(&limits, Some(slots), cache.clone())).ok()
        });
        let (engine, pooled) = match pooled {
            Some(engine) => (engine, true),
            None => (
                Engine::new(&engine_config(&limits, None, cache)).map_err(Error::trap)?,
                false,
            ),
        };
        let component = Component::new(&engine, GUEST_WASM).map_err(Error::trap)?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(Error::trap)?;
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
                pooled,
                live: Arc::default(),
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

    /// The limits every instance of this runtime gets.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Guest instances alive now: one per open connection (and per [`Endpoint`](crate::Endpoint)),
    /// until its stream, connection or endpoint is dropped.
    pub fn instances(&self) -> usize {
        self.inner.live.load(Ordering::Relaxed)
    }

    /// Whether instances come from a pooling allocator (false: none was asked for in
    /// [`Limits::pool_slots`], or its address space could not be reserved, and instances
    /// are allocated on demand).
    pub fn is_pooled(&self) -> bool {
        self.inner.pooled
    }

    /// A fresh store and instance; `trust` answers its `trust-store` lookups.
    pub(crate) async fn instantiate(
        &self,
        trust: Option<TrustStore>,
    ) -> Result<(Store<HostState>, bindings::Endpoint), Error> {
        let clock = Arc::new(Mutex::new(CallClock::new(self.inner.limits.call_deadline)));
        let state = HostState {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            limits: Limiter {
                inner: StoreLimitsBuilder::new()
                    .memory_size(self.inner.limits.memory_bytes)
                    .build(),
                peak_memory: 0,
            },
            clock,
            registered: false,
            trust,
            _live: Live::new(&self.inner.live),
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limits);
        // Each epoch tick: stop a call whose guest time is spent; otherwise yield to the
        // executor with the clock paused until the call is polled again.
        store.epoch_deadline_callback(|store| {
            let clock = store.data().clock.clone();
            let mut guard = lock(&clock);
            if guard.guest_time_left().is_none() {
                return Err(wasmtime::format_err!(
                    "the guest call ran past its deadline"
                ));
            }
            guard.pause();
            drop(guard);
            Ok(UpdateDeadline::YieldCustom(1, Box::pin(Resume::new(clock))))
        });
        self.arm_deadline(&mut store);
        let instance = self
            .inner
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(Error::trap)?;
        Ok((store, instance))
    }

    /// Restarts the per-call deadline; called before every guest call.
    pub(crate) fn arm_deadline(&self, store: &mut Store<HostState>) {
        lock(&store.data().clock).start();
        store.data_mut().registered = false;
        store.set_epoch_deadline(1);
    }
}

/// wasmtime's on-disk code cache, where `TLSBOX_CODE_CACHE` (a directory, or `off`) or
/// wasmtime's default (the user's cache directory) puts it; `None` if it cannot be set up.
fn code_cache() -> Option<Cache> {
    let mut config = CacheConfig::new();
    match std::env::var_os("TLSBOX_CODE_CACHE") {
        Some(value) if value == "off" => return None,
        Some(dir) if !dir.is_empty() => {
            config.with_directory(dir);
        }
        _ => {}
    }
    Cache::new(config).ok()
}

/// The engine configuration: the wide-arithmetic proposal, epoch interruption (the call
/// deadline and the executor's time slices), copy-on-write memories, and (with
/// `pool_slots`) a pooling allocator that size.
fn engine_config(
    limits: &Limits,
    pool_slots: Option<u32>,
    cache: Option<Cache>,
) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    // The embedded guest is the wide build: a 64×64→128-bit multiply is one instruction,
    // which roughly halves a full handshake's cost (docs/performance.md).
    config.wasm_wide_arithmetic(true);
    // It also uses relaxed SIMD's byte swizzle (one `pshufb`) in ChaCha20; the relaxed
    // results may differ between machines only for inputs the guest never gives.
    config.wasm_relaxed_simd(true);
    config.cache(cache);
    let memory = (limits.memory_bytes as u64)
        .next_multiple_of(1 << 16)
        .max(1 << 16);
    config.memory_reservation(match limits.reservation {
        // With the guard after it, a 4 GiB reservation covers every address a wasm32
        // access can form: no bounds checks.
        Reservation::Full => 1 << 32,
        // Only what an instance may use: every access is then bounds-checked.
        Reservation::Compact => memory,
    });
    config.memory_init_cow(true);
    // No guard region before each memory: it is a mapping of its own per instance (seven
    // instead of six, which puts 10,000 connections over Linux's default mapping limit),
    // and it would only catch a miscompiled negative offset. The guard after the memory
    // stays.
    config.guard_before_linear_memory(false);
    if let Some(slots) = pool_slots {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 8)
            .total_stacks(slots)
            .max_memory_size(memory as usize);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// How long the current guest call has computed: time while it is being polled, less the
/// time spent inside transport calls.
struct CallClock {
    deadline: Duration,
    spent: Duration,
    running_since: Option<Instant>,
}

impl CallClock {
    fn new(deadline: Duration) -> Self {
        CallClock {
            deadline,
            spent: Duration::ZERO,
            running_since: None,
        }
    }

    fn start(&mut self) {
        self.spent = Duration::ZERO;
        self.running_since = Some(Instant::now());
    }

    fn pause(&mut self) {
        if let Some(since) = self.running_since.take() {
            self.spent += since.elapsed();
        }
    }

    fn resume(&mut self) {
        self.running_since.get_or_insert_with(Instant::now);
    }

    /// Guest time left in this call's budget, or `None` once it is spent.
    fn guest_time_left(&self) -> Option<Duration> {
        let guest = self.spent + self.running_since.map_or(Duration::ZERO, |t| t.elapsed());
        self.deadline
            .checked_sub(guest)
            .filter(|left| !left.is_zero())
    }
}

/// The yield at an epoch tick: pending once (waking its task), then restarts the clock.
struct Resume {
    clock: Arc<Mutex<CallClock>>,
    yielded: bool,
}

impl Resume {
    fn new(clock: Arc<Mutex<CallClock>>) -> Self {
        Resume {
            clock,
            yielded: false,
        }
    }
}

impl Future for Resume {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            lock(&self.clock).resume();
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
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
    clock: Arc<Mutex<CallClock>>,
    /// Whether a transport poll in the current guest call returned pending, i.e. the
    /// calling task's waker is registered for readiness.
    registered: bool,
    /// The anchors the `trust-store` import serves this instance.
    trust: Option<TrustStore>,
    _live: Live,
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
    /// The trust store this instance's `trust-store` lookups go to.
    pub(crate) fn trust_store(&self) -> Option<&TrustStore> {
        self.trust.as_ref()
    }

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

    /// Whether the last guest call left the calling task's waker registered with the
    /// transport (a poll returned pending). A `blocked` result without it must be retried
    /// rather than waited on: nothing would wake the task.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn registered(&self) -> bool {
        self.registered
    }

    /// The transport behind the socket whose table index is `rep`, for host-side calls
    /// (flush, shutdown) between guest calls.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn transport(&mut self, rep: u32) -> Option<&mut dyn AsyncTransport> {
        let slot = self
            .table
            .get_mut(&Resource::<SocketSlot>::new_borrow(rep))
            .ok()?;
        Some(&mut *slot.0)
    }

    /// Takes the transport behind the socket whose table index is `rep` out of the table,
    /// leaving one that has ended: the guest's later calls see a closed stream.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn take_transport(&mut self, rep: u32) -> Option<Box<dyn AsyncTransport>> {
        let slot = self
            .table
            .get_mut(&Resource::<SocketSlot>::new_borrow(rep))
            .ok()?;
        Some(std::mem::replace(&mut slot.0, Box::new(Detached)))
    }

    /// The transport behind the socket whose table index is `rep`, to look at.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
    pub(crate) fn transport_ref(&self, rep: u32) -> Option<&dyn AsyncTransport> {
        let slot = self
            .table
            .get(&Resource::<SocketSlot>::new_borrow(rep))
            .ok()?;
        Some(&*slot.0)
    }

    /// Polls the transport behind `socket` once, off the guest's clock. Not ready is
    /// would-block at once: the waker is registered and the guest call returns `blocked`,
    /// so the store is never held while the I/O waits.
    async fn poll_transport<T>(
        &mut self,
        socket: &Resource<SocketSlot>,
        mut f: impl FnMut(&mut dyn AsyncTransport, &mut Context<'_>) -> Poll<Result<T, IoError>>,
    ) -> Result<T, IoError> {
        let slot = self
            .table
            .get_mut(socket)
            .map_err(|e| IoError::Other(format!("unknown socket handle: {e}")))?;
        let clock = self.clock.clone();
        lock(&clock).pause();
        let out = std::future::poll_fn(|cx| {
            Poll::Ready(match f(&mut *slot.0, cx) {
                Poll::Ready(result) => result,
                Poll::Pending => {
                    self.registered = true;
                    Err(IoError::WouldBlock)
                }
            })
        })
        .await;
        lock(&clock).resume();
        out
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
    async fn send(&mut self, socket: Resource<SocketSlot>, data: Vec<u8>) -> Result<u32, IoError> {
        let n = self
            .poll_transport(&socket, |t, cx| t.poll_send(cx, &data))
            .await?;
        // A transport cannot take more than it was offered; pass the claim on unclamped
        // only when it fits, and let the guest report an over-claim.
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn recv(&mut self, socket: Resource<SocketSlot>, max: u32) -> Result<Vec<u8>, IoError> {
        self.poll_transport(&socket, |t, cx| t.poll_recv(cx, max as usize))
            .await
    }

    async fn drop(&mut self, socket: Resource<SocketSlot>) -> wasmtime::Result<()> {
        self.table.delete(socket)?;
        Ok(())
    }
}
