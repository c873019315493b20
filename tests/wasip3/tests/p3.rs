//! `wasi:tls@0.3.0-draft` for the `tls-get-p3` application (wasi:sockets@0.3.0 and
//! wasi:tls@0.3.0-draft only, an async `wasi:cli/run@0.3.0`) in a wasmtime embedding with
//! component-model async and WASI 0.2 and 0.3, two ways:
//!
//! - served by the host: wasmtime-wasi-tls's `p3` module with `tlsbox::WasiTlsProvider`;
//! - exported by a composition: the application with `tlsbox-wasi-tls-p3` plugged in (the
//!   endpoint, the WASI adapter and the wasi:tls provider component), on a host with no
//!   wasi:tls at all.
//!
//! Each: a page byte for byte from `openssl s_server -WWW`, and an untrusted server refused
//! with the error named and alert 48 on the wire. The components' paths come from the root
//! package's build (`TLSBOX_TLS_GET_P3_WASM`, `TLSBOX_TLS_GET_P3_COMPOSED_WASM`, set by
//! `tests/wasi_tls_p3.rs`).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use tlsbox::{Config, Runtime, WasiTlsProvider};
use tlsbox_test_support::embedding::{Ctx, WasiOnly, exit_status};
use tlsbox_test_support::peers::{
    CertKind, Pki, assert_alert_logged, assert_served, page, s_server,
};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{FsPerms, WasiView};
use wasmtime_wasi_tls::TlsProvider;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The component whose path the build put in `var`, in an engine with component-model async.
fn load(var: &str) -> (Engine, Component) {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config).unwrap();
    let path = std::env::var(var).unwrap_or_else(|_| panic!("{var} set by tests/wasi_tls_p3.rs"));
    let component = Component::from_file(&engine, path).unwrap();
    (engine, component)
}

/// A linker with WASI 0.2 (std in the guest still writes through it) and 0.3.
fn wasi_linker<T: WasiView + 'static>(engine: &Engine) -> Linker<T> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi::p3::add_to_linker(&mut linker).unwrap();
    linker
}

/// Runs `component`'s async `wasi:cli/run` in a store holding `ctx`; its exit status.
async fn run<T: Send + 'static>(
    engine: &Engine,
    component: &Component,
    linker: &Linker<T>,
    ctx: T,
) -> i32 {
    let mut store = Store::new(engine, ctx);
    let command =
        wasmtime_wasi::p3::bindings::Command::instantiate_async(&mut store, component, linker)
            .await
            .expect("tls-get-p3 instantiates");
    let result = store
        .run_concurrent(async move |store| command.wasi_cli_run().call_run(store).await)
        .await;
    exit_status(result.and_then(|r| r))
}

/// `tls-get-p3` as built, fetching `url`, with wasi:tls 0.3 served by wasmtime-wasi-tls's
/// `p3` module and `provider`.
async fn get_p3(url: &str, provider: Box<dyn TlsProvider>) -> Run {
    let (engine, component) = load("TLSBOX_TLS_GET_P3_WASM");
    let mut linker = wasi_linker(&engine);
    wasmtime_wasi_tls::p3::add_to_linker(&mut linker).unwrap();
    let (ctx, output) = Ctx::new(&["tls-get-p3", url], provider);
    let status = run(&engine, &component, &linker, ctx).await;
    let (stdout, stderr) = output.take();
    (status, stdout, stderr)
}

/// What a test run of `tls-get-p3` gives back: (status, stdout, stderr).
type Run = (i32, Vec<u8>, String);

/// `tls-get-p3` fetching `url` through the host's provider, trusting `ca` (a PEM file).
fn through_the_provider(url: &str, ca: &Path) -> Run {
    let provider = WasiTlsProvider::with_config(
        &Runtime::shared().unwrap(),
        Config::client("x").trust(std::fs::read(ca).unwrap()),
    );
    runtime().block_on(get_p3(url, Box::new(provider)))
}

/// The composed `tls-get-p3` fetching `url` on a host without wasi:tls, trusting `ca`.
fn composed(url: &str, ca: &Path) -> Run {
    runtime().block_on(get_composed(&[url], ca))
}

/// The same with `--sequential`: `connect` awaited alone, then the whole request, the whole
/// response, and the streams' results last.
fn composed_sequential(url: &str, ca: &Path) -> Run {
    runtime().block_on(get_composed(&["--sequential", url], ca))
}

/// `get` fetches a 100,000-byte file from `openssl s_server -WWW`, byte for byte.
fn page_byte_for_byte(get: fn(&str, &Path) -> Run) {
    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let body = page(pki.dir.path());
    let (mut server, port) = s_server(identity, "-WWW", pki.dir.path());
    let (status, stdout, stderr) = get(&format!("https://localhost:{port}/page.txt"), &identity.ca);
    assert_eq!(status, 0, "{stderr}");
    let mut expected = b"HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n".to_vec();
    expected.extend_from_slice(&body);
    assert!(
        stdout == expected,
        "{} bytes: {}",
        stdout.len(),
        String::from_utf8_lossy(&stdout[..stdout.len().min(200)])
    );
    assert_served(&mut server);
}

/// `get`, trusting another CA than the server's (which the Mozilla set does not know either),
/// is refused: exit 1, the error named, and alert 48 in s_server's log.
fn untrusted_refused(get: fn(&str, &Path) -> Run) {
    let pki = Pki::generate();
    let (server, port) = s_server(pki.get(CertKind::Ecdsa), "-www", pki.dir.path());
    let (status, stdout, stderr) = get(
        &format!("https://localhost:{port}/"),
        &pki.get(CertKind::Rsa).ca,
    );
    assert_eq!(status, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with(
            "tls-get-p3: handshake failed: protocol/untrusted-certificate (alert 48): "
        ),
        "{stderr}"
    );
    assert_alert_logged(&server, 48);
}

#[test]
fn a_wasip3_application_gets_a_page_byte_for_byte_through_the_provider() {
    page_byte_for_byte(through_the_provider);
}

#[test]
fn a_wasip3_application_sees_an_untrusted_server_refused() {
    untrusted_refused(through_the_provider);
}

/// The composed `tls-get-p3` (the application with tlsbox's wasi:tls provider plugged in),
/// run with `args`, on a host with WASI 0.2 and 0.3 and no wasi:tls, with `SSL_CERT_FILE`
/// naming `ca` (its directory preopened at the same path).
async fn get_composed(args: &[&str], ca: &Path) -> Run {
    let (engine, component) = load("TLSBOX_TLS_GET_P3_COMPOSED_WASM");
    // Nothing of wasi:tls is left to import: the composition carries it.
    assert_imports_wasi_but_not_tls(&engine, &component);
    let dir = ca.parent().unwrap();
    let (ctx, output) = WasiOnly::new(&[&["tls-get-p3"], args].concat(), |wasi| {
        wasi.env("SSL_CERT_FILE", ca.to_str().unwrap())
            .preopened_dir(dir, dir.to_str().unwrap(), FsPerms::ReadOnly)
            .unwrap();
    });
    let status = run(&engine, &component, &wasi_linker(&engine), ctx).await;
    let (stdout, stderr) = output.take();
    (status, stdout, stderr)
}

#[test]
fn the_provider_composition_exports_wasi_tls_and_imports_only_wasi() {
    let (engine, component) = load("TLSBOX_WASI_TLS_P3_WASM");
    let ty = component.component_type();
    let mut exports: Vec<&str> = ty.exports(&engine).map(|(name, _)| name).collect();
    exports.sort_unstable();
    assert_eq!(
        exports,
        ["wasi:tls/client@0.3.0-draft", "wasi:tls/types@0.3.0-draft"]
    );
    assert_imports_wasi_but_not_tls(&engine, &component);
}

fn assert_imports_wasi_but_not_tls(engine: &Engine, component: &Component) {
    let ty = component.component_type();
    let imports: Vec<&str> = ty.imports(engine).map(|(name, _)| name).collect();
    assert!(
        imports
            .iter()
            .all(|name| name.starts_with("wasi:") && !name.starts_with("wasi:tls")),
        "{imports:?}"
    );
}

#[test]
fn a_composed_wasip3_application_gets_a_page_byte_for_byte_without_host_wasi_tls() {
    page_byte_for_byte(composed);
}

#[test]
fn a_sequential_composed_wasip3_application_gets_the_page_too() {
    page_byte_for_byte(composed_sequential);
}

#[test]
fn a_composed_wasip3_application_sees_an_untrusted_server_refused() {
    untrusted_refused(composed);
}

#[test]
fn a_composed_wasip3_application_sees_a_refused_port() {
    let pki = Pki::generate();
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}/");
    let (status, stdout, stderr) = composed(&url, &pki.get(CertKind::Ecdsa).ca);
    assert_eq!(status, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert_eq!(
        stderr,
        format!("tls-get-p3: connect 127.0.0.1:{port}: ErrorCode::ConnectionRefused\n")
    );
}

#[test]
fn a_composed_wasip3_application_sees_a_garbage_server_refused_with_an_alert() {
    // A server that answers the ClientHello with plain HTTP: the handshake fails with a
    // protocol error, and the alert the error names is the last thing the client sends.
    let pki = Pki::generate();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut hello = [0u8; 5];
        tcp.read_exact(&mut hello).unwrap();
        let mut body = vec![0u8; usize::from(u16::from_be_bytes([hello[3], hello[4]]))];
        tcp.read_exact(&mut body).unwrap();
        tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest);
        (hello[0], rest)
    });
    let url = format!("https://localhost:{port}/");
    let (status, stdout, stderr) = composed(&url, &pki.get(CertKind::Ecdsa).ca);
    let (first, rest) = server.join().unwrap();
    assert_eq!(first, 22, "a handshake record came first");
    assert_eq!(status, 1, "{stderr}");
    assert!(stdout.is_empty());
    let prefix = "tls-get-p3: handshake failed: protocol/";
    assert!(stderr.starts_with(prefix), "{stderr}");
    let alert: u8 = stderr
        .split_once("(alert ")
        .and_then(|(_, tail)| tail.split_once(')'))
        .and_then(|(code, _)| code.parse().ok())
        .unwrap_or_else(|| panic!("no alert named: {stderr}"));
    // One fatal alert record, in the clear (no keys yet): 21, version, length 2, level 2.
    assert_eq!(rest.len(), 7, "{rest:?}");
    assert_eq!(
        (rest[0], rest[3], rest[4], rest[5], rest[6]),
        (21, 0, 2, 2, alert)
    );
}
