//! Interop with GnuTLS's command-line peers (`gnutls-bin`): the component as client against
//! `gnutls-serv`, and as server against `gnutls-cli`, over the matrix in
//! `common/peers.rs` (TLS 1.3 and 1.2, every suite, every group, ECDSA and RSA
//! certificates, client certificates on and off). Every case starts and stops its own peer.
//!
//! `gnutls-serv` has no option to choose its listening address: it binds the wildcard
//! address on every interface. So that a test never listens beyond loopback, each server
//! runs in a fresh network namespace (`unshare --net`) that holds only a loopback interface,
//! and the component reaches it through a Unix-domain socket: in the same namespace, `socat`
//! listens on a socket file in the case's temporary directory (the filesystem is shared, only
//! the network is private, and the directory is the user's alone) and relays the connection
//! to `gnutls-serv` on the namespace's 127.0.0.1. The component's transport is that Unix
//! stream ([`peers::UnixTransport`]). Since the namespace is private, the port inside it is
//! fixed and cannot collide with anything. Each case makes one connection, so socat relays
//! one and exits. The shell (which becomes socat) and `gnutls-serv` share one process group,
//! which the guard kills; the namespace disappears with its last process (gnutls-serv, the
//! shell's background child, is reparented and reaped by init).
//!
//! `gnutls-cli` only connects, so it runs in the test's namespace against the component
//! server on 127.0.0.1.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::peers::{self, Case, CertKind, Identity, Pki, Process, UnixTransport};
use tlsbox::{CipherSuite, KxGroup, ProtocolVersion};

/// `gnutls-serv`'s port inside its private namespace.
const NS_PORT: u16 = 5556;

/// A GnuTLS priority string allowing exactly the case's version, suite and groups.
fn priority(case: &Case) -> String {
    let version = match case.version {
        ProtocolVersion::Tls13 => "VERS-TLS1.3",
        ProtocolVersion::Tls12 => "VERS-TLS1.2",
    };
    use CipherSuite as S;
    let (cipher, kx) = match case.suite {
        S::Tls13Chacha20Poly1305Sha256 => ("CHACHA20-POLY1305", None),
        S::Tls13Aes128GcmSha256 => ("AES-128-GCM", None),
        S::Tls13Aes256GcmSha384 => ("AES-256-GCM", None),
        S::TlsEcdheEcdsaWithChacha20Poly1305Sha256 => ("CHACHA20-POLY1305", Some("ECDHE-ECDSA")),
        S::TlsEcdheEcdsaWithAes128GcmSha256 => ("AES-128-GCM", Some("ECDHE-ECDSA")),
        S::TlsEcdheEcdsaWithAes256GcmSha384 => ("AES-256-GCM", Some("ECDHE-ECDSA")),
        S::TlsEcdheRsaWithChacha20Poly1305Sha256 => ("CHACHA20-POLY1305", Some("ECDHE-RSA")),
        S::TlsEcdheRsaWithAes128GcmSha256 => ("AES-128-GCM", Some("ECDHE-RSA")),
        S::TlsEcdheRsaWithAes256GcmSha384 => ("AES-256-GCM", Some("ECDHE-RSA")),
    };
    let groups: String = case
        .groups()
        .into_iter()
        .map(|group| match group {
            KxGroup::X25519 => ":+GROUP-X25519",
            KxGroup::Secp256r1 => ":+GROUP-SECP256R1",
            KxGroup::Secp384r1 => ":+GROUP-SECP384R1",
            KxGroup::Secp521r1 => ":+GROUP-SECP521R1",
            KxGroup::X448 => ":+GROUP-X448",
            KxGroup::X25519mlkem768 | KxGroup::Secp256r1mlkem768 => {
                unreachable!("not in the matrix: GnuTLS 3.7 has no ML-KEM")
            }
        })
        .collect();
    let mut priority =
        format!("NORMAL:-VERS-ALL:+{version}:-CIPHER-ALL:+{cipher}:-GROUP-ALL{groups}");
    if let Some(kx) = kx {
        priority.push_str(&format!(":-KX-ALL:+{kx}"));
    }
    priority
}

/// `unshare`'s flags: a new network namespace, and as an unprivileged user a user namespace
/// mapping us to root in it (needed to create the network namespace and bring loopback up).
fn unshare_flags() -> &'static [&'static str] {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false);
    if root {
        &["--net"]
    } else {
        &["--net", "--map-root-user"]
    }
}

/// Starts `gnutls-serv --echo` for `case` in its own network namespace with a `socat` relay
/// from `socket` (see the module comment); returns once both listen.
fn gnutls_serv(case: &Case, identity: &Identity, socket: &Path) -> Result<Process, String> {
    let deadline = Instant::now() + peers::CASE_DEADLINE;
    let mut command = Command::new("unshare");
    command.args(unshare_flags()).args([
        "--",
        "sh",
        "-c",
        // $0 is the socket path, "$@" gnutls-serv's arguments. gnutls-serv runs in the
        // background of the shell, which then becomes socat. A missing tool fails at once
        // (the pipes close) rather than at the deadline.
        "for tool in ip gnutls-serv socat; do \
             command -v $tool >/dev/null || { echo \"$tool is not installed\" >&2; exit 127; }; \
         done; \
         ip link set lo up || exit 1; \
         gnutls-serv \"$@\" & \
         exec socat UNIX-LISTEN:\"$0\" TCP:127.0.0.1:\"$NS_PORT\"",
    ]);
    command.env("NS_PORT", NS_PORT.to_string()).arg(socket);
    command
        .args(["--echo", "--port", &NS_PORT.to_string()])
        .arg("--priority")
        .arg(priority(case))
        .arg("--x509certfile")
        .arg(&identity.server_cert)
        .arg("--x509keyfile")
        .arg(&identity.server_key);
    if case.client_cert {
        command
            .args([
                "--require-client-cert",
                "--verify-client-cert",
                "--x509cafile",
            ])
            .arg(&identity.ca);
    } else {
        command.arg("--disable-client-cert");
    }
    let process = Process::spawn_with_lines(command)?;
    let lines = &process.lines;
    lines.wait_for("gnutls-serv to listen", deadline, |line| {
        line.contains("listening on IPv4") && line.ends_with("done")
    })?;
    while !socket.exists() {
        if Instant::now() > deadline {
            return Err(format!(
                "socat did not listen; output: {}",
                process.output()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(process)
}

#[test]
fn component_client_against_gnutls_serv() {
    let pki = Pki::generate();
    peers::run_matrix("client vs gnutls-serv", |case| {
        let identity = pki.get(case.cert);
        let dir = tempfile::tempdir_in(pki.dir.path()).expect("tempdir");
        let socket = dir.path().join("serv.sock");
        let server = gnutls_serv(case, identity, &socket)?;
        let message = format!("hello gnutls-serv, {case}\n").into_bytes();
        let result = UnixTransport::connect(&socket).and_then(|transport| {
            peers::component_client(case, identity, transport, &message, &message)
        });
        result.map_err(|e| format!("{e}; gnutls-serv said: {}", server.output()))
    });
}

#[test]
fn gnutls_cli_against_component_server() {
    let pki = Pki::generate();
    peers::run_matrix("server vs gnutls-cli", |case| {
        let identity = pki.get(case.cert);
        let log = tempfile::NamedTempFile::new_in(pki.dir.path()).expect("log file");
        let result = peers::component_server(case, identity, |port| {
            let mut command = Command::new("gnutls-cli");
            command
                .args(["127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--sni-hostname",
                    "localhost",
                    "--verify-hostname",
                    "localhost",
                ])
                .arg("--priority")
                .arg(priority(case))
                .arg("--x509cafile")
                .arg(&identity.ca)
                // Informational messages go to the log, so stdout is the peer's data only.
                .arg("--logfile")
                .arg(log.path());
            if case.client_cert {
                command
                    .arg("--x509certfile")
                    .arg(&identity.client_cert)
                    .arg("--x509keyfile")
                    .arg(&identity.client_key);
            }
            Process::spawn_piped(command)
        });
        result.map_err(|e| {
            let log = std::fs::read_to_string(log.path()).unwrap_or_default();
            format!(
                "{e}; gnutls-cli log: {}",
                log.lines().collect::<Vec<_>>().join(" | ")
            )
        })
    });
}

/// The table covers what the matrix promises: every suite, every group in each version, both
/// certificate kinds, client certificates on and off.
#[test]
fn matrix_covers_every_dimension() {
    use std::collections::HashSet;
    let cases = peers::matrix();
    let suites: HashSet<_> = cases.iter().map(|c| c.suite.name()).collect();
    assert_eq!(suites.len(), 9, "every suite the component offers");
    for version in [ProtocolVersion::Tls12, ProtocolVersion::Tls13] {
        let groups: HashSet<_> = cases
            .iter()
            .filter(|c| c.version == version)
            .map(|c| c.group.name())
            .collect();
        // Every classical group: the post-quantum hybrids have their own tests
        // (tests/post_quantum.rs), as neither GnuTLS 3.7 nor OpenSSL 3.0 has ML-KEM.
        assert_eq!(groups.len(), 5, "every group in {}", version.name());
    }
    for kind in [CertKind::Ecdsa, CertKind::Rsa] {
        assert!(cases.iter().any(|c| c.cert == kind));
    }
    assert!(cases.iter().any(|c| c.client_cert) && cases.iter().any(|c| !c.client_cert));
}
