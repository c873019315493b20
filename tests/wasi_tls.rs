//! `wasi:tls` from the sandbox: the `tls-get` application (wasi:sockets and
//! wasi:tls@0.2.0-draft only, nothing of tlsbox) in a plain wasmtime embedding whose
//! wasi:tls provider is `tlsbox::WasiTlsProvider`: a page byte for byte from `openssl
//! s_server -WWW` verified through the system store (`SSL_CERT_FILE` only), an untrusted
//! server refused with the error named and alert 48 on the wire, a refused port, and 100
//! sequential plus 100 concurrent connections whose instances are all reclaimed.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::peers::{CertKind, Pki, assert_served, s_server};
use tlsbox::{Config, Runtime, WasiTlsProvider};
use tlsbox_test_support::embedding::{Ctx, exit_status};
use tlsbox_test_support::peers::{assert_alert_logged, page, unused_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::Command as WasiCommand;
use wasmtime_wasi_tls::TlsProvider;

const TLS_GET: &str = env!("TLSBOX_TLS_GET_WASM");

/// The application compiled once, and a linker with WASI and wasi:tls.
struct App {
    engine: Engine,
    component: Component,
    linker: Linker<Ctx>,
}

impl App {
    fn load() -> App {
        let engine = Engine::default();
        let component = Component::from_file(&engine, TLS_GET).expect("tls-get loads");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        let mut options = wasmtime_wasi_tls::p2::LinkOptions::default();
        options.tls(true);
        wasmtime_wasi_tls::p2::add_to_linker(&mut linker, &options).unwrap();
        App {
            engine,
            component,
            linker,
        }
    }

    /// Runs `tls-get url` with `provider` serving wasi:tls; (status, stdout, stderr).
    async fn get(&self, url: &str, provider: Box<dyn TlsProvider>) -> (i32, Vec<u8>, String) {
        let (ctx, output) = Ctx::new(&["tls-get", url], provider);
        let mut store = Store::new(&self.engine, ctx);
        let command = WasiCommand::instantiate_async(&mut store, &self.component, &self.linker)
            .await
            .expect("tls-get instantiates");
        let status = exit_status(command.wasi_cli_run().call_run(&mut store).await);
        drop(store);
        let (stdout, stderr) = output.take();
        (status, stdout, stderr)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The child half of the `SSL_CERT_FILE` test: run with that variable set, by the parent.
const CHILD_URL: &str = "TLSBOX_WASI_TLS_CHILD_URL";
const CHILD_OUT: &str = "TLSBOX_WASI_TLS_CHILD_OUT";

#[test]
fn the_provider_verifies_through_the_system_store_and_fetches_byte_for_byte() {
    if let (Ok(url), Ok(out)) = (std::env::var(CHILD_URL), std::env::var(CHILD_OUT)) {
        // The child: the provider with its defaults, so the system store, which
        // SSL_CERT_FILE (set by the parent, read once per process) names.
        let app = App::load();
        let provider = WasiTlsProvider::new(&Runtime::shared().unwrap());
        let (status, stdout, stderr) = runtime().block_on(app.get(&url, Box::new(provider)));
        assert_eq!(status, 0, "{stderr}");
        std::fs::write(out, stdout).unwrap();
        return;
    }
    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let body = page(pki.dir.path());
    let (mut server, port) = s_server(identity, "-WWW", pki.dir.path());
    let out = pki.dir.path().join("child.out");
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_provider_verifies_through_the_system_store_and_fetches_byte_for_byte",
            "--nocapture",
        ])
        .env(CHILD_URL, format!("https://localhost:{port}/page.txt"))
        .env(CHILD_OUT, &out)
        .env("SSL_CERT_FILE", &identity.ca)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    let mut expected = b"HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n".to_vec();
    expected.extend_from_slice(&body);
    let got = std::fs::read(&out).unwrap();
    assert!(
        got == expected,
        "{} bytes, starting {:?}",
        got.len(),
        &got[..got.len().min(80)]
    );
    assert_served(&mut server);
}

#[test]
fn an_untrusted_server_is_refused_with_the_error_named_and_its_alert_on_the_wire() {
    let pki = Pki::generate();
    let (server, port) = s_server(pki.get(CertKind::Ecdsa), "-www", pki.dir.path());
    // The RSA kind's CA did not sign the ECDSA server's certificate.
    let other_ca = std::fs::read(&pki.get(CertKind::Rsa).ca).unwrap();
    let provider = WasiTlsProvider::with_config(
        &Runtime::shared().unwrap(),
        Config::client("x").trust(other_ca),
    );
    let (status, stdout, stderr) = runtime()
        .block_on(App::load().get(&format!("https://localhost:{port}/"), Box::new(provider)));
    assert_eq!(status, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr
            .starts_with("tls-get: handshake failed: protocol/untrusted-certificate (alert 48): "),
        "{stderr}"
    );
    assert_alert_logged(&server, 48);
}

#[test]
fn a_refused_port_is_reported() {
    let port = unused_port();
    let provider = WasiTlsProvider::new(&Runtime::shared().unwrap());
    let (status, _, stderr) = runtime()
        .block_on(App::load().get(&format!("https://127.0.0.1:{port}/"), Box::new(provider)));
    assert_eq!(status, 1);
    assert_eq!(
        stderr,
        format!("tls-get: connect 127.0.0.1:{port}: connection-refused\n")
    );
}

/// Resident memory of this process, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A native tokio-rustls HTTPS server answering every connection with `body`.
async fn serve(listener: tokio::net::TcpListener, body: &'static [u8]) {
    let pki = common::pki();
    let acceptor =
        tokio_rustls::TlsAcceptor::from(common::native_server(pki, common::ring_provider(None)));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let mut tls = acceptor.accept(tcp).await?;
            let mut request = Vec::new();
            let mut buf = [0; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = tls.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            tls.write_all(head.as_bytes()).await?;
            tls.write_all(body).await?;
            tls.shutdown().await
        });
    }
}

#[test]
fn a_hundred_sequential_and_a_hundred_concurrent_connections_reclaim_their_instances() {
    static BODY: &[u8] = b"one embedding, many connections\n";
    let expected = [
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", BODY.len()).as_bytes(),
        BODY,
    ]
    .concat();
    let rt = runtime();
    let tlsbox = Runtime::new(tlsbox::Limits::default()).unwrap();
    let provider = || {
        let config = Config::client("x").trust(common::pki().ca_pem.as_bytes());
        Box::new(WasiTlsProvider::with_config(&tlsbox, config)) as Box<dyn TlsProvider>
    };
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!(
        "https://localhost:{}/",
        listener.local_addr().unwrap().port()
    );
    rt.spawn(serve(listener, BODY));
    let app = Arc::new(App::load());

    // Warm up (code, pools, the allocator), then measure from there.
    let (status, stdout, stderr) = rt.block_on(app.get(&url, provider()));
    assert_eq!((status, stdout), (0, expected.clone()), "{stderr}");
    let baseline = rss();

    for i in 0..100 {
        let (status, stdout, stderr) = rt.block_on(app.get(&url, provider()));
        assert_eq!(
            (status, &stdout),
            (0, &expected),
            "sequential {i}: {stderr}"
        );
    }
    assert_eq!(
        tlsbox.instances(),
        0,
        "every sequential connection's instance is gone"
    );
    let after_sequential = rss();

    let runs: Vec<_> = (0..100)
        .map(|_| {
            let (app, url, provider) = (app.clone(), url.clone(), provider());
            rt.spawn(async move { app.get(&url, provider).await })
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        let (status, stdout, stderr) = rt.block_on(run).unwrap();
        assert_eq!(
            (status, &stdout),
            (0, &expected),
            "concurrent {i}: {stderr}"
        );
    }
    assert_eq!(
        tlsbox.instances(),
        0,
        "every concurrent connection's instance is gone"
    );
    let after_concurrent = rss();
    println!(
        "RSS: {} KiB after warm-up, {} KiB after 100 sequential, {} KiB after 100 concurrent",
        baseline >> 10,
        after_sequential >> 10,
        after_concurrent >> 10
    );
    // Back to baseline, give or take the allocator: a leak of one instance per connection
    // (at least 256 KiB of linear memory each) would be 50 MiB here.
    for after in [after_sequential, after_concurrent] {
        assert!(
            after < baseline + (32 << 20),
            "RSS grew from {} to {} KiB",
            baseline >> 10,
            after >> 10
        );
    }
}
