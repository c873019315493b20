//! The components a packaged `tlsbox` ships (`component/tlsbox-wide.wasm`, which the host
//! embeds, and the baseline `component/tlsbox.wasm`) are the ones the workspace builds from
//! `guest/`: the builds are reproducible, so each pair must be identical byte for byte. When
//! this fails after a change to the guest or its dependencies, refresh the shipped copies:
//! `TLSBOX_REFRESH_COMPONENT=1 cargo build -p tlsbox`.

use std::path::Path;

fn digest(bytes: &[u8]) -> String {
    // FNV-1a, only to name the two versions in the message; equality is checked in full.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{} bytes, fnv1a {hash:016x}", bytes.len())
}

/// Asserts that the component built at `built` is the shipped `component/<file>`.
fn assert_shipped(built: &str, file: &str) {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = Path::new(built);
    let shipped = package.join("component").join(file);
    assert!(
        package.join("../guest/Cargo.toml").exists(),
        "run in the workspace, where the guest's sources are"
    );
    assert_ne!(
        built.canonicalize().unwrap(),
        shipped.canonicalize().unwrap(),
        "in the workspace the build script builds the guest from source"
    );
    let built = std::fs::read(built).expect("the build script built the guest");
    let ours = std::fs::read(&shipped).expect("the shipped component is in the repository");
    assert!(
        built == ours,
        "component/{file} ({}) is not the guest built from source ({}): refresh it with \
         `TLSBOX_REFRESH_COMPONENT=1 cargo build -p tlsbox`",
        digest(&ours),
        digest(&built)
    );
}

#[test]
fn the_shipped_components_are_the_ones_built_from_source() {
    assert_shipped(env!("TLSBOX_GUEST_WASM"), "tlsbox-wide.wasm");
    assert_shipped(env!("TLSBOX_BASELINE_WASM"), "tlsbox.wasm");
}

/// The embedded build uses the wide-arithmetic proposal (so an engine without it refuses
/// it); the baseline does not (so V8 and any other engine with simd128 runs it).
#[test]
fn the_embedded_build_needs_wide_arithmetic_and_the_baseline_does_not() {
    let compile = |wasm: &str, wide: bool| {
        let mut config = wasmtime::Config::new();
        config.wasm_wide_arithmetic(wide);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let bytes = std::fs::read(wasm).unwrap();
        wasmtime::component::Component::new(&engine, bytes).map(drop)
    };
    let refused = compile(env!("TLSBOX_GUEST_WASM"), false)
        .expect_err("the embedded build must use wide arithmetic");
    assert!(
        format!("{refused:?}").contains("wide arithmetic"),
        "refused for another reason: {refused:?}"
    );
    compile(env!("TLSBOX_GUEST_WASM"), true).expect("the engine with the proposal runs it");
    compile(env!("TLSBOX_BASELINE_WASM"), false).expect("the baseline needs no proposal");
}
