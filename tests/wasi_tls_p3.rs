//! Runs `tests/wasip3`, the WASIp3 wasi:tls tests, as its own cargo workspace (its wasmtime
//! has component-model-async, which must not switch on for this workspace's tests): with
//! this workspace's lockfile, offline, into `target/wasip3`, and the `tls-get-p3` component
//! this package's build made.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn wasip3_wasi_tls_through_the_provider() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let crate_dir = root.join("tests/wasip3");
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for var in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
    ] {
        cargo.env_remove(var);
    }
    let out = cargo
        .current_dir(&crate_dir)
        .args(["test", "--offline", "--target-dir"])
        .arg(root.join("target/wasip3"))
        .env("TLSBOX_TLS_GET_P3_WASM", env!("TLSBOX_TLS_GET_P3_WASM"))
        .env("TLSBOX_WASI_TLS_P3_WASM", env!("TLSBOX_WASI_TLS_P3_WASM"))
        .env(
            "TLSBOX_TLS_GET_P3_COMPOSED_WASM",
            env!("TLSBOX_TLS_GET_P3_COMPOSED_WASM"),
        )
        .output()
        .unwrap();
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    // Every test ran (a filter or a skip would show fewer).
    assert!(report.contains("test result: ok. 8 passed"), "{report}");
}
