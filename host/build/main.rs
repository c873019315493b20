//! Embeds the guest component (its path reaches `include_bytes!` as `TLSBOX_GUEST_WASM`).
//!
//! In the workspace the component is built from `guest/` (always optimised), so a change
//! there is what the tests run, and it is compared with the shipped copy,
//! `component/tlsbox.wasm`. A packaged crate has only the shipped copy and uses it as is:
//! depending on `tlsbox` needs neither the wasm target nor a second cargo build. The builds
//! are reproducible, and `tests/component.rs` fails while the shipped copy differs from
//! the sources; `TLSBOX_REFRESH_COMPONENT=1 cargo build -p tlsbox` refreshes it.

mod components;

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let package = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let shipped = package.join("component").join("tlsbox.wasm");
    println!("cargo:rerun-if-changed={}", shipped.display());
    println!("cargo:rerun-if-env-changed=TLSBOX_REFRESH_COMPONENT");
    let wasm = match components::workspace_root(&package) {
        Some(root) => {
            let built = components::endpoint_component(&root);
            if env::var_os("TLSBOX_REFRESH_COMPONENT").is_some() {
                fs::copy(&built, &shipped).expect("refresh component/tlsbox.wasm");
            } else if fs::read(&built).ok() != fs::read(&shipped).ok() {
                println!(
                    "cargo:warning=component/tlsbox.wasm is not the guest built from source; \
                     refresh it with `TLSBOX_REFRESH_COMPONENT=1 cargo build -p tlsbox`"
                );
            }
            built
        }
        None => shipped,
    };
    println!("cargo:rustc-env=TLSBOX_GUEST_WASM={}", wasm.display());
}
