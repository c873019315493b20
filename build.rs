//! Builds the WASI transport adapter and the `https-get` example application, and composes
//! them with the endpoint component (wac-graph, the library behind the `wac` CLI):
//!
//! - `<target>/guest-wasm/composed/tlsbox-wasi.wasm`: the endpoint with the adapter plugged
//!   into its imports. It imports only `wasi:*` and exports `tlsbox:tls/tls`,
//!   `tlsbox:wasi/tcp` and the types and resources they use; any WASI 0.2 host runs it.
//! - `<target>/guest-wasm/composed/https-get.wasm`: that component with the application
//!   plugged in, a `wasi:cli/run` command importing only `wasi:*`.
//!
//! Their paths reach the tests and examples as `TLSBOX_WASI_WASM` and `TLSBOX_HTTPS_GET_WASM`;
//! the `tls-get` applications (wasi:sockets and wasi:tls only, nothing to compose) as
//! `TLSBOX_TLS_GET_WASM` (WASIp2) and `TLSBOX_TLS_GET_P3_WASM` (WASIp3).

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
    let command = compose_application(&wasi_tls, &app).context("compose https-get")?;
    let command_path = write(&out.join("https-get.wasm"), &command)?;

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

/// The application with every `tlsbox:*` import taken from the composed endpoint; it keeps
/// the application's `wasi:cli/run` export.
fn compose_application(wasi_tls: &[u8], app: &Path) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let package = Package::from_bytes("tlsbox:wasi", None, wasi_tls, graph.types_mut())?;
    let package = graph.register_package(package)?;
    let tls = graph.instantiate(package);
    let app = instantiate_file(&mut graph, "tlsbox:https-get", app)?;
    for name in ADAPTER_EXPORTS.iter().chain(&ENDPOINT_EXPORTS) {
        let export = graph.alias_instance_export(tls, name)?;
        graph.set_instantiation_argument(app, name, export)?;
    }
    let run = graph.alias_instance_export(app, "wasi:cli/run@0.2.0")?;
    graph.export(run, "wasi:cli/run@0.2.0")?;
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
