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
    let dir = tlsbox_build_support::build_components(
        &root,
        &["-p", "tlsbox-guest", "--lib"],
        &["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"],
    );
    let wasm = tlsbox_build_support::artefact(&dir, "tlsbox_guest.wasm");
    println!("cargo:rustc-env=TLSBOX_GUEST_WASM={}", wasm.display());
}
