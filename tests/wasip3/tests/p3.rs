//! `wasi:tls@0.3.0-draft` served by `tlsbox::WasiTlsProvider`: the `tls-get-p3` application
//! (wasi:sockets@0.3.0 and wasi:tls@0.3.0-draft only, an async `wasi:cli/run@0.3.0`) in a
//! wasmtime embedding with component-model async, WASI 0.2 and 0.3, and wasmtime-wasi-tls's
//! `p3` module: a page byte for byte from `openssl s_server -WWW`, and an untrusted server
//! refused with the error named and alert 48 on the wire. The component's path comes from
//! the root package's build (`TLSBOX_TLS_GET_P3_WASM`, set by `tests/wasi_tls_p3.rs`).

use std::time::{Duration, Instant};

use tlsbox::{Config, Runtime, WasiTlsProvider};
use tlsbox_test_support::embedding::{Ctx, exit_status};
use tlsbox_test_support::peers::{CertKind, Pki, assert_served, page, s_server};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi_tls::TlsProvider;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `tls-get-p3` (WASIp3: wasi:sockets@0.3.0 and wasi:tls@0.3.0-draft, async `run`) in an
/// embedding with component-model async on, WASI 0.2 and 0.3, and wasi:tls 0.3 from
/// wasmtime-wasi-tls's `p3` module with tlsbox's provider; (status, stdout, stderr).
async fn get_p3(url: &str, provider: Box<dyn TlsProvider>) -> (i32, Vec<u8>, String) {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config).unwrap();
    let component = Component::from_file(
        &engine,
        std::env::var("TLSBOX_TLS_GET_P3_WASM").expect("set by tests/wasi_tls_p3.rs"),
    )
    .unwrap();
    let mut linker = Linker::new(&engine);
    // std in the guest still writes through WASI 0.2.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi::p3::add_to_linker(&mut linker).unwrap();
    wasmtime_wasi_tls::p3::add_to_linker(&mut linker).unwrap();
    let (ctx, output) = Ctx::new(&["tls-get-p3", url], provider);
    let mut store = Store::new(&engine, ctx);
    let command =
        wasmtime_wasi::p3::bindings::Command::instantiate_async(&mut store, &component, &linker)
            .await
            .expect("tls-get-p3 instantiates");
    let result = store
        .run_concurrent(async move |store| command.wasi_cli_run().call_run(store).await)
        .await;
    let status = exit_status(result.and_then(|r| r));
    drop(store);
    let (stdout, stderr) = output.take();
    (status, stdout, stderr)
}

#[test]
fn a_wasip3_application_gets_a_page_byte_for_byte_through_the_provider() {
    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let body = page(pki.dir.path());
    let (mut server, port) = s_server(identity, "-WWW", pki.dir.path());
    let ca = std::fs::read(&identity.ca).unwrap();
    let provider =
        WasiTlsProvider::with_config(&Runtime::shared().unwrap(), Config::client("x").trust(ca));
    let url = format!("https://localhost:{port}/page.txt");
    let (status, stdout, stderr) = runtime().block_on(get_p3(&url, Box::new(provider)));
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

#[test]
fn a_wasip3_application_sees_an_untrusted_server_refused() {
    let pki = Pki::generate();
    let (mut server, port) = s_server(pki.get(CertKind::Ecdsa), "-www", pki.dir.path());
    let other_ca = std::fs::read(&pki.get(CertKind::Rsa).ca).unwrap();
    let provider = WasiTlsProvider::with_config(
        &Runtime::shared().unwrap(),
        Config::client("x").trust(other_ca),
    );
    let url = format!("https://localhost:{port}/");
    let (status, stdout, stderr) = runtime().block_on(get_p3(&url, Box::new(provider)));
    assert_eq!(status, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with(
            "tls-get-p3: handshake failed: protocol/untrusted-certificate (alert 48): "
        ),
        "{stderr}"
    );
    let _ = server.wait_until(Instant::now() + Duration::from_secs(20));
    assert!(
        server.output().contains("alert number 48"),
        "{}",
        server.output()
    );
}
