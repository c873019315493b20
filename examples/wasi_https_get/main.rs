//! `cargo run --release --example wasi-https-get -- URL [--ca FILE] [--servername NAME]`
//!
//! Runs the `https-get` application composed with the WASI-only tlsbox component
//! (`target/guest-wasm/composed/https-get.wasm`, made by the root build script with
//! wac-graph) on wasmtime-wasi's standard linker: the same as
//! `wasmtime run -S inherit-network -S allow-ip-name-lookup --dir DIR https-get.wasm ...`.
//! Nothing of tlsbox's host takes part; TLS runs entirely inside the composition, which
//! trusts the Mozilla CA set compiled into it unless `--ca` names a bundle.

mod command;

use std::path::PathBuf;
use std::process::ExitCode;

use wasmtime::Result;
use wasmtime::error::Context;

fn main() -> Result<ExitCode> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // A CA file must be visible inside the sandbox: preopen its directory at the same
    // absolute path and hand the component that path.
    let mut dir = PathBuf::from(".");
    if let Some(i) = args.iter().position(|a| a == "--ca") {
        let ca = args
            .get(i + 1)
            .context("usage: wasi-https-get URL [--ca FILE] [--servername NAME]")?;
        let ca_path = std::fs::canonicalize(ca).with_context(|| format!("CA file {ca}"))?;
        dir = ca_path
            .parent()
            .context("the CA file has a directory")?
            .into();
        args[i + 1] = ca_path.to_string_lossy().into_owned();
    }

    let wasm = env!("TLSBOX_HTTPS_GET_WASM");
    let outcome = command::run(wasm.as_ref(), &args, &dir, false)?;
    Ok(ExitCode::from(u8::try_from(outcome.status).unwrap_or(1)))
}
