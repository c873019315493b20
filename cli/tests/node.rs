//! The Node.js package (`js/`): the same guest component transpiled by jco (versions pinned
//! in js/package-lock.json) and tested with `node:test` against this crate's `tlsbox` binary,
//! `openssl s_server` and `s_client`. Run here so that `cargo test --workspace` is the one
//! test command; `.ci/run` installs Node.js and npm if the machine lacks them.

use std::path::Path;
use std::process::Command;

/// Runs `npm --prefix js ARGS` and fails the test, showing its output, unless it succeeds.
fn npm(js: &Path, args: &[&str]) {
    let out = Command::new("npm")
        .arg("--prefix")
        .arg(js)
        .args(args)
        .env("TLSBOX_BIN", env!("CARGO_BIN_EXE_tlsbox"))
        .output()
        .expect("npm is installed (.ci/run installs Node.js and npm)");
    let report = format!(
        "npm {}:\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    println!("{report}");
}

#[test]
fn node_package_builds_and_its_tests_pass() {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("../js");
    npm(&js, &["ci", "--no-audit", "--no-fund"]);
    npm(&js, &["run", "build"]);
    npm(&js, &["test"]);
}
