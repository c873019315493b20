//! TLS for any component on a stock WASI host: the endpoint composed with the WASI transport
//! adapter (`target/guest-wasm/composed/tlsbox-wasi.wasm`) and, on top, the `https-get`
//! application (`.../https-get.wasm`), both made by the root build script with wac-graph.
//! The command runs on wasmtime-wasi's standard linker alone (the `wasi-https-get` example's
//! runner) against `openssl s_server` on loopback, started and stopped here, and against a
//! native rustls server that closes without close_notify.

#[path = "../examples/wasi_https_get/command.rs"]
mod command;
mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::peers::{CertKind, Pki, assert_served, s_server};
use tlsbox_test_support::peers::page;
use wasmtime::Engine;
use wasmtime::component::Component;

const TLSBOX_WASI: &str = env!("TLSBOX_WASI_WASM");
const HTTPS_GET: &str = env!("TLSBOX_HTTPS_GET_WASM");

/// Import and export names of a component, as a stock host sees them.
fn interface(path: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let engine = Engine::default();
    let component = Component::from_file(&engine, path).expect("the composition loads");
    let ty = component.component_type();
    let imports = ty
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports = ty
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    (imports, exports)
}

#[test]
fn the_compositions_import_only_wasi() {
    let (imports, exports) = interface(TLSBOX_WASI);
    let foreign: Vec<_> = imports.iter().filter(|n| !n.starts_with("wasi:")).collect();
    assert!(foreign.is_empty(), "tlsbox-wasi imports {foreign:?}");
    for needed in [
        "wasi:sockets/tcp@0.2.6",
        "wasi:sockets/ip-name-lookup@0.2.6",
        "wasi:random/random@0.2.6",
    ] {
        assert!(
            imports.contains(needed),
            "tlsbox-wasi lacks {needed}: {imports:?}"
        );
    }
    let expected: BTreeSet<String> = [
        "tlsbox:tls/types@0.1.0",
        "tlsbox:tls/transport@0.1.0",
        "tlsbox:tls/tls@0.1.0",
        "tlsbox:wasi/tcp@0.1.0",
    ]
    .map(String::from)
    .into();
    assert_eq!(exports, expected);

    let (imports, exports) = interface(HTTPS_GET);
    let foreign: Vec<_> = imports.iter().filter(|n| !n.starts_with("wasi:")).collect();
    assert!(foreign.is_empty(), "https-get imports {foreign:?}");
    assert_eq!(exports, BTreeSet::from(["wasi:cli/run@0.2.0".to_owned()]));
}

/// Runs the composed `https-get` against `url`, trusting `ca`, with output captured; gives
/// up after a minute (a hang is a failure, not a stuck test run).
fn https_get(url: &str, ca: &Path) -> command::Outcome {
    let args = vec![url.to_owned(), "--ca".to_owned(), ca.display().to_string()];
    let dir = ca.parent().expect("the CA file has a directory").to_owned();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(command::run(HTTPS_GET.as_ref(), &args, &dir, true));
    });
    let outcome = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("https-get finishes within a minute");
    outcome.expect("the command instantiates and runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn https_get_fetches_the_status_page_of_s_server_www() {
    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let (mut server, port) = s_server(identity, "-www", pki.dir.path());
    // By name: the adapter resolves `localhost` through wasi:sockets/ip-name-lookup.
    let outcome = https_get(&format!("https://localhost:{port}/"), &identity.ca);
    let page = text(&outcome.stdout);
    assert_eq!(outcome.status, 0, "stderr: {}", text(&outcome.stderr));
    assert!(
        page.starts_with("HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<HTML>"),
        "{page}"
    );
    // s_server reports the connection it served: TLS 1.3 with the suite tlsbox offers first.
    assert!(
        page.contains("\nNew, TLSv1.3, Cipher is TLS_CHACHA20_POLY1305_SHA256\n"),
        "{page}"
    );
    assert!(page.trim_end().ends_with("</pre></BODY></HTML>"), "{page}");
    assert_served(&mut server);
}

#[test]
fn https_get_fetches_a_file_from_s_server_www_byte_for_byte() {
    let pki = Pki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    // 100,000 bytes: several TLS records, and more than one read of the adapter's stream.
    let body = page(pki.dir.path());
    let (mut server, port) = s_server(identity, "-WWW", pki.dir.path());
    let outcome = https_get(&format!("https://127.0.0.1:{port}/page.txt"), &identity.ca);
    assert_eq!(outcome.status, 0, "stderr: {}", text(&outcome.stderr));
    let mut expected = b"HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n".to_vec();
    expected.extend_from_slice(&body);
    assert!(
        outcome.stdout == expected,
        "response: {:?}...",
        text(&outcome.stdout[..200.min(outcome.stdout.len())])
    );
    assert_served(&mut server);
}

#[test]
fn https_get_refuses_a_server_its_ca_did_not_sign_and_says_so_on_the_wire() {
    let pki = Pki::generate();
    let (server, port) = s_server(pki.get(CertKind::Ecdsa), "-www", pki.dir.path());
    // The RSA kind's CA did not sign the ECDSA server certificate.
    let outcome = https_get(
        &format!("https://127.0.0.1:{port}/"),
        &pki.get(CertKind::Rsa).ca,
    );
    let stderr = text(&outcome.stderr);
    assert_eq!(outcome.status, 1, "stderr: {stderr}");
    assert!(
        outcome.stdout.is_empty(),
        "stdout: {}",
        text(&outcome.stdout)
    );
    assert!(
        stderr.starts_with(
            "https-get: handshake failed: protocol/untrusted-certificate (alert 48): "
        ),
        "{stderr}"
    );
    // The alert reached the server: the endpoint's rfc policy writes it at once.
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = server.lines.wait_for("the alert", deadline, |line| {
        line.contains("alert unknown ca") && line.contains("SSL alert number 48")
    });
    assert!(seen.is_ok(), "s_server: {}", server.output());
}

#[test]
fn https_get_reports_a_refused_connection() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pki = Pki::generate();
    let outcome = https_get(
        &format!("https://127.0.0.1:{port}/"),
        &pki.get(CertKind::Ecdsa).ca,
    );
    assert_eq!(outcome.status, 1);
    assert_eq!(
        text(&outcome.stderr),
        format!("https-get: connect 127.0.0.1:{port}: connection-refused\n")
    );
}

/// A native rustls server (the shared test PKI) on an ephemeral loopback port that reads one
/// request head, answers `response` and closes the TCP connection without a close_notify,
/// as many HTTP servers do once a body is complete. Returns the port and the CA's file.
fn abrupt_server(response: Vec<u8>, dir: &Path) -> (u16, std::path::PathBuf) {
    use std::io::{Read, Write};
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &common::pki().ca_pem).expect("write the CA");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = common::native_server(common::pki(), common::ring_provider(None));
    thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut head = Vec::new();
        let mut byte = [0];
        while !head.ends_with(b"\r\n\r\n") && tls.read(&mut byte).is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        tls.write_all(&response).unwrap();
        tls.flush().unwrap();
        // Give the last record a moment on the wire, then hang up, no close_notify.
        thread::sleep(Duration::from_millis(100));
        let _ = tls.sock.shutdown(std::net::Shutdown::Both);
    });
    (port, ca)
}

#[test]
fn https_get_ends_at_content_length_when_the_server_skips_close_notify() {
    let body = b"complete body\n";
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    let response = [&response[..], body].concat();
    let dir = tempfile::tempdir().unwrap();
    let (port, ca) = abrupt_server(response.clone(), dir.path());
    let outcome = https_get(&format!("https://localhost:{port}/"), &ca);
    assert_eq!(outcome.status, 0, "stderr: {}", text(&outcome.stderr));
    assert_eq!(text(&outcome.stdout), text(&response));

    // Cut short: the body is shorter than its Content-Length, and no close_notify came.
    let dir = tempfile::tempdir().unwrap();
    let (port, ca) = abrupt_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part".to_vec(),
        dir.path(),
    );
    let outcome = https_get(&format!("https://localhost:{port}/"), &ca);
    let stderr = text(&outcome.stderr);
    assert_eq!(outcome.status, 1, "stderr: {stderr}");
    assert!(
        stderr.starts_with("https-get: receive failed: "),
        "{stderr}"
    );
}
