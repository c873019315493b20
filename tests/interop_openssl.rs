//! Interop over loopback with the `openssl` command line: the component as client against
//! `openssl s_server`, and as server against `openssl s_client`, over the matrix in
//! `common/peers.rs` (TLS 1.3 and 1.2, every suite, every group, ECDSA and RSA
//! certificates, client certificates on and off). Every case starts and stops its own
//! openssl process; `s_server` listens on 127.0.0.1 only, on a port the OS picks.

mod common;

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::peers::{self, Case, Identity, Pki, Process};
use tlsbox::{CipherSuite, KxGroup, ProtocolVersion, TcpTransport};

/// openssl's flags restricting a peer to exactly the case's version, suite and groups.
fn protocol_args(case: &Case) -> Vec<String> {
    use CipherSuite as S;
    let version = match case.version {
        ProtocolVersion::Tls13 => "-tls1_3",
        ProtocolVersion::Tls12 => "-tls1_2",
    };
    let groups: Vec<&str> = case
        .groups()
        .into_iter()
        .map(|group| match group {
            KxGroup::X25519 => "X25519",
            KxGroup::Secp256r1 => "P-256",
            KxGroup::Secp384r1 => "P-384",
            KxGroup::Secp521r1 => "P-521",
            KxGroup::X448 => "X448",
            KxGroup::X25519mlkem768 | KxGroup::Secp256r1mlkem768 => {
                unreachable!("not in the matrix: OpenSSL 3.0 has no ML-KEM")
            }
        })
        .collect();
    let groups = groups.join(":");
    let suite = match case.suite {
        S::Tls13Chacha20Poly1305Sha256 | S::Tls13Aes128GcmSha256 | S::Tls13Aes256GcmSha384 => {
            "-ciphersuites"
        }
        _ => "-cipher",
    };
    [
        version,
        "-groups",
        &groups,
        suite,
        openssl_suite(case.suite),
    ]
    .map(String::from)
    .to_vec()
}

/// The suite as openssl spells it (what `s_server` reports as `Ciphersuite:`).
fn openssl_suite(suite: CipherSuite) -> &'static str {
    use CipherSuite as S;
    match suite {
        S::Tls13Chacha20Poly1305Sha256 | S::Tls13Aes128GcmSha256 | S::Tls13Aes256GcmSha384 => {
            suite.name()
        }
        S::TlsEcdheEcdsaWithChacha20Poly1305Sha256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        S::TlsEcdheEcdsaWithAes128GcmSha256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        S::TlsEcdheEcdsaWithAes256GcmSha384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        S::TlsEcdheRsaWithChacha20Poly1305Sha256 => "ECDHE-RSA-CHACHA20-POLY1305",
        S::TlsEcdheRsaWithAes128GcmSha256 => "ECDHE-RSA-AES128-GCM-SHA256",
        S::TlsEcdheRsaWithAes256GcmSha384 => "ECDHE-RSA-AES256-GCM-SHA384",
    }
}

/// Starts `openssl s_server -rev` for one connection on an ephemeral loopback port; returns
/// it and the port.
fn s_server(case: &Case, identity: &Identity, deadline: Instant) -> Result<(Process, u16), String> {
    let mut command = Command::new("openssl");
    command
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-naccept",
            "1",
            "-rev",
        ])
        .arg("-cert")
        .arg(&identity.server_cert)
        .arg("-key")
        .arg(&identity.server_key)
        .args(protocol_args(case));
    if case.client_cert {
        command
            .args(["-Verify", "1", "-verify_return_error", "-CAfile"])
            .arg(&identity.ca);
    }
    let process = Process::spawn_with_lines(command)?;
    let lines = &process.lines;
    let accept = lines.wait_for("ACCEPT", deadline, |line| line.starts_with("ACCEPT "))?;
    let port = accept
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("s_server printed {accept:?}"))?;
    Ok((process, port))
}

/// What `-rev` answers to a line: its bytes reversed, the newline kept at the end.
fn reversed(line: &[u8]) -> Vec<u8> {
    let mut reply: Vec<u8> = line.strip_suffix(b"\n").unwrap_or(line).to_vec();
    reply.reverse();
    reply.push(b'\n');
    reply
}

#[test]
fn component_client_against_s_server() {
    let pki = Pki::generate();
    peers::run_matrix("client vs openssl s_server", |case| {
        let deadline = Instant::now() + peers::CASE_DEADLINE;
        let identity = pki.get(case.cert);
        let (server, port) = s_server(case, identity, deadline)?;
        let message = format!("hello s_server, {case}\n").into_bytes();
        let run = || {
            let tcp =
                TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
            tcp.set_read_timeout(Some(Duration::from_millis(200)))
                .expect("timeout");
            tcp.set_write_timeout(Some(Duration::from_millis(200)))
                .expect("timeout");
            let transport = TcpTransport::new(tcp);
            peers::component_client(case, identity, transport, &message, &reversed(&message))?;
            // s_server flushes its report when it exits after the connection (-naccept 1);
            // its view of the suite must match the component's.
            let lines = &server.lines;
            let reported =
                lines.wait_for("Ciphersuite:", deadline, |l| l.starts_with("Ciphersuite:"))?;
            let reported = reported["Ciphersuite:".len()..].trim();
            match reported == openssl_suite(case.suite) {
                true => Ok(()),
                false => Err(format!("s_server reported {reported}")),
            }
        };
        run().map_err(|e: String| format!("{e}; s_server said: {}", server.output()))
    });
}

#[test]
fn s_client_against_component_server() {
    let pki = Pki::generate();
    peers::run_matrix("server vs openssl s_client", |case| {
        let identity = pki.get(case.cert);
        peers::component_server(case, identity, |port| {
            let mut command = Command::new("openssl");
            command
                .args(["s_client", "-quiet", "-verify_return_error"])
                .args(["-servername", "localhost"])
                .args(["-connect", &format!("127.0.0.1:{port}")])
                .arg("-CAfile")
                .arg(&identity.ca)
                .args(protocol_args(case));
            if case.client_cert {
                command
                    .arg("-cert")
                    .arg(&identity.client_cert)
                    .arg("-key")
                    .arg(&identity.client_key);
            }
            Process::spawn_piped(command)
        })
    });
}
