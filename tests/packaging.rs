//! What a user outside this repository gets: the `tlsbox` crate as `cargo package` makes it
//! (with the shipped component, no guest sources), built in a fresh project that depends on
//! the unpacked `.crate`, and the Node package as `npm pack` makes it, installed into a fresh
//! Node project. Each talks TLS to `openssl s_server` on loopback.
//!
//! The fresh Cargo project uses this workspace's lockfile and profiles and builds offline
//! into its own target directory under `target/` (kept between runs); the fresh Node project
//! installs the tarball offline from the npm cache `npm ci` in `js/` filled.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::peers::{CertKind, Pki, assert_served, s_server};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `command`, failing the test with its output unless it succeeds.
fn run(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    let out = command.output().unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // The outer build's settings are not the fresh project's.
    for var in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
    ] {
        command.env_remove(var);
    }
    command
}

const CONSUMER: &str = r#"
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (addr, ca) = (args.next().unwrap(), args.next().unwrap());
    let config = tlsbox::Config::client("localhost").trust(std::fs::read(ca)?);
    let connector = tlsbox::TlsConnector::new(&tlsbox::Runtime::shared()?, config);
    let mut tls = connector.connect(tokio::net::TcpStream::connect(addr).await?).await?;
    let info = tls.session_info().await?;
    println!("{} {}", info.version.name(), info.cipher_suite.name());
    tls.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
    let mut page = Vec::new();
    tls.read_to_end(&mut page).await?;
    print!("{}", String::from_utf8_lossy(&page));
    Ok(())
}
"#;

#[test]
fn a_fresh_cargo_project_builds_against_the_packaged_crate_and_talks_tls() {
    let target = root().join("target");
    let out = target.join("packaging");
    run(cargo()
        .current_dir(root())
        .args(["package", "-p", "tlsbox", "-p", "tlsbox-cli"])
        .args(["--no-verify", "--allow-dirty", "--offline", "--target-dir"])
        .arg(&out));
    let crate_file = out.join("package").join("tlsbox-0.1.0.crate");
    let listing = run(Command::new("tar").arg("tzf").arg(&crate_file));
    let listing = String::from_utf8_lossy(&listing.stdout);
    for shipped in ["tlsbox.wasm", "tlsbox-wide.wasm"] {
        assert!(
            listing.contains(&format!("tlsbox-0.1.0/component/{shipped}")),
            "{listing}"
        );
    }
    assert!(listing.contains("tlsbox-0.1.0/wit/tls.wit"), "{listing}");
    assert!(
        !listing.contains("guest/"),
        "no guest sources in the package: {listing}"
    );

    let scratch = tempfile::tempdir().unwrap();
    run(Command::new("tar")
        .arg("xzf")
        .arg(&crate_file)
        .arg("-C")
        .arg(scratch.path()));
    let project = scratch.path().join("consumer");
    fs::create_dir_all(project.join("src")).unwrap();
    let manifest = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let profiles = &manifest[manifest.find("[profile.dev]").expect("profiles")..];
    fs::write(
        project.join("Cargo.toml"),
        format!(
            "[package]\nname = \"consumer\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
             [dependencies]\ntlsbox = {{ path = {:?} }}\n\
             tokio = {{ version = \"1.47\", features = [\"rt\", \"net\", \"macros\", \"io-util\"] }}\n\n\
             [workspace]\n\n{profiles}",
            scratch.path().join("tlsbox-0.1.0")
        ),
    )
    .unwrap();
    fs::write(project.join("src/main.rs"), CONSUMER).unwrap();
    fs::copy(root().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    run(cargo()
        .current_dir(&project)
        .args(["build", "--offline", "--target-dir"])
        .arg(target.join("consumer")));

    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let (mut server, port) = s_server(identity, "-www", pki.dir.path());
    let out = run(Command::new(target.join("consumer/debug/consumer"))
        .arg(format!("127.0.0.1:{port}"))
        .arg(&identity.ca));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("TLSv1.3 TLS_CHACHA20_POLY1305_SHA256\nHTTP/1.0 200 ok\r\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Cipher is TLS_CHACHA20_POLY1305_SHA256"),
        "{stdout}"
    );
    assert_served(&mut server);
}

fn npm(dir: &Path, args: &[&str]) -> Output {
    run(Command::new("npm").current_dir(dir).args(args))
}

const NODE_CLIENT: &str = r#"
import { readFileSync } from 'node:fs';
import { connect } from 'tlsbox';
const [port, ca] = process.argv.slice(2);
const tls = await connect({ host: '127.0.0.1', port: Number(port), servername: 'localhost',
  ca: readFileSync(ca) });
tls.write('GET / HTTP/1.0\r\n\r\n');
const chunks = [];
for await (const chunk of tls) chunks.push(chunk);
process.stdout.write(Buffer.concat(chunks));
"#;

#[test]
fn a_fresh_node_project_installs_the_packed_tarball_and_talks_tls() {
    let js = root().join("js");
    npm(&js, &["ci", "--no-audit", "--no-fund"]);
    npm(&js, &["run", "build"]);
    let scratch = tempfile::tempdir().unwrap();
    // The tarball, and the runtime dependencies `npm ci` put in js/node_modules, packed the
    // same way: the fresh project installs them all from files, with no registry.
    let mut tarballs = Vec::new();
    let lock: serde_json::Value =
        serde_json::from_slice(&fs::read(js.join("package-lock.json")).unwrap()).unwrap();
    let runtime_deps = lock["packages"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, entry)| !path.is_empty() && entry.get("dev").is_none())
        .map(|(path, _)| js.join(path))
        .filter(|dir| dir.exists());
    for dir in std::iter::once(js.clone()).chain(runtime_deps) {
        let out = run(Command::new("npm")
            .current_dir(&js)
            .args(["pack", "--json", "--pack-destination"])
            .arg(scratch.path())
            .arg(&dir));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        tarballs.push(scratch.path().join(json[0]["filename"].as_str().unwrap()));
    }
    assert!(tarballs.len() > 1, "the package has runtime dependencies");
    let project = scratch.path().join("app");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("package.json"),
        r#"{ "name": "app", "version": "0.0.0", "private": true, "type": "module" }"#,
    )
    .unwrap();
    run(Command::new("npm")
        .current_dir(&project)
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .args(&tarballs));
    assert!(
        !project.join("node_modules/tlsbox/test").exists(),
        "tests are not shipped"
    );
    fs::write(project.join("client.mjs"), NODE_CLIENT).unwrap();

    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let (mut server, port) = s_server(identity, "-www", pki.dir.path());
    let out = run(Command::new("node")
        .current_dir(&project)
        .arg("client.mjs")
        .arg(port.to_string())
        .arg(&identity.ca));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.starts_with("HTTP/1.0 200 ok\r\n"), "{page}");
    assert!(
        page.contains("New, TLSv1.3, Cipher is TLS_CHACHA20_POLY1305_SHA256"),
        "{page}"
    );
    assert_served(&mut server);
}
