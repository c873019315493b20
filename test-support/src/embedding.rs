//! A plain wasmtime embedding for `wasi:cli/command` components: the store state any
//! embedder has — WASI and wasi:tls with the provider in its slot (`Ctx`), or WASI alone
//! (`WasiOnly`) — with the command's standard output and error captured.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_tls::{TlsProvider, WasiTlsCtx, WasiTlsCtxBuilder, WasiTlsCtxView, WasiTlsView};

/// The store's state: WASI with network access (as `wasmtime run -S inherit-network -S
/// allow-ip-name-lookup` grants) and wasi:tls served by a provider.
pub struct Ctx {
    table: ResourceTable,
    wasi: WasiCtx,
    tls: WasiTlsCtx,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiTlsView for Ctx {
    fn tls(&mut self) -> WasiTlsCtxView<'_> {
        WasiTlsCtxView {
            ctx: &mut self.tls,
            table: &mut self.table,
        }
    }
}

/// What a command printed.
pub struct Output {
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Output {
    /// Standard output's bytes and standard error as text.
    pub fn take(self) -> (Vec<u8>, String) {
        (
            self.stdout.contents().to_vec(),
            String::from_utf8_lossy(&self.stderr.contents()).into_owned(),
        )
    }
}

impl Ctx {
    /// A store state for a command run with `args` (argv, its name first), whose wasi:tls
    /// connections `provider` makes (e.g. `tlsbox::WasiTlsProvider`).
    pub fn new(args: &[&str], provider: Box<dyn TlsProvider>) -> (Ctx, Output) {
        let (wasi, output) = wasi(args, |_| {});
        let ctx = Ctx {
            table: ResourceTable::new(),
            wasi,
            tls: WasiTlsCtxBuilder::new().provider(provider).build(),
        };
        (ctx, output)
    }
}

/// The store state of a host without wasi:tls: WASI alone, with network access.
pub struct WasiOnly {
    table: ResourceTable,
    wasi: WasiCtx,
}

impl WasiView for WasiOnly {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiOnly {
    /// A store state for a command run with `args` (argv, its name first); `configure` adds
    /// to its WASI context (environment, preopened directories).
    pub fn new(args: &[&str], configure: impl FnOnce(&mut WasiCtxBuilder)) -> (WasiOnly, Output) {
        let (wasi, output) = wasi(args, configure);
        let ctx = WasiOnly {
            table: ResourceTable::new(),
            wasi,
        };
        (ctx, output)
    }
}

/// A command's WASI context: `args`, network access (as `wasmtime run -S inherit-network -S
/// allow-ip-name-lookup` grants), its output captured, and what `configure` adds.
fn wasi(args: &[&str], configure: impl FnOnce(&mut WasiCtxBuilder)) -> (WasiCtx, Output) {
    let output = Output {
        stdout: MemoryOutputPipe::new(16 << 20),
        stderr: MemoryOutputPipe::new(1 << 20),
    };
    let mut wasi = WasiCtx::builder();
    wasi.args(args)
        .inherit_network()
        .allow_tcp(true)
        .allow_ip_name_lookup(true)
        .stdout(output.stdout.clone())
        .stderr(output.stderr.clone());
    configure(&mut wasi);
    (wasi.build(), output)
}

/// The exit status of a command's `run`: 0, 1 for its error result, or the status it exited
/// with. A trap is a test failure.
pub fn exit_status(result: wasmtime::Result<Result<(), ()>>) -> i32 {
    match result {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => panic!("the command trapped: {e:?}"),
        },
    }
}
