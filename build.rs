//! Builds the WASI transport adapter and the `https-get` example application, and composes
//! them with the endpoint component (wac-graph, the library behind the `wac` CLI):
//!
//! - `<target>/guest-wasm/composed/tlsbox-wasi.wasm`: the endpoint with the adapter plugged
//!   into its imports. It imports only `wasi:*` and exports `tlsbox:tls/tls`,
//!   `tlsbox:wasi/tcp` and the types and resources they use; any WASI 0.2 host runs it.
//! - `<target>/guest-wasm/composed/https-get.wasm`: that component with the application
//!   plugged in, a `wasi:cli/run` command importing only `wasi:*`.
//!
//! - `<target>/guest-wasm/composed/tlsbox-wasi-tls-p3.wasm`: the endpoint, the adapter and
//!   the `wasi:tls` provider (`wasi/tls-p3`), exporting `wasi:tls@0.3.0-draft` and importing
//!   only `wasi:*`.
//! - `<target>/guest-wasm/composed/tls-get-p3.wasm`: the WASIp3 `tls-get-p3` application
//!   with that plugged into its wasi:tls imports; it runs on a host with no wasi:tls.
//!
//! Their paths reach the tests and examples as `TLSBOX_WASI_WASM`, `TLSBOX_HTTPS_GET_WASM`,
//! `TLSBOX_WASI_TLS_P3_WASM` and `TLSBOX_TLS_GET_P3_COMPOSED_WASM`; the `tls-get`
//! applications as built (wasi:sockets and wasi:tls only) as `TLSBOX_TLS_GET_WASM` (WASIp2)
//! and `TLSBOX_TLS_GET_P3_WASM` (WASIp3).

// The component builder the host's build script uses (one copy, shared by path).
#[path = "host/build/components.rs"]
mod components;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

/// What the composed endpoint exports, each taken from the instance that implements it.
const ADAPTER_EXPORTS: [&str; 3] = [
    "tlsbox:tls/types@0.1.0",
    "tlsbox:tls/transport@0.1.0",
    "tlsbox:wasi/tcp@0.1.0",
];
const ENDPOINT_EXPORTS: [&str; 1] = ["tlsbox:tls/tls@0.1.0"];
/// What the wasi:tls provider exports, and the application plugged into it imports.
const PROVIDER_EXPORTS: [&str; 2] = ["wasi:tls/types@0.3.0-draft", "wasi:tls/client@0.3.0-draft"];
/// The endpoint's imports the adapter satisfies.
const ENDPOINT_IMPORTS: [&str; 4] = [
    "tlsbox:tls/types@0.1.0",
    "tlsbox:tls/transport@0.1.0",
    "tlsbox:tls/session-store@0.1.0",
    "tlsbox:tls/trust-store@0.1.0",
];

fn main() -> Result<()> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // The endpoint alone first, exactly as the host's build script builds it (one cargo
    // call per package set keeps feature unification, and so the artefact, identical).
    let endpoint = components::endpoint_component(&root, components::Flavour::Baseline);
    let dir = components::build_components(
        &root,
        &[
            "-p",
            "tlsbox-wasi-transport",
            "-p",
            "tlsbox-https-get",
            "-p",
            "tlsbox-tls-get",
            "-p",
            "tlsbox-tls-get-p3",
            "-p",
            "tlsbox-wasi-tls-p3",
        ],
        &["wasi"],
    );
    let adapter = components::artefact(&dir, "tlsbox_wasi_transport.wasm");
    let app = components::artefact(&dir, "https-get.wasm");

    let out = components::target_root()
        .join("guest-wasm")
        .join("composed");
    fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;

    let wasi_tls = compose_endpoint(&endpoint, &adapter).context("compose tlsbox-wasi")?;
    let wasi_tls_path = write(&out.join("tlsbox-wasi.wasm"), &wasi_tls)?;
    // The application imports everything the composed endpoint exports.
    let tlsbox_imports: Vec<&str> = ADAPTER_EXPORTS
        .into_iter()
        .chain(ENDPOINT_EXPORTS)
        .collect();
    let command = plug(
        ("tlsbox:wasi", &wasi_tls),
        ("tlsbox:https-get", &app),
        &tlsbox_imports,
        "wasi:cli/run@0.2.0",
    )
    .context("compose https-get")?;
    let command_path = write(&out.join("https-get.wasm"), &command)?;

    let provider = components::artefact(&dir, "tlsbox_wasi_tls_p3.wasm");
    let wasi_tls_p3 =
        compose_provider(&endpoint, &adapter, &provider).context("compose tlsbox-wasi-tls-p3")?;
    let wasi_tls_p3_path = write(&out.join("tlsbox-wasi-tls-p3.wasm"), &wasi_tls_p3)?;
    let app_p3 = components::artefact(&dir, "tls-get-p3.wasm");
    let command_p3 = plug(
        ("tlsbox:wasi-tls-p3", &wasi_tls_p3),
        ("tlsbox:tls-get-p3", &app_p3),
        &PROVIDER_EXPORTS,
        "wasi:cli/run@0.3.0",
    )
    .context("compose tls-get-p3")?;
    let command_p3_path = write(&out.join("tls-get-p3.wasm"), &command_p3)?;
    println!(
        "cargo:rustc-env=TLSBOX_WASI_TLS_P3_WASM={}",
        wasi_tls_p3_path.display()
    );
    println!(
        "cargo:rustc-env=TLSBOX_TLS_GET_P3_COMPOSED_WASM={}",
        command_p3_path.display()
    );
    println!(
        "cargo:rustc-env=TLSBOX_WASI_WASM={}",
        wasi_tls_path.display()
    );
    println!(
        "cargo:rustc-env=TLSBOX_HTTPS_GET_WASM={}",
        command_path.display()
    );
    // The wasi:tls application runs as built: it imports WASI only, wasi:tls included.
    println!(
        "cargo:rustc-env=TLSBOX_TLS_GET_WASM={}",
        components::artefact(&dir, "tls-get.wasm").display()
    );
    println!(
        "cargo:rustc-env=TLSBOX_TLS_GET_P3_WASM={}",
        components::artefact(&dir, "tls-get-p3.wasm").display()
    );
    Ok(())
}

/// The endpoint with the adapter in its imports; the adapter's own imports (WASI) become
/// the composition's.
fn compose_endpoint(endpoint: &Path, adapter: &Path) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let adapter = instantiate_file(&mut graph, "tlsbox:wasi-transport", adapter)?;
    let endpoint = instantiate_file(&mut graph, "tlsbox:endpoint", endpoint)?;
    for name in ENDPOINT_IMPORTS {
        let export = graph.alias_instance_export(adapter, name)?;
        graph.set_instantiation_argument(endpoint, name, export)?;
    }
    for (instance, names) in [
        (adapter, &ADAPTER_EXPORTS[..]),
        (endpoint, &ENDPOINT_EXPORTS[..]),
    ] {
        for name in names {
            let export = graph.alias_instance_export(instance, name)?;
            graph.export(export, *name)?;
        }
    }
    Ok(graph.encode(EncodeOptions::default())?)
}

/// The wasi:tls provider over the endpoint, both on the adapter: the provider takes the
/// endpoint's `tls` and the adapter's pipes; the composition exports the provider's
/// `wasi:tls` and imports what the three import of WASI.
fn compose_provider(endpoint: &Path, adapter: &Path, provider: &Path) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let adapter = instantiate_file(&mut graph, "tlsbox:wasi-transport", adapter)?;
    let endpoint = instantiate_file(&mut graph, "tlsbox:endpoint", endpoint)?;
    let provider = instantiate_file(&mut graph, "tlsbox:wasi-tls-p3", provider)?;
    for name in ENDPOINT_IMPORTS {
        let export = graph.alias_instance_export(adapter, name)?;
        graph.set_instantiation_argument(endpoint, name, export)?;
    }
    for (instance, name) in [
        (adapter, "tlsbox:tls/types@0.1.0"),
        (adapter, "tlsbox:tls/transport@0.1.0"),
        (adapter, "tlsbox:wasi/pipe@0.1.0"),
        (endpoint, "tlsbox:tls/tls@0.1.0"),
    ] {
        let export = graph.alias_instance_export(instance, name)?;
        graph.set_instantiation_argument(provider, name, export)?;
    }
    for name in PROVIDER_EXPORTS {
        let export = graph.alias_instance_export(provider, name)?;
        graph.export(export, name)?;
    }
    Ok(graph.encode(EncodeOptions::default())?)
}

/// A command component (`app`) with its `imports` taken from `plug` (a composition, encoded)
/// — what `wac plug app.wasm --plug plug.wasm` does; it keeps the application's `run`
/// export (`wasi:cli/run` at the version given).
fn plug(plug: (&str, &[u8]), app: (&str, &Path), imports: &[&str], run: &str) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let package = Package::from_bytes(plug.0, None, plug.1, graph.types_mut())?;
    let package = graph.register_package(package)?;
    let plug = graph.instantiate(package);
    let app = instantiate_file(&mut graph, app.0, app.1)?;
    for name in imports {
        let export = graph.alias_instance_export(plug, name)?;
        graph.set_instantiation_argument(app, name, export)?;
    }
    let run_export = graph.alias_instance_export(app, run)?;
    graph.export(run_export, run)?;
    Ok(graph.encode(EncodeOptions::default())?)
}

fn instantiate_file(graph: &mut CompositionGraph, name: &str, path: &Path) -> Result<NodeId> {
    let package = Package::from_file(name, None, path, graph.types_mut())?;
    let package = graph.register_package(package)?;
    Ok(graph.instantiate(package))
}

fn write(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    fs::write(path, bytes).with_context(|| format!("write {}", path.display()))?;
    Ok(path.to_path_buf())
}
