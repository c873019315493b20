//! `tlsbox run`: a `wasi:cli/command` that speaks `wasi:tls@0.2.0-draft` and knows nothing
//! of tlsbox (`wasi/tls-get`), run with wasi:tls served by tlsbox: a page byte for byte from
//! `openssl s_server -WWW` verified through `SSL_CERT_FILE` alone, `--ca` in its place, an
//! untrusted server refused (exit 1, the error named, alert 48 in s_server's log), a refused
//! port, and a trapping command (a clear message, exit 134 as `wasmtime run` gives).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tlsbox_test_support::peers::{
    CertKind, Pki, assert_alert_logged, assert_served, page, s_server, unused_port,
};

const BIN: &str = env!("CARGO_BIN_EXE_tlsbox");

/// The `tls-get` component, built once per test run into its own target directory (the
/// workspace's root build script builds the same crate for the root package's tests).
fn tls_get() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = root.join("target").join("cli-tests");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .args(["build", "-p", "tlsbox-tls-get", "--release"])
            .args(["--target", "wasm32-wasip2", "--target-dir"])
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building tls-get failed");
        target.join("wasm32-wasip2/release/tls-get.wasm")
    })
}

fn run(args: &[&str], ssl_cert_file: Option<&Path>) -> Output {
    let mut command = Command::new(BIN);
    command.arg("run").args(args).env_remove("SSL_CERT_DIR");
    match ssl_cert_file {
        Some(file) => command.env("SSL_CERT_FILE", file),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_fetches_a_page_byte_for_byte_verified_through_ssl_cert_file() {
    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let body = page(pki.dir.path());
    let (mut server, port) = s_server(identity, "-WWW", pki.dir.path());
    let url = format!("https://localhost:{port}/page.txt");
    let app = tls_get().to_str().unwrap();
    let out = run(&[app, &url], Some(&identity.ca));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut expected = b"HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n".to_vec();
    expected.extend_from_slice(&body);
    assert!(out.stdout == expected, "{} bytes", out.stdout.len());
    assert_served(&mut server);
}

#[test]
fn run_with_ca_trusts_that_file_instead() {
    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let (mut server, port) = s_server(identity, "-www", pki.dir.path());
    let url = format!("https://localhost:{port}/");
    let ca = identity.ca.to_str().unwrap();
    // The system store names another CA: `--ca` replaces it.
    let other = pki.get(CertKind::Rsa).ca.clone();
    let out = run(
        &["--ca", ca, tls_get().to_str().unwrap(), &url],
        Some(&other),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("HTTP/1.0 200 ok\r\n"));
    assert_served(&mut server);
}

#[test]
fn run_refuses_an_untrusted_server_and_says_so_on_the_wire() {
    let pki = Pki::generate();
    let (server, port) = s_server(pki.get(CertKind::Ecdsa), "-www", pki.dir.path());
    let url = format!("https://localhost:{port}/");
    let out = run(
        &[tls_get().to_str().unwrap(), &url],
        Some(&pki.get(CertKind::Rsa).ca),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr
            .starts_with("tls-get: handshake failed: protocol/untrusted-certificate (alert 48): "),
        "{stderr}"
    );
    assert_alert_logged(&server, 48);
}

#[test]
fn run_reports_a_refused_port() {
    let port = unused_port();
    let url = format!("https://127.0.0.1:{port}/");
    let out = run(&[tls_get().to_str().unwrap(), &url], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("tls-get: connect 127.0.0.1:{port}: connection-refused\n")
    );
}

/// A `wasi:cli/command` whose `run` executes `unreachable`.
const TRAPPING_COMMAND: &str = r#"
(component
  (core module $m (func (export "run") (result i32) unreachable))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))
"#;

#[test]
fn a_trapping_command_is_a_clear_message_and_exit_134() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("trap.wasm");
    std::fs::write(&app, wat::parse_str(TRAPPING_COMMAND).unwrap()).unwrap();
    let out = run(&[app.to_str().unwrap()], None);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(134), "{stderr}");
    assert!(
        stderr.starts_with(&format!("tlsbox run: {} trapped: ", app.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unreachable"), "{stderr}");

    // Not a component at all: a message, exit 1.
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").unwrap();
    let out = run(&[junk.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with(&format!("tlsbox: loading {}", junk.display())));
}
