//! `wasi:tls@0.3.0-draft` served by `tlsbox::WasiTlsProvider`: the `tls-get-p3` application
//! (wasi:sockets@0.3.0 and wasi:tls@0.3.0-draft only, an async `wasi:cli/run@0.3.0`) in a
//! wasmtime embedding with component-model async, WASI 0.2 and 0.3, and wasmtime-wasi-tls's
//! `p3` module: a page byte for byte from `openssl s_server -WWW`, and an untrusted server
//! refused with the error named and alert 48 on the wire. The component's path comes from
//! the root package's build (`TLSBOX_TLS_GET_P3_WASM`, set by `tests/wasi_tls_p3.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use tlsbox::{Config, Runtime, WasiTlsProvider};
use tlsbox_test_support::peers::{CertKind, Pki, assert_served, s_server};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_tls::{TlsProvider, WasiTlsCtx, WasiTlsCtxBuilder, WasiTlsCtxView, WasiTlsView};

/// The embedding's store: WASI and wasi:tls.
struct Ctx {
    table: ResourceTable,
    wasi: WasiCtx,
    tls: WasiTlsCtx,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiTlsView for Ctx {
    fn tls(&mut self) -> WasiTlsCtxView<'_> {
        WasiTlsCtxView {
            ctx: &mut self.tls,
            table: &mut self.table,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// 100,000 bytes of text, written to `dir/page.txt` for `s_server -WWW`.
fn page(dir: &Path) -> Vec<u8> {
    let body: Vec<u8> = (0..100_000u32)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    std::fs::write(dir.join("page.txt"), &body).unwrap();
    body
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
    let (stdout, stderr) = (
        MemoryOutputPipe::new(16 << 20),
        MemoryOutputPipe::new(1 << 20),
    );
    let mut wasi = WasiCtx::builder();
    wasi.args(&["tls-get-p3", url])
        .inherit_network()
        .allow_tcp(true)
        .allow_ip_name_lookup(true)
        .stdout(stdout.clone())
        .stderr(stderr.clone());
    let ctx = Ctx {
        table: ResourceTable::new(),
        wasi: wasi.build(),
        tls: WasiTlsCtxBuilder::new().provider(provider).build(),
    };
    let mut store = Store::new(&engine, ctx);
    let command =
        wasmtime_wasi::p3::bindings::Command::instantiate_async(&mut store, &component, &linker)
            .await
            .expect("tls-get-p3 instantiates");
    let result = store
        .run_concurrent(async move |store| command.wasi_cli_run().call_run(store).await)
        .await;
    let status = match result {
        Ok(Ok(Ok(()))) => 0,
        Ok(Ok(Err(()))) => 1,
        Ok(Err(e)) | Err(e) => e.downcast_ref::<I32Exit>().expect("an exit, not a trap").0,
    };
    drop(store);
    (
        status,
        stdout.contents().to_vec(),
        String::from_utf8_lossy(&stderr.contents()).into_owned(),
    )
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
