//! Real TLS peers for tests: certificates made by the `openssl` command line (ECDSA P-256
//! and RSA 2048, as rcgen on ring cannot make RSA keys), processes in their own process group
//! that are killed with it on drop, their output as lines or bytes read with deadlines, and
//! `openssl s_server` on an ephemeral loopback port.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Which certificates a case uses (CA, server leaf and client leaf all of that kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    /// ECDSA on P-256 with SHA-256.
    Ecdsa,
    /// RSA 2048 with SHA-256.
    Rsa,
}

/// One certificate kind's PEM files: a CA, a server leaf for localhost and 127.0.0.1, and a
/// client leaf (server and client authentication respectively), with their keys (PKCS#8).
pub struct Identity {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The server leaf (localhost, 127.0.0.1).
    pub server_cert: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
    /// The client leaf.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
}

impl Identity {
    /// The contents of one of these files.
    pub fn pem(path: &Path) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

/// Both certificate kinds in a temporary directory (removed on drop). The `openssl` command
/// line makes them, as rcgen on ring cannot generate RSA keys.
pub struct Pki {
    /// Where the files are.
    pub dir: tempfile::TempDir,
    ecdsa: Identity,
    rsa: Identity,
}

impl Pki {
    /// Both kinds, made now (the `openssl` command must be on PATH).
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

    /// The files of one kind.
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

    /// The process id (and process group id).
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

/// OpenSSL logged receiving alert `number` (`... SSL alert number N`) within 20 s. Waits for
/// the line itself: the process may have exited before its reader thread passed the line on.
pub fn assert_alert_logged(peer: &Process, number: u8) {
    let needle = format!("alert number {number}");
    let logged = peer.lines.so_far().contains(&needle)
        || peer
            .lines
            .wait_for(&needle, Instant::now() + Duration::from_secs(20), |line| {
                line.contains(&needle)
            })
            .is_ok();
    assert!(logged, "no {needle:?} from the peer: {}", peer.output());
}

/// Writes 100,000 bytes of text (several records, lines of 64) to `dir/page.txt`, for
/// `s_server -WWW` to serve as `/page.txt`, and returns them.
pub fn page(dir: &Path) -> Vec<u8> {
    let body: Vec<u8> = (0..100_000u32)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            }
        })
        .collect();
    std::fs::write(dir.join("page.txt"), &body).expect("write the page");
    body
}

/// A loopback port nothing listens on (bound, then released).
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}
