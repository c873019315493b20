//! Shared support for the interop matrices against real TLS peers (`interop_openssl.rs`,
//! `interop_gnutls.rs`): the case table and the component's side of each case — a client or
//! a server that handshakes, checks what was negotiated and echoes a line, with every wait
//! bounded. The peers themselves (OpenSSL-made certificates, processes killed on drop,
//! `s_server`) come from `tlsbox_test_support::peers`, re-exported here.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ChildStdin;
use std::thread;
use std::time::{Duration, Instant};

use tlsbox::{
    CipherSuite, ClientAuth, Config, Connection, ErrorKind, IoError, KxGroup, ProtocolVersion,
    SessionInfo, Transport,
};

use super::runtime;

#[allow(unused_imports)] // each test binary uses a different part
pub use tlsbox_test_support::peers::{
    Bytes, CertKind, Identity, Lines, Pki, Process, assert_served, s_server,
};

/// The longest any one case may take, handshake to exit: nothing in a case waits unbounded.
pub const CASE_DEADLINE: Duration = Duration::from_secs(30);

/// How long a blocking socket read may sit before it reports would-block, so the component's
/// retry loops can check [`CASE_DEADLINE`].
const POLL: Duration = Duration::from_millis(200);

/// One row of the interop matrix. Both sides are restricted to exactly this version, suite
/// and group, so the handshake either negotiates them or fails.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub version: ProtocolVersion,
    pub suite: CipherSuite,
    pub group: KxGroup,
    pub cert: CertKind,
    /// The server requires a client certificate and the client presents one.
    pub client_cert: bool,
}

impl Case {
    /// The groups both sides allow, in preference order: the case's group, and in TLS 1.2
    /// with an ECDSA certificate also P-256 after it. There the server's ECDSA key must be on
    /// a curve the client listed in supported_groups (RFC 8422), which OpenSSL enforces on
    /// both sides ("no shared cipher" as server, "wrong curve" as client); the case's group
    /// still wins, being first on both sides.
    pub fn groups(&self) -> Vec<KxGroup> {
        let mut groups = vec![self.group];
        if self.version == ProtocolVersion::Tls12
            && self.cert == CertKind::Ecdsa
            && self.group != KxGroup::Secp256r1
        {
            groups.push(KxGroup::Secp256r1);
        }
        groups
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cert = match self.cert {
            CertKind::Ecdsa => "ecdsa-p256",
            CertKind::Rsa => "rsa-2048",
        };
        write!(
            f,
            "{} {} {} {} cert, client cert {}",
            self.version.name(),
            self.suite.name(),
            self.group.name(),
            cert,
            if self.client_cert { "on" } else { "off" },
        )
    }
}

/// The matrix each (peer, role) runs: every suite the component offers at least once per
/// version, every group in each version, both certificate kinds, and client certificates on
/// and off. The full cross product would be 96 handshakes per (peer, role); this covers each
/// dimension in 12.
pub fn matrix() -> Vec<Case> {
    use CertKind::{Ecdsa, Rsa};
    use CipherSuite as S;
    use KxGroup::{Secp256r1, Secp384r1, Secp521r1, X448, X25519};
    use ProtocolVersion::{Tls12, Tls13};
    let case = |version, suite, group, cert, client_cert| Case {
        version,
        suite,
        group,
        cert,
        client_cert,
    };
    vec![
        // TLS 1.3: the suite does not depend on the certificate kind.
        case(Tls13, S::Tls13Chacha20Poly1305Sha256, X25519, Ecdsa, false),
        case(Tls13, S::Tls13Aes128GcmSha256, Secp256r1, Rsa, true),
        case(Tls13, S::Tls13Aes256GcmSha384, Secp384r1, Ecdsa, true),
        case(Tls13, S::Tls13Aes256GcmSha384, Secp521r1, Rsa, false),
        case(Tls13, S::Tls13Chacha20Poly1305Sha256, X448, Rsa, true),
        // TLS 1.2: ECDHE-ECDSA suites need the ECDSA certificate, ECDHE-RSA the RSA one.
        case(
            Tls12,
            S::TlsEcdheEcdsaWithChacha20Poly1305Sha256,
            Secp256r1,
            Ecdsa,
            true,
        ),
        case(
            Tls12,
            S::TlsEcdheEcdsaWithAes128GcmSha256,
            Secp384r1,
            Ecdsa,
            false,
        ),
        case(
            Tls12,
            S::TlsEcdheEcdsaWithAes256GcmSha384,
            X25519,
            Ecdsa,
            false,
        ),
        case(
            Tls12,
            S::TlsEcdheRsaWithChacha20Poly1305Sha256,
            Secp521r1,
            Rsa,
            true,
        ),
        case(Tls12, S::TlsEcdheRsaWithAes128GcmSha256, X25519, Rsa, false),
        case(
            Tls12,
            S::TlsEcdheEcdsaWithChacha20Poly1305Sha256,
            X448,
            Ecdsa,
            false,
        ),
        case(
            Tls12,
            S::TlsEcdheRsaWithAes256GcmSha384,
            Secp384r1,
            Rsa,
            true,
        ),
    ]
}

/// Runs every case, then fails once, naming each failed case and why; a case that fails
/// does not hide the ones after it.
pub fn run_matrix(label: &str, run: impl Fn(&Case) -> Result<(), String>) {
    let cases = matrix();
    let mut failures = Vec::new();
    for case in &cases {
        let started = Instant::now();
        let result = run(case);
        let elapsed = started.elapsed();
        match result {
            Ok(()) => eprintln!("{label}: {case}: ok ({elapsed:.2?})"),
            Err(e) => {
                eprintln!("{label}: {case}: FAILED ({elapsed:.2?}): {e}");
                failures.push(format!("  {case}: {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{label}: {} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A Unix-domain stream as the component's transport (the way into a network namespace; see
/// `interop_gnutls.rs`). Reads time out after [`POLL`] and report would-block.
pub struct UnixTransport(UnixStream);

impl UnixTransport {
    /// Connects to the socket at `path`, retrying for a few seconds while it is not there
    /// or not listening yet (the file appears at bind, a moment before listen).
    pub fn connect(path: &Path) -> Result<Self, String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
                    ) && Instant::now() < deadline =>
                {
                    thread::sleep(Duration::from_millis(10))
                }
                Err(e) => return Err(format!("connect {}: {e}", path.display())),
            }
        };
        stream.set_read_timeout(Some(POLL)).expect("read timeout");
        stream.set_write_timeout(Some(POLL)).expect("write timeout");
        Ok(UnixTransport(stream))
    }
}

fn io_error(e: io::Error) -> IoError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => IoError::WouldBlock,
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted => IoError::BrokenPipe,
        _ => IoError::Other(e.to_string()),
    }
}

impl Transport for UnixTransport {
    fn send(&mut self, data: &[u8]) -> Result<usize, IoError> {
        loop {
            match self.0.write(data) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            }
        }
    }

    fn recv(&mut self, max: usize) -> Result<Vec<u8>, IoError> {
        let mut buf = vec![0; max];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return Err(IoError::Closed),
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            }
        }
    }
}

/// Calls `op` until it stops reporting blocked or `deadline` passes.
fn retry<T>(
    what: &str,
    deadline: Instant,
    mut op: impl FnMut() -> Result<T, tlsbox::Error>,
) -> Result<T, String> {
    loop {
        match op() {
            Ok(value) => return Ok(value),
            Err(e) if e.is_blocked() && Instant::now() < deadline => continue,
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

/// Checks what the component negotiated against the case.
fn check_session(conn: &Connection, case: &Case) -> Result<SessionInfo, String> {
    let info = conn
        .session_info()
        .map_err(|e| format!("session_info: {e}"))?
        .ok_or("no session info after the handshake")?;
    let got = (info.version, info.cipher_suite, info.kx_group);
    let want = (case.version, case.suite, Some(case.group));
    if got != want {
        return Err(format!("negotiated {got:?}, expected {want:?}"));
    }
    Ok(info)
}

/// Receives until `len` bytes have arrived.
fn recv_exact(conn: &Connection, len: usize, deadline: Instant) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    while data.len() < len {
        let r = retry("recv", deadline, || conn.recv(len - data.len()))?;
        if r.data.is_empty() {
            return Err(format!(
                "close_notify after {:?}",
                String::from_utf8_lossy(&data)
            ));
        }
        data.extend_from_slice(&r.data);
    }
    Ok(data)
}

/// Closes gracefully; a peer that hangs up instead of answering close_notify is fine.
fn shutdown(conn: &Connection, deadline: Instant) -> Result<(), String> {
    loop {
        match conn.shutdown() {
            Ok(()) => return Ok(()),
            Err(e) if e.kind == ErrorKind::Closed => return Ok(()),
            Err(e) if e.is_blocked() && Instant::now() < deadline => continue,
            Err(e) => return Err(format!("shutdown: {e}")),
        }
    }
}

/// The component as client over `transport` for `case`: handshake, check the session, send
/// `message`, expect `reply` back, close.
pub fn component_client(
    case: &Case,
    identity: &Identity,
    transport: impl Transport + 'static,
    message: &[u8],
    reply: &[u8],
) -> Result<(), String> {
    let deadline = Instant::now() + CASE_DEADLINE;
    let config = component_config(identity, case, true);
    let conn =
        Connection::new(&runtime(), &config, transport).map_err(|e| format!("connection: {e}"))?;
    retry("negotiate", deadline, || conn.negotiate())?;
    check_session(&conn, case)?;
    retry("send", deadline, || conn.send_all(message))?;
    let got = recv_exact(&conn, reply.len(), deadline)?;
    if got != reply {
        return Err(format!(
            "echo: got {:?}, expected {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(reply)
        ));
    }
    shutdown(&conn, deadline)
}

/// The component as server on an ephemeral 127.0.0.1 port for `case`; `start_client` starts
/// the peer client against the port and returns it with its stdin and stdout. The peer
/// sends a line, the component echoes it and checks the session (SNI `localhost`, and the
/// client's certificate when the case requires one), the peer must print the line and exit
/// successfully.
pub fn component_server(
    case: &Case,
    identity: &Identity,
    start_client: impl FnOnce(u16) -> Result<(Process, ChildStdin, Bytes), String>,
) -> Result<(), String> {
    let deadline = Instant::now() + CASE_DEADLINE;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let port = listener.local_addr().expect("local addr").port();
    let (mut client, stdin, mut stdout) = start_client(port)?;
    let with_output = |e: String, client: &Process| format!("{e}; peer said: {}", client.output());

    let mut stdin = Some(stdin);
    let message = format!("ping from the peer, {case}\n").into_bytes();
    stdin
        .as_mut()
        .unwrap()
        .write_all(&message)
        .map_err(|e| format!("peer stdin: {e}"))?;

    let tcp = loop {
        match listener.accept() {
            Ok((tcp, _)) => break tcp,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                if let Some(status) = client.exited() {
                    return Err(with_output(
                        format!("peer exited before connecting: {status}"),
                        &client,
                    ));
                }
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(with_output(format!("accept: {e}"), &client)),
        }
    };
    tcp.set_nonblocking(false).expect("blocking stream");
    tcp.set_read_timeout(Some(POLL)).expect("read timeout");
    tcp.set_write_timeout(Some(POLL)).expect("write timeout");
    let config = component_config(identity, case, false);
    let conn = Connection::new(&runtime(), &config, tlsbox::TcpTransport::new(tcp))
        .map_err(|e| format!("connection: {e}"))?;
    let mut run = || -> Result<(), String> {
        retry("negotiate", deadline, || conn.negotiate())?;
        let info = check_session(&conn, case)?;
        if info.server_name.as_deref() != Some("localhost") {
            return Err(format!("SNI {:?}, expected localhost", info.server_name));
        }
        if case.client_cert && info.peer_certificates.is_empty() {
            return Err("no client certificate".into());
        }
        let line = recv_exact(&conn, message.len(), deadline)?;
        if line != message {
            return Err(format!("received {:?}", String::from_utf8_lossy(&line)));
        }
        retry("send", deadline, || conn.send_all(&line))?;
        let echoed = stdout.read_at_least(message.len(), deadline)?;
        if echoed != message {
            return Err(format!(
                "the peer printed {:?}",
                String::from_utf8_lossy(echoed)
            ));
        }
        // The peer may now see end of input; the component closes the connection.
        drop(stdin.take());
        shutdown(&conn, deadline)?;
        let status = client.wait_until(deadline)?;
        if !status.success() {
            return Err(format!("the peer exited with {status}"));
        }
        Ok(())
    };
    run().map_err(|e| with_output(e, &client))
}

/// The component's config for `case` in its role, with `identity`'s certificates.
pub fn component_config(identity: &Identity, case: &Case, client: bool) -> Config {
    let config = if client {
        let config = Config::client("localhost").trust(Identity::pem(&identity.ca));
        if case.client_cert {
            config.identity(
                Identity::pem(&identity.client_cert),
                Identity::pem(&identity.client_key),
            )
        } else {
            config
        }
    } else {
        let config = Config::server(
            Identity::pem(&identity.server_cert),
            Identity::pem(&identity.server_key),
        );
        if case.client_cert {
            config
                .client_auth(ClientAuth::Required)
                .trust(Identity::pem(&identity.ca))
        } else {
            config
        }
    };
    config
        .versions(&[case.version])
        .cipher_suites(&[case.suite])
        .kx_groups(&case.groups())
}
