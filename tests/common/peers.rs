//! Shared support for the interop matrices against real TLS peers (`interop_openssl.rs`,
//! `interop_gnutls.rs`): the case table, a PKI written by the `openssl` command line (ECDSA
//! P-256 and RSA 2048), process guards that kill what they start, and the component's side of
//! each case — a client or a server that handshakes, checks what was negotiated and echoes a
//! line, with every wait bounded.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use tlsbox::{
    CipherSuite, ClientAuth, Config, Connection, ErrorKind, IoError, KxGroup, ProtocolVersion,
    SessionInfo, Transport,
};

use super::runtime;

/// The longest any one case may take, handshake to exit: nothing in a case waits unbounded.
pub const CASE_DEADLINE: Duration = Duration::from_secs(30);

/// How long a blocking socket read may sit before it reports would-block, so the component's
/// retry loops can check [`CASE_DEADLINE`].
const POLL: Duration = Duration::from_millis(200);

/// Which certificates a case uses (CA, server leaf and client leaf all of that kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    /// ECDSA on P-256 with SHA-256.
    Ecdsa,
    /// RSA 2048 with SHA-256.
    Rsa,
}

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
/// dimension in 10.
pub fn matrix() -> Vec<Case> {
    use CertKind::{Ecdsa, Rsa};
    use CipherSuite as S;
    use KxGroup::{Secp256r1, Secp384r1, Secp521r1, X25519};
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

/// One certificate kind's PEM files: a CA, a server leaf for localhost and 127.0.0.1, and a
/// client leaf (server and client authentication respectively), with their keys (PKCS#8).
pub struct Identity {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Identity {
    fn pem(path: &Path) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The component's config for `case` in its role.
    pub fn component_config(&self, case: &Case, client: bool) -> Config {
        let config = if client {
            let config = Config::client("localhost").trust(Self::pem(&self.ca));
            if case.client_cert {
                config.identity(Self::pem(&self.client_cert), Self::pem(&self.client_key))
            } else {
                config
            }
        } else {
            let config = Config::server(Self::pem(&self.server_cert), Self::pem(&self.server_key));
            if case.client_cert {
                config
                    .client_auth(ClientAuth::Required)
                    .trust(Self::pem(&self.ca))
            } else {
                config
            }
        };
        config
            .versions(&[case.version])
            .cipher_suites(&[case.suite])
            .kx_groups(&case.groups())
    }
}

/// Both certificate kinds in a temporary directory (removed on drop). The `openssl` command
/// line makes them, as rcgen on ring cannot generate RSA keys.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ecdsa: Identity,
    rsa: Identity,
}

impl Pki {
    pub fn generate() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let ecdsa = identity(
            dir.path(),
            "ecdsa",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        let rsa = identity(dir.path(), "rsa", &["-newkey", "rsa:2048"]);
        Pki { dir, ecdsa, rsa }
    }

    pub fn get(&self, kind: CertKind) -> &Identity {
        match kind {
            CertKind::Ecdsa => &self.ecdsa,
            CertKind::Rsa => &self.rsa,
        }
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn identity(dir: &Path, kind: &str, newkey: &[&str]) -> Identity {
    let file = |name: &str| format!("{kind}-{name}");
    let ca_subject = format!("/CN=tlsbox interop CA {kind}");
    let (ca, ca_key) = (file("ca.pem"), file("ca.key"));
    let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", &ca_subject];
    args.extend_from_slice(newkey);
    args.extend_from_slice(&["-keyout", &ca_key, "-out", &ca]);
    args.extend_from_slice(&[
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args);
    let serial = file("ca.srl");
    let leaf = |who: &str, san: &str, eku: &str| {
        let (csr, cert, key, ext) = (
            file(&format!("{who}.csr")),
            file(&format!("{who}.pem")),
            file(&format!("{who}.key")),
            file(&format!("{who}.ext")),
        );
        std::fs::write(
            dir.join(&ext),
            format!(
                "subjectAltName={san}\nextendedKeyUsage={eku}\n\
                 basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            ),
        )
        .expect("write extensions");
        let subject = format!("/CN=tlsbox {who}");
        let mut args = vec!["req", "-nodes", "-subj", &subject];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-keyout", &key, "-out", &csr]);
        openssl(dir, &args);
        // Every name here is a plain file name in `dir`: no spaces.
        let sign = format!(
            "x509 -req -days 2 -in {csr} -CA {ca} -CAkey {ca_key} -CAserial {serial} \
             -CAcreateserial -extfile {ext} -out {cert}"
        );
        openssl(dir, &sign.split_whitespace().collect::<Vec<_>>());
        (dir.join(cert), dir.join(key))
    };
    let (server_cert, server_key) = leaf("server", "DNS:localhost,IP:127.0.0.1", "serverAuth");
    let (client_cert, client_key) = leaf("client", "DNS:client.tlsbox", "clientAuth");
    Identity {
        ca: dir.join(ca),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

/// A peer process in its own process group. Dropping it kills the whole group (a shell and
/// everything it started) and reaps the child, so no failure path leaks a process.
pub struct Process {
    child: Child,
    /// Whether the child has been reaped: its pid, and so the group id, may be reused.
    reaped: bool,
    /// The peer's output as lines: stdout and stderr, or only stderr for a client whose
    /// stdout carries the peer's data.
    pub lines: Lines,
}

impl Process {
    /// Starts `command` in a new process group; stdout and stderr are merged into `lines`.
    pub fn spawn_with_lines(mut command: Command) -> Result<Process, String> {
        let mut child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {command:?}: {e}"))?;
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("stdout"));
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("stderr"));
        Ok(Process {
            child,
            reaped: false,
            lines: Lines::new([stdout, stderr]),
        })
    }

    /// Starts `command` in a new process group with piped stdin and stdout (a client that
    /// relays stdin to the peer and the peer's data to stdout); stderr is kept as lines.
    pub fn spawn_piped(mut command: Command) -> Result<(Process, ChildStdin, Bytes), String> {
        let mut child = command
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn {command:?}: {e}"))?;
        let stdin = child.stdin.take().expect("stdin");
        let stdout = Bytes::new(child.stdout.take().expect("stdout"));
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("stderr"));
        let process = Process {
            child,
            reaped: false,
            lines: Lines::new([stderr]),
        };
        Ok((process, stdin, stdout))
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit, at most until `deadline`.
    pub fn wait_until(&mut self, deadline: Instant) -> Result<std::process::ExitStatus, String> {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.reaped = true;
                    return Ok(status);
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => return Err("the peer did not exit in time".into()),
                Err(e) => return Err(format!("wait: {e}")),
            }
        }
    }

    /// The exit status if the process has exited (reaping it).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        self.reaped |= status.is_some();
        status
    }

    /// What the process has printed so far (for failure messages).
    pub fn output(&self) -> String {
        self.lines.so_far()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.reaped {
            // Only clients are waited for, and they start nothing of their own.
            return;
        }
        // The group id is the child's pid (process_group(0)); `kill -- -PGID` signals the
        // whole group. The child itself is then reaped; anything it forked is reparented.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines from one or more pipes, read by background threads (which end when the pipes close).
pub struct Lines {
    rx: Receiver<String>,
    seen: std::cell::RefCell<Vec<String>>,
}

impl Lines {
    fn new<const N: usize>(streams: [Box<dyn Read + Send>; N]) -> Lines {
        let (tx, rx) = mpsc::channel();
        for stream in streams {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Lines {
            rx,
            seen: Default::default(),
        }
    }

    /// The first line (from now on) that `matches`, waiting at most until `deadline`.
    pub fn wait_for(
        &self,
        what: &str,
        deadline: Instant,
        matches: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.borrow_mut().push(line.clone());
                    if matches(&line) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "timed out waiting for {what}; output: {}",
                        self.so_far()
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("exited before {what}; output: {}", self.so_far()));
                }
            }
        }
    }

    /// Every line read so far, joined with ` | `.
    pub fn so_far(&self) -> String {
        let mut seen = self.seen.borrow_mut();
        seen.extend(self.rx.try_iter());
        seen.join(" | ")
    }
}

/// The bytes of one pipe, read by a background thread.
pub struct Bytes {
    rx: Receiver<Vec<u8>>,
    data: Vec<u8>,
}

impl Bytes {
    fn new(mut stream: impl Read + Send + 'static) -> Bytes {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Bytes {
            rx,
            data: Vec::new(),
        }
    }

    /// Everything read so far once it holds at least `len` bytes, waiting at most until
    /// `deadline`.
    pub fn read_at_least(&mut self, len: usize, deadline: Instant) -> Result<&[u8], String> {
        while self.data.len() < len {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.data.extend_from_slice(&chunk),
                Err(e) => {
                    return Err(format!(
                        "peer stdout had {:?} ({e:?}), wanted {len} bytes",
                        String::from_utf8_lossy(&self.data)
                    ));
                }
            }
        }
        Ok(&self.data)
    }
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
    let config = identity.component_config(case, true);
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
    let config = identity.component_config(case, false);
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

/// `openssl s_server` with `mode` (`-www` or `-WWW`) for one connection on an ephemeral
/// loopback port, serving files from `dir`; returns it and the port.
pub fn s_server(identity: &Identity, mode: &str, dir: &Path) -> (Process, u16) {
    let mut command = Command::new("openssl");
    command
        .current_dir(dir)
        .args(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1", mode])
        .arg("-cert")
        .arg(&identity.server_cert)
        .arg("-key")
        .arg(&identity.server_key);
    let process = Process::spawn_with_lines(command).expect("openssl s_server starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let accept = process
        .lines
        .wait_for("ACCEPT", deadline, |line| line.starts_with("ACCEPT "))
        .expect("s_server listens");
    let port = accept
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("s_server printed {accept:?}"));
    (process, port)
}

/// `s_server -naccept 1` exits 0 once its one connection closed cleanly.
pub fn assert_served(server: &mut Process) {
    let status = server.wait_until(Instant::now() + Duration::from_secs(20));
    assert!(
        status.is_ok_and(|s| s.success()),
        "s_server: {}",
        server.output()
    );
}
