//! Builds the guest component (always optimised) so `cargo build`/`cargo test` need no
//! other step, and embeds its path for `include_bytes!`.

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ sits in the workspace")
        .to_path_buf();
    let wasm = tlsbox_build_support::endpoint_component(&root);
    println!("cargo:rustc-env=TLSBOX_GUEST_WASM={}", wasm.display());
}
