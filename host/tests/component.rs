//! The component a packaged `tlsbox` ships (`component/tlsbox.wasm`) is the one the
//! workspace builds from `guest/`: the build is reproducible, so the two must be identical
//! byte for byte. When this fails after a change to the guest or its dependencies, refresh
//! the shipped copy: `TLSBOX_REFRESH_COMPONENT=1 cargo build -p tlsbox`.

use std::path::Path;

fn digest(bytes: &[u8]) -> String {
    // FNV-1a, only to name the two versions in the message; equality is checked in full.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{} bytes, fnv1a {hash:016x}", bytes.len())
}

#[test]
fn the_shipped_component_is_the_one_built_from_source() {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let embedded = Path::new(env!("TLSBOX_GUEST_WASM"));
    let shipped = package.join("component").join("tlsbox.wasm");
    assert!(
        package.join("../guest/Cargo.toml").exists(),
        "run in the workspace, where the guest's sources are"
    );
    assert_ne!(
        embedded.canonicalize().unwrap(),
        shipped.canonicalize().unwrap(),
        "in the workspace the host embeds the guest built from source"
    );
    let built = std::fs::read(embedded).expect("the build script built the guest");
    let ours = std::fs::read(&shipped).expect("component/tlsbox.wasm is in the repository");
    assert!(
        built == ours,
        "component/tlsbox.wasm ({}) is not the guest built from source ({}): refresh it with \
         `TLSBOX_REFRESH_COMPONENT=1 cargo build -p tlsbox`",
        digest(&ours),
        digest(&built)
    );
}
