//! Interop over loopback with the `openssl` command line: `s_server` with the component
//! as client, `s_client` with the component as server, TLS 1.3 suites and TLS 1.2. Each
//! test starts and stops its own openssl process.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use tlsbox::{CipherSuite, Connection, ErrorKind, ProtocolVersion, TcpTransport};

/// Kills the child on drop, so a failed assertion never leaks a server.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The test PKI written to files openssl can read.
struct Files {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    let pki = pki();
    Files {
        ca: write("ca.pem", &pki.ca_pem),
        cert: write("cert.pem", &pki.server_cert_pem),
        key: write("key.pem", &pki.server_key_pem),
        _dir: dir,
    }
}

/// Starts `openssl s_server -rev` on an ephemeral loopback port; returns it and the port.
fn s_server(files: &Files, protocol: &[&str]) -> (Process, u16, mpsc::Receiver<String>) {
    let mut child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-naccept",
            "1",
            "-rev",
        ])
        .arg("-cert")
        .arg(&files.cert)
        .arg("-key")
        .arg(&files.key)
        .args(protocol)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (.ci/run installs it)");
    // ACCEPT goes to stdout, the connection report to stderr: read both as lines.
    let (tx, rx) = mpsc::channel();
    let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
    let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
    for stream in [stdout, stderr] {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let process = Process(child);
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("s_server prints ACCEPT");
        if let Some(addr) = line.strip_prefix("ACCEPT ") {
            let port = addr.rsplit(':').next().unwrap().parse().unwrap();
            return (process, port, rx);
        }
    }
}

/// The line s_server printed that starts with `prefix`.
fn reported(lines: &mpsc::Receiver<String>, prefix: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("s_server output");
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.trim().to_owned();
        }
    }
}

fn component_client_against_s_server(
    protocol: &[&str],
    suite: CipherSuite,
    version: ProtocolVersion,
    openssl_name: &str,
) {
    let files = files();
    let (_server, port, lines) = s_server(&files, protocol);
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let config = client_config(pki()).cipher_suites(&[suite]);
    let conn = Connection::new(&runtime(), &config, TcpTransport::new(tcp)).unwrap();
    conn.negotiate().unwrap();
    let info = conn.session_info().unwrap().unwrap();
    assert_eq!((info.cipher_suite, info.version), (suite, version));

    conn.send_all(b"hello tlsbox\n").unwrap();
    let mut reply = Vec::new();
    while !reply.ends_with(b"\n") {
        let r = conn.recv(100).unwrap();
        assert!(!r.data.is_empty(), "s_server closed early");
        reply.extend_from_slice(&r.data);
    }
    assert_eq!(reply, b"xobslt olleh\n");
    match conn.shutdown() {
        Ok(()) => {}
        // s_server may drop the socket instead of answering close_notify.
        Err(e) => assert_eq!(e.kind, ErrorKind::Closed, "{e}"),
    }
    // s_server flushes its report when it exits after the connection (-naccept 1).
    assert_eq!(reported(&lines, "Ciphersuite:"), openssl_name);
}

#[test]
fn client_tls13_chacha20_with_s_server() {
    component_client_against_s_server(
        &["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
        CipherSuite::Tls13Chacha20Poly1305Sha256,
        ProtocolVersion::Tls13,
        "TLS_CHACHA20_POLY1305_SHA256",
    );
}

#[test]
fn client_tls13_aes128_with_s_server() {
    component_client_against_s_server(
        &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
        CipherSuite::Tls13Aes128GcmSha256,
        ProtocolVersion::Tls13,
        "TLS_AES_128_GCM_SHA256",
    );
}

#[test]
fn client_tls13_aes256_with_s_server() {
    component_client_against_s_server(
        &["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"],
        CipherSuite::Tls13Aes256GcmSha384,
        ProtocolVersion::Tls13,
        "TLS_AES_256_GCM_SHA384",
    );
}

#[test]
fn client_tls12_with_s_server() {
    component_client_against_s_server(
        &["-tls1_2"],
        CipherSuite::TlsEcdheEcdsaWithAes256GcmSha384,
        ProtocolVersion::Tls12,
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    );
}

/// Runs `openssl s_client` against a component server that echoes one line and closes.
fn s_client_against_component_server(protocol: &[&str], version: ProtocolVersion) {
    let files = files();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let conn =
            Connection::new(&runtime(), &server_config(pki()), TcpTransport::new(tcp)).unwrap();
        conn.negotiate().unwrap();
        let mut line = Vec::new();
        while !line.ends_with(b"\n") {
            let r = conn.recv(100).unwrap();
            assert!(!r.data.is_empty(), "s_client closed early");
            line.extend_from_slice(&r.data);
        }
        conn.send_all(&line).unwrap();
        let info = conn.session_info().unwrap().unwrap();
        let _ = conn.shutdown();
        info
    });
    let mut child = Process(
        Command::new("openssl")
            .args([
                "s_client",
                "-quiet",
                "-verify_return_error",
                "-servername",
                "localhost",
            ])
            .arg("-connect")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-CAfile")
            .arg(&files.ca)
            .args(protocol)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is installed"),
    );
    child
        .0
        .stdin
        .take()
        .unwrap()
        .write_all(b"ping from openssl\n")
        .unwrap();
    let mut out = Vec::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    let info = server.join().expect("component server");
    assert_eq!(out, b"ping from openssl\n");
    assert_eq!(info.version, version);
    assert_eq!(info.server_name.as_deref(), Some("localhost"));
    let status = child.0.wait().unwrap();
    assert!(
        status.success(),
        "s_client verified the chain and exited cleanly: {status}"
    );
}

#[test]
fn s_client_tls13_against_component_server() {
    s_client_against_component_server(&["-tls1_3"], ProtocolVersion::Tls13);
}

#[test]
fn s_client_tls12_against_component_server() {
    s_client_against_component_server(&["-tls1_2"], ProtocolVersion::Tls12);
}
