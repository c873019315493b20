//! The `tlsbox` binary over real loopback sockets: demo, server and client together, and
//! the server against `openssl s_client`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use tlsbox::pki::Pki;

const BIN: &str = env!("CARGO_BIN_EXE_tlsbox");

/// Kills the child on drop, so a failed assertion never leaks a server.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write_pki(dir: &Path) -> Pki {
    let pki = Pki::generate(&["localhost", "127.0.0.1"]).unwrap();
    for (name, pem) in [
        ("ca.pem", &pki.ca_pem),
        ("cert.pem", &pki.server_cert_pem),
        ("key.pem", &pki.server_key_pem),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    pki
}

/// Starts `tlsbox server` on an ephemeral port and returns it with the address it printed.
fn server(dir: &Path, extra: &[&str]) -> (Process, String) {
    let mut child = Command::new(BIN)
        .args(["server", "127.0.0.1:0", "--cert"])
        .arg(dir.join("cert.pem"))
        .arg("--key")
        .arg(dir.join("key.pem"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("tlsbox: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_owned();
    (Process(child), addr)
}

fn client(dir: &Path, addr: &str, input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(["client", addr, "--servername", "localhost", "--ca"])
        .arg(dir.join("ca.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs `tlsbox demo` with `args`, asserts it succeeded, and returns its stdout.
fn demo(args: &[&str]) -> String {
    let out = Command::new(BIN).arg("demo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn demo_moves_data_and_reports_figures() {
    let stdout = demo(&["--mib", "2"]);
    assert!(
        stdout.contains("negotiated      TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 x25519"),
        "{stdout}"
    );
    assert!(stdout.contains("client → server 2 MiB in"), "{stdout}");
    assert!(stdout.contains("server → client 2 MiB in"), "{stdout}");
}

#[test]
fn demo_with_tls12_and_aes256() {
    let stdout = demo(&["--mib", "1", "--tls12", "--suite", "aes256"]);
    assert!(
        stdout.contains("TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
        "{stdout}"
    );
}

#[test]
fn client_and_echo_server() {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &["--max-connections", "2"]);
    for message in [
        &b"hello through two components\n"[..],
        b"and a second connection\n",
    ] {
        let out = client(dir.path(), &addr, message);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, message, "echoed back");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("connected: TLSv1.3"), "{stderr}");
    }
}

#[test]
fn http_server_answers_s_client_in_one_record() {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &["--http", "--max-connections", "1"]);
    let mut s_client = Process(
        Command::new("openssl")
            .args([
                "s_client",
                "-quiet",
                "-verify_return_error",
                "-servername",
                "localhost",
            ])
            .arg("-connect")
            .arg(&addr)
            .arg("-CAfile")
            .arg(dir.path().join("ca.pem"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is installed"),
    );
    s_client
        .0
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    s_client
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut response)
        .unwrap();
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n"), "{response}");
    assert!(
        response.contains("TLSv1.3 TLS_CHACHA20_POLY1305_SHA256"),
        "{response}"
    );
}

#[test]
fn client_rejects_an_untrusted_server() {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &["--max-connections", "1"]);
    // A CA that did not sign the server's certificate.
    let other = Pki::generate(&["localhost"]).unwrap();
    std::fs::write(dir.path().join("ca.pem"), other.ca_pem).unwrap();
    let out = client(dir.path(), &addr, b"secret\n");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("untrusted-certificate"), "{stderr}");
}
