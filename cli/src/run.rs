//! `tlsbox run APP.wasm [ARGS...]`: runs a `wasi:cli/command` component on wasmtime-wasi,
//! with `wasi:tls` served by tlsbox (each TLS connection in its own tlsbox instance). It
//! grants what `wasmtime run -S inherit-network -S allow-ip-name-lookup -S tls` grants, plus
//! the directories, environment, stdio and arguments given; the exit status is the
//! command's.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use tlsbox::{Config, Runtime, WasiTlsProvider};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_tls::{WasiTlsCtx, WasiTlsCtxBuilder, WasiTlsCtxView, WasiTlsView};

use super::TrustArgs;

/// Options for `tlsbox run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component to run: a `wasi:cli/command` (WASI 0.2), which may import
    /// `wasi:tls@0.2.0-draft`.
    app: PathBuf,
    /// Arguments for the command (its argv[0] is APP's file name).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
    /// Preopen the host directory HOST, as GUEST inside (default: the same path).
    #[arg(long, value_name = "HOST[::GUEST]")]
    dir: Vec<String>,
    /// Set K=V in the command's environment; a bare K passes the host's value on.
    #[arg(long, value_name = "K=V")]
    env: Vec<String>,
    #[command(flatten)]
    trust: TrustArgs,
}

/// What the command's store holds: WASI, and wasi:tls served by tlsbox.
struct Ctx {
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

/// Exit status for a trap, as `wasmtime run` gives it (128 + SIGABRT).
const TRAPPED: i32 = 134;

/// Runs the command; returns its exit status.
pub async fn run(args: Args) -> Result<i32> {
    let provider = WasiTlsProvider::with_config(
        &Runtime::shared()?,
        args.trust.apply(Config::client("localhost"))?,
    );
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdio()
        .inherit_network()
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true);
    let name = args.app.file_name().map_or_else(
        || args.app.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    wasi.arg(name).args(&args.args);
    for var in &args.env {
        match var.split_once('=') {
            Some((key, value)) => wasi.env(key, value),
            None => match std::env::var(var) {
                Ok(value) => wasi.env(var, value),
                Err(_) => &mut wasi,
            },
        };
    }
    for dir in &args.dir {
        let (host, guest) = dir.split_once("::").unwrap_or((dir, dir));
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| anyhow!("--dir {dir}: {e:?}"))?;
    }
    let ctx = Ctx {
        table: ResourceTable::new(),
        wasi: wasi.build(),
        tls: WasiTlsCtxBuilder::new()
            .provider(Box::new(provider))
            .build(),
    };

    let engine = Engine::default();
    let component = Component::from_file(&engine, &args.app)
        .map_err(|e| anyhow!("{e:?}"))
        .with_context(|| format!("loading {}", args.app.display()))?;
    let mut linker = Linker::<Ctx>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow!("{e:?}"))?;
    let mut options = wasmtime_wasi_tls::p2::LinkOptions::default();
    options.tls(true);
    wasmtime_wasi_tls::p2::add_to_linker(&mut linker, &options).map_err(|e| anyhow!("{e:?}"))?;
    let mut store = Store::new(&engine, ctx);
    let command = Command::instantiate_async(&mut store, &component, &linker)
        .await
        .map_err(|e| anyhow!("{e:?}"))
        .with_context(|| format!("instantiating {}", args.app.display()))?;
    match command.wasi_cli_run().call_run(&mut store).await {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => {
                eprintln!("tlsbox run: {} trapped: {e:?}", args.app.display());
                Ok(TRAPPED)
            }
        },
    }
}
