//! Embeds the guest component (its path reaches `include_bytes!` as `TLSBOX_GUEST_WASM`).
//!
//! The guest is built in two flavours (see `components::Flavour`): the baseline every engine
//! runs, shipped as `component/tlsbox.wasm` for Node and compositions, and the
//! wide-arithmetic build the host embeds, shipped as `component/tlsbox-wide.wasm`.
//!
//! In the workspace both are built from `guest/` (always optimised), so a change there is
//! what the tests run, and each is compared with its shipped copy. A packaged crate has only
//! the shipped copies and uses them as they are: depending on `tlsbox` needs neither the
//! wasm target nor a second cargo build. The builds are reproducible, and
//! `tests/component.rs` fails while a shipped copy differs from the sources;
//! `TLSBOX_REFRESH_COMPONENT=1 cargo build -p tlsbox` refreshes them.

mod components;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use components::Flavour;

fn main() {
    let package = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-env-changed=TLSBOX_REFRESH_COMPONENT");
    let root = components::workspace_root(&package);
    for (flavour, file, variable) in [
        (Flavour::Wide, "tlsbox-wide.wasm", "TLSBOX_GUEST_WASM"),
        (Flavour::Baseline, "tlsbox.wasm", "TLSBOX_BASELINE_WASM"),
    ] {
        let shipped = package.join("component").join(file);
        println!("cargo:rerun-if-changed={}", shipped.display());
        let wasm = match &root {
            Some(root) => built_and_checked(root, flavour, &shipped),
            None => shipped,
        };
        println!("cargo:rustc-env={variable}={}", wasm.display());
    }
}

/// Builds `flavour` from the workspace's sources; refreshes `shipped` from it when asked,
/// otherwise warns if they differ.
fn built_and_checked(root: &Path, flavour: Flavour, shipped: &Path) -> PathBuf {
    let built = components::endpoint_component(root, flavour);
    let name = shipped.file_name().expect("a file").to_string_lossy();
    if env::var_os("TLSBOX_REFRESH_COMPONENT").is_some() {
        fs::copy(&built, shipped).unwrap_or_else(|e| panic!("refresh component/{name}: {e}"));
    } else if fs::read(&built).ok() != fs::read(shipped).ok() {
        println!(
            "cargo:warning=component/{name} is not the guest built from source; \
             refresh it with `TLSBOX_REFRESH_COMPONENT=1 cargo build -p tlsbox`"
        );
    }
    built
}
