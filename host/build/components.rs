//! Compiles workspace crates into WebAssembly components for `wasm32-wasip2`, so a plain
//! `cargo build` / `cargo test` in the workspace needs no other step.
//!
//! Shared by two build scripts: this package's (the endpoint component) and the workspace
//! root package's (`#[path]`-included; the WASI transport adapter and the example
//! application it composes). Both build into one target directory, `<target>/guest-wasm`,
//! with the `guest` profile; cargo's lock on that directory serialises them, and whichever
//! runs second finds its artefacts fresh.
//!
//! Builds are reproducible: the paths rustc would embed (panic locations in dependencies
//! name their files under cargo's home) are remapped to fixed prefixes, so the same sources
//! give the same bytes in any checkout on any machine with the pinned toolchain. That is what
//! lets the packaged crate ship the component (`component/tlsbox.wasm`) as a checked
//! artefact.

// Each including build script uses part of it.
#![allow(dead_code)]

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every component is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// How a component is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// What every engine runs: wasm with simd128 (`.cargo/config.toml`). Node/jco, the WASI
    /// compositions and the shipped `component/tlsbox.wasm`.
    Baseline,
    /// Baseline plus the wide-arithmetic proposal, where a 64×64→128-bit multiply is one
    /// instruction (`i64.mul_wide_u`): the field arithmetic of P-256, P-384, RSA and (told so
    /// by `curve25519_dalek_bits`) X25519 then runs on 64-bit limbs, and Poly1305 on 44-bit
    /// ones; and relaxed SIMD, whose byte swizzle wasmtime lowers to a bare `pshufb` (ChaCha20's
    /// 8- and 16-bit rotations). wasmtime runs it with `Config::wasm_wide_arithmetic`; V8 does
    /// not yet, and Node 20's V8 has no relaxed SIMD. What the host embeds
    /// (`component/tlsbox-wide.wasm`).
    Wide,
}

impl Flavour {
    /// Its own target directory under `<target>`: the flags differ, so the builds must not
    /// overwrite each other.
    fn target_dir(self) -> &'static str {
        match self {
            Flavour::Baseline => "guest-wasm",
            Flavour::Wide => "guest-wasm-wide",
        }
    }

    /// Flags added to `.cargo/config.toml`'s rustflags for this flavour.
    fn rustflags(self) -> &'static [&'static str] {
        match self {
            Flavour::Baseline => &[],
            Flavour::Wide => &[
                "-C",
                "target-feature=+wide-arithmetic,+relaxed-simd",
                "--cfg",
                "curve25519_dalek_bits=\"64\"",
                // Stable rustc does not set `target_feature = "wide-arithmetic"` for an
                // unstable feature, so the guest's Poly1305 learns it from this.
                "--cfg",
                "tlsbox_wide_arithmetic",
            ],
        }
    }
}

/// Builds `packages` (each `-p NAME` plus its target selector, like `["-p", "x", "--lib"]`)
/// for [`TARGET`] with the `guest` profile as the baseline [`Flavour`], and returns the
/// directory that holds the components (`<target>/guest-wasm/wasm32-wasip2/guest`).
///
/// `workspace` is the workspace root; `watch` lists paths under it whose changes must rerun
/// the calling build script. Panics with a clear message on failure: a build script has no
/// better way to stop the build.
pub fn build_components(workspace: &Path, args: &[&str], watch: &[&str]) -> PathBuf {
    build_flavour(workspace, args, watch, Flavour::Baseline)
}

/// [`build_components`] as `flavour`, into that flavour's target directory.
fn build_flavour(workspace: &Path, args: &[&str], watch: &[&str], flavour: Flavour) -> PathBuf {
    for path in watch {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    ensure_wasm_target();

    // A separate target dir: the outer cargo holds the lock on the main one.
    let target_dir = target_root().join(flavour.target_dir());
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .arg("build")
        .args(args)
        .args(["--profile", "guest", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    // Settings meant for the host build must not leak into the component build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PROFILE_RELEASE_DEBUG",
        // `cargo clippy` runs rustc through clippy-driver; the component build must not.
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
    ] {
        cmd.env_remove(var);
    }
    // Appended to .cargo/config.toml's target rustflags (cargo merges config arrays).
    let remaps = remapped_prefixes(workspace)
        .iter()
        .map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display()))
        .collect::<Vec<_>>();
    let flags = flavour
        .rustflags()
        .iter()
        .map(|flag| flag.to_string())
        .chain(remaps)
        .map(|flag| format!("\"{}\"", flag.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>();
    cmd.arg("--config").arg(format!(
        "target.{TARGET}.rustflags = [{}]",
        flags.join(", ")
    ));
    let status = cmd.status().expect("run cargo to build components");
    assert!(status.success(), "building components ({args:?}) failed");
    target_dir.join(TARGET).join("guest")
}

/// Builds the endpoint component (`tlsbox-guest`) as `flavour` and returns its path. Both
/// build scripts call this, so one cargo invocation (and so one feature set) makes each
/// artefact.
pub fn endpoint_component(workspace: &Path, flavour: Flavour) -> PathBuf {
    let dir = build_flavour(
        workspace,
        &["-p", "tlsbox-guest", "--lib"],
        &[
            "guest/src",
            "guest/Cargo.toml",
            "wit",
            "Cargo.lock",
            ".cargo/config.toml",
        ],
        flavour,
    );
    artefact(&dir, "tlsbox_guest.wasm")
}

/// The path prefixes rustc may embed and what they become: cargo's home (dependencies'
/// sources) and the workspace.
fn remapped_prefixes(workspace: &Path) -> Vec<(PathBuf, &'static str)> {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let mut prefixes: Vec<(PathBuf, &'static str)> = cargo_home
        .into_iter()
        .map(|home| (home, "/cargo"))
        .collect();
    prefixes.push((workspace.to_path_buf(), "/tlsbox"));
    prefixes
}

/// The workspace root if `package_dir` is this workspace's `host/` with the guest's sources
/// beside it; `None` in a packaged crate, which has only the shipped component.
pub fn workspace_root(package_dir: &Path) -> Option<PathBuf> {
    let root = package_dir.parent()?;
    let guest = root.join("guest").join("Cargo.toml");
    let is_ours = std::fs::read_to_string(guest)
        .is_ok_and(|manifest| manifest.contains("name = \"tlsbox-guest\""));
    is_ours.then(|| root.to_path_buf())
}

/// Returns `dir/file` after checking that the build produced it.
pub fn artefact(dir: &Path, file: &str) -> PathBuf {
    let path = dir.join(file);
    assert!(path.exists(), "component missing at {}", path.display());
    path
}

/// The workspace's target directory, derived from OUT_DIR (`<target>/<profile>/build/..`).
pub fn target_root() -> PathBuf {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("OUT_DIR lies under the target directory")
}

/// rustup 1.29 does not add a missing target on a plain `cargo` call, even though
/// rust-toolchain.toml lists it, so add it here when the sysroot lacks it.
fn ensure_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if let Some(sysroot) = sysroot
        && Path::new(&sysroot)
            .join("lib/rustlib")
            .join(TARGET)
            .exists()
    {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    assert!(
        matches!(status, Ok(s) if s.success()),
        "the {TARGET} target is missing and `rustup target add {TARGET}` failed"
    );
}
