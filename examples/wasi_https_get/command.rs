//! Runs a WASI 0.2 command component on wasmtime-wasi's standard linker, as `wasmtime run`
//! does: no tlsbox host code, only the WASI interfaces a stock host provides.

use std::path::Path;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::error::Context;
use wasmtime::{Engine, Result, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxView, WasiView};

/// How a run ended.
#[allow(dead_code)] // the example inherits stdout and stderr; the tests read them here
pub struct Outcome {
    /// The exit status: 0 on success.
    pub status: i32,
    /// Standard output, when captured (empty when inherited).
    pub stdout: Vec<u8>,
    /// Standard error, when captured (empty when inherited).
    pub stderr: Vec<u8>,
}

/// The store's state: what the standard WASI linker needs and nothing else.
struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Wasi {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Most output a captured run keeps per stream.
const CAPTURE_LIMIT: usize = 16 << 20;

/// Runs the command at `wasm` with `args` (argv[1..]) and the network access of
/// `wasmtime run -S inherit-network -S allow-ip-name-lookup` (TCP, any address, name
/// lookups), with `dir` preopened read-only at the same path (`--dir`). Standard output and
/// error are the process's own unless `capture`.
pub fn run(wasm: &Path, args: &[String], dir: &Path, capture: bool) -> Result<Outcome> {
    let engine = Engine::default();
    let component =
        Component::from_file(&engine, wasm).with_context(|| format!("load {}", wasm.display()))?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;

    let mut builder = WasiCtx::builder();
    let argv0 = wasm
        .file_name()
        .map_or("command".into(), |n| n.to_string_lossy());
    builder
        .arg(argv0)
        .args(args)
        .inherit_network()
        .allow_tcp(true)
        .allow_ip_name_lookup(true);
    let guest_dir = dir
        .to_str()
        .context("the preopened directory is not UTF-8")?;
    builder.preopened_dir(dir, guest_dir, FsPerms::ReadOnly)?;
    let (stdout, stderr) = (
        MemoryOutputPipe::new(CAPTURE_LIMIT),
        MemoryOutputPipe::new(CAPTURE_LIMIT),
    );
    if capture {
        builder.stdout(stdout.clone()).stderr(stderr.clone());
    } else {
        builder.inherit_stdout().inherit_stderr();
    }
    let mut store = Store::new(
        &engine,
        Wasi {
            ctx: builder.build(),
            table: ResourceTable::new(),
        },
    );
    let command = Command::instantiate(&mut store, &component, &linker)?;
    let status = match command.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        // `exit(n)` (std's `ExitCode`) unwinds the instance with the status.
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(I32Exit(status)) => *status,
            None => return Err(e),
        },
    };
    drop(store);
    Ok(Outcome {
        status,
        stdout: stdout.contents().to_vec(),
        stderr: stderr.contents().to_vec(),
    })
}
