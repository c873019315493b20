//! The `tlsbox` binary over real loopback sockets: demo, server and client together, the
//! server against `openssl s_client`, and the server's concurrency, idle timeout, connection
//! limit, record sizing and alerts against native rustls clients.
//!
//! Every test bounds its waits: sockets have timeouts, children are killed on drop, and
//! worker threads report through channels read with a deadline.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tlsbox_test_support::pki::Pki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// Starts `tlsbox server` on an ephemeral port and returns it with the address it printed;
/// its later log lines go to the test's stderr.
fn server(dir: &Path, extra: &[&str]) -> (Process, String) {
    let (process, addr, log) = server_with_log(dir, extra);
    // Keep draining: a full pipe would block the server's next log line.
    thread::spawn(move || {
        for line in log {
            eprintln!("server: {line}");
        }
    });
    (process, addr)
}

fn client(dir: &Path, addr: &str, input: &[u8]) -> Output {
    client_with(Command::new(BIN), addr, Some(&dir.join("ca.pem")), input)
}

/// `tlsbox client ADDR` in `command`'s environment, trusting `ca` (or the system store),
/// writing `input`.
fn client_with(mut command: Command, addr: &str, ca: Option<&Path>, input: &[u8]) -> Output {
    command.args(["client", addr, "--servername", "localhost"]);
    if let Some(ca) = ca {
        command.arg("--ca").arg(ca);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    finish(Process(child))
}

/// Waits for the child's exit and output, at most a minute (then it is killed).
fn finish(mut child: Process) -> Output {
    let (mut stdout, mut stderr) = (child.0.stdout.take(), child.0.stderr.take());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let Some(s) = stdout.as_mut() {
            s.read_to_end(&mut out).unwrap();
        }
        if let Some(s) = stderr.as_mut() {
            s.read_to_end(&mut err).unwrap();
        }
        let _ = tx.send((out, err));
    });
    let (stdout, stderr) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the client exits within a minute");
    let status = child.0.wait().unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
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
        stdout.contains("negotiated      TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 x25519mlkem768"),
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
    let (_server, addr) = server(dir.path(), &["--stop-after", "2"]);
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
fn client_verifies_through_the_system_store_without_ca() {
    // The system store as OpenSSL finds it: SSL_CERT_FILE names our CA, so `--ca` is not
    // needed; naming another CA there refuses the same server.
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let other = tempfile::tempdir().unwrap();
    write_pki(other.path());
    let (_server, addr) = server(dir.path(), &[]);
    let mut command = Command::new(BIN);
    command
        .env("SSL_CERT_FILE", dir.path().join("ca.pem"))
        .env_remove("SSL_CERT_DIR");
    let out = client_with(command, &addr, None, b"system store\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(out.stdout, b"system store\n");

    let mut command = Command::new(BIN);
    command
        .env("SSL_CERT_FILE", other.path().join("ca.pem"))
        .env_remove("SSL_CERT_DIR");
    let out = client_with(command, &addr, None, b"refused\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("protocol/untrusted-certificate (alert 48)"),
        "{stderr}"
    );
}

#[test]
fn http_server_answers_s_client_in_one_record() {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &["--http", "--stop-after", "1"]);
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
    let (_server, addr) = server(dir.path(), &["--stop-after", "1"]);
    // A CA that did not sign the server's certificate.
    let other = Pki::generate(&["localhost"]).unwrap();
    std::fs::write(dir.path().join("ca.pem"), other.ca_pem).unwrap();
    let out = client(dir.path(), &addr, b"secret\n");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("untrusted-certificate"), "{stderr}");
}

/// Longest any single socket operation in these tests may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A native rustls client configuration (ring) trusting `pki`'s CA.
fn rustls_client(pki: &Pki) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

type Tls<S = TcpStream> = StreamOwned<ClientConnection, S>;

/// A loopback TCP connection with bounded reads and writes.
fn tcp(addr: &str) -> TcpStream {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    tcp
}

/// Completes a TLS handshake as "localhost" over `io`.
fn handshake<S: Read + Write>(config: &Arc<ClientConfig>, mut io: S) -> io::Result<Tls<S>> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = ClientConnection::new(config.clone(), name).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut io)?;
    }
    Ok(StreamOwned::new(conn, io))
}

/// Sends `message` and reads exactly as many bytes back.
fn echo<S: Read + Write>(tls: &mut Tls<S>, message: &[u8]) -> Vec<u8> {
    tls.write_all(message).unwrap();
    tls.flush().unwrap();
    let mut back = vec![0; message.len()];
    tls.read_exact(&mut back).unwrap();
    back
}

/// Sends close_notify and drops the connection.
fn hang_up<S: Read + Write>(mut tls: Tls<S>) {
    tls.conn.send_close_notify();
    let _ = tls.conn.complete_io(&mut tls.sock);
}

#[test]
fn an_idle_client_does_not_hold_up_a_hundred_others() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &[]);
    let config = rustls_client(&pki);
    // Handshake done, then silence: a server serving one client at a time would be stuck.
    let mut idle = handshake(&config, tcp(&addr)).unwrap();

    const THREADS: usize = 4;
    const CLIENTS: usize = 100;
    let (tx, rx) = mpsc::channel();
    for t in 0..THREADS {
        let (tx, config, addr) = (tx.clone(), config.clone(), addr.clone());
        thread::spawn(move || {
            for i in (t..CLIENTS).step_by(THREADS) {
                let message = format!("client {i} says {}\n", "x".repeat(i)).into_bytes();
                let mut tls = handshake(&config, tcp(&addr)).unwrap();
                let back = echo(&mut tls, &message);
                hang_up(tls);
                tx.send((message, back)).unwrap();
            }
        });
    }
    drop(tx);
    // A generous bound, only so a broken server fails the test instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut echoed = 0;
    while echoed < CLIENTS {
        let left = deadline.saturating_duration_since(Instant::now());
        let (message, back) = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("after {echoed} echoes: {e}"));
        assert_eq!(back, message, "byte-exact echo");
        echoed += 1;
    }
    // The idle client was kept waiting, not dropped.
    assert_eq!(echo(&mut idle, b"still here\n"), b"still here\n");
    hang_up(idle);
}

#[test]
fn a_thousand_concurrent_clients_handshake_and_echo() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &[]);
    let connector = tokio_rustls::TlsConnector::from(rustls_client(&pki));
    const CLIENTS: usize = 1000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let echoed = runtime.block_on(async move {
        // Nobody echoes until every client has finished its handshake: the server holds
        // all thousand connections open at once.
        let all_connected = Arc::new(tokio::sync::Barrier::new(CLIENTS));
        let mut clients = tokio::task::JoinSet::new();
        for i in 0..CLIENTS {
            let (connector, addr, all_connected) =
                (connector.clone(), addr.clone(), all_connected.clone());
            clients.spawn(async move {
                let tcp = tokio::net::TcpStream::connect(&addr).await?;
                let name = ServerName::try_from("localhost").unwrap();
                let mut tls = connector.connect(name, tcp).await?;
                all_connected.wait().await;
                let message = format!("client {i} of {CLIENTS}\n").into_bytes();
                tls.write_all(&message).await?;
                let mut back = vec![0; message.len()];
                tls.read_exact(&mut back).await?;
                tls.shutdown().await?;
                io::Result::Ok((message, back))
            });
        }
        // A generous bound, only so a broken server fails the test instead of hanging it.
        tokio::time::timeout(Duration::from_secs(300), async {
            let mut echoed = 0;
            while let Some(done) = clients.join_next().await {
                let (message, back) = done.unwrap().unwrap();
                assert_eq!(back, message, "byte-exact echo");
                echoed += 1;
            }
            echoed
        })
        .await
        .expect("a thousand clients are served within five minutes")
    });
    assert_eq!(echoed, CLIENTS);
}

#[test]
fn stalled_handshakes_are_closed_at_the_deadline_while_real_clients_are_served() {
    // A thousand clients send half a ClientHello and stop; a hundred real ones come after
    // and are all served; every stalled one is disconnected once the (short, for the test)
    // handshake timeout has passed since it connected, and not before.
    const STALLED: usize = 1000;
    const REAL: usize = 100;
    const DEADLINE: Duration = Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &["--handshake-timeout", "2"]);
    let config = rustls_client(&pki);
    let half_hello = {
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = ClientConnection::new(config.clone(), name).unwrap();
        let mut hello = Vec::new();
        conn.write_tls(&mut hello).unwrap();
        hello.truncate(hello.len() / 2);
        hello
    };
    let connector = tokio_rustls::TlsConnector::from(config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (closed_after, echoed) = runtime.block_on(async move {
        let mut stalled = tokio::task::JoinSet::new();
        for _ in 0..STALLED {
            let (addr, half_hello) = (addr.clone(), half_hello.clone());
            let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let connected = Instant::now();
            stalled.spawn(async move {
                tcp.write_all(&half_hello).await?;
                // Nothing comes back but the end of the connection (EOF, or a reset).
                let mut byte = [0; 1];
                let n = tcp.read(&mut byte).await.unwrap_or(0);
                io::Result::Ok((n, connected.elapsed()))
            });
        }
        let mut real = tokio::task::JoinSet::new();
        for i in 0..REAL {
            let (connector, addr) = (connector.clone(), addr.clone());
            real.spawn(async move {
                let tcp = tokio::net::TcpStream::connect(&addr).await?;
                let name = ServerName::try_from("localhost").unwrap();
                let mut tls = connector.connect(name, tcp).await?;
                let message = format!("real client {i}\n").into_bytes();
                tls.write_all(&message).await?;
                let mut back = vec![0; message.len()];
                tls.read_exact(&mut back).await?;
                tls.shutdown().await?;
                io::Result::Ok(back == message)
            });
        }
        // Generous bounds, only so a broken server fails the test instead of hanging it.
        let bound = Duration::from_secs(120);
        let echoed = tokio::time::timeout(bound, real.join_all())
            .await
            .expect("the real clients finish")
            .into_iter()
            .filter(|ok| *ok.as_ref().unwrap())
            .count();
        let closed_after: Vec<(usize, Duration)> = tokio::time::timeout(bound, stalled.join_all())
            .await
            .expect("every stalled client is disconnected")
            .into_iter()
            .map(Result::unwrap)
            .collect();
        (closed_after, echoed)
    });
    assert_eq!(echoed, REAL, "every real client echoed byte for byte");
    assert_eq!(closed_after.len(), STALLED);
    assert!(
        closed_after.iter().all(|(n, _)| *n == 0),
        "no byte for a stalled client"
    );
    let earliest = closed_after.iter().map(|(_, t)| *t).min().unwrap();
    let latest = closed_after.iter().map(|(_, t)| *t).max().unwrap();
    println!("stalled clients disconnected after {earliest:?} to {latest:?}");
    assert!(
        earliest >= DEADLINE - Duration::from_millis(50),
        "not before the deadline: {earliest:?}"
    );
}

/// One `openssl s_client` connection to `addr` with `args`, its input at an end at once;
/// what it printed (the session summary, e.g. `New, TLSv1.2, Cipher is ...`).
fn s_client_session(dir: &Path, addr: &str, args: &[&str]) -> String {
    let mut child = Command::new("openssl")
        .current_dir(dir)
        .args([
            "s_client",
            "-servername",
            "localhost",
            "-CAfile",
            "ca.pem",
            "-connect",
            addr,
        ])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    let out = finish(Process({
        child.stdin.take();
        child
    }));
    String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned()
}

#[test]
fn openssl_tls12_clients_resume_by_ticket_and_by_session_id() {
    // Every connection of `tlsbox server` runs in an instance of its own: TLS 1.2 tickets
    // resume under the server's shared ticket key, session IDs through the session store.
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &[]);
    for (label, extra) in [("ticket", None), ("session id", Some("-no_ticket"))] {
        let session = dir.path().join("session.pem");
        let session = session.to_str().unwrap();
        let mut first = vec!["-tls1_2", "-sess_out", session];
        first.extend(extra);
        let out = s_client_session(dir.path(), &addr, &first);
        assert!(out.contains("New, TLSv1.2, Cipher is "), "{label}: {out}");
        for round in 0..2 {
            let mut again = vec!["-tls1_2", "-sess_in", session];
            again.extend(extra);
            let out = s_client_session(dir.path(), &addr, &again);
            assert!(
                out.contains("Reused, TLSv1.2, Cipher is "),
                "{label}, resumption {round}: {out}"
            );
        }
    }
}

#[test]
fn an_idle_client_gets_close_notify() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &["--idle-timeout", "1"]);
    let config = rustls_client(&pki);

    // A client that talks every 400 ms for 2 s is never idle for 1 s.
    let chatty = {
        let (config, addr) = (config.clone(), addr.clone());
        thread::spawn(move || {
            let mut tls = handshake(&config, tcp(&addr)).unwrap();
            for i in 0..5 {
                thread::sleep(Duration::from_millis(400));
                let message = format!("tick {i}\n").into_bytes();
                assert_eq!(echo(&mut tls, &message), message);
            }
            hang_up(tls);
        })
    };

    let started = Instant::now();
    let mut tls = handshake(&config, tcp(&addr)).unwrap();
    let mut buf = [0; 64];
    // rustls reads Ok(0) only after close_notify; a bare EOF is `UnexpectedEof`.
    let n = tls
        .read(&mut buf)
        .expect("the server closes with close_notify");
    assert_eq!(n, 0);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the idle timeout",
        started.elapsed()
    );
    hang_up(tls);
    chatty.join().expect("the active client was served");
}

#[test]
fn max_connections_makes_later_clients_wait() {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &["--max-connections", "1"]);
    let config = rustls_client(&pki);
    let mut first = handshake(&config, tcp(&addr)).unwrap();
    assert_eq!(echo(&mut first, b"first\n"), b"first\n");

    let closed_at = Arc::new(Mutex::new(None::<Instant>));
    let (tx, rx) = mpsc::channel();
    let second = {
        let (config, addr) = (config.clone(), addr.clone());
        thread::spawn(move || {
            // The connect succeeds (the listen backlog); the handshake has to wait.
            let tls = handshake(&config, tcp(&addr));
            tx.send(Instant::now()).unwrap();
            let mut tls = tls.unwrap();
            assert_eq!(echo(&mut tls, b"second\n"), b"second\n");
            hang_up(tls);
        })
    };
    assert!(
        rx.recv_timeout(Duration::from_millis(1500)).is_err(),
        "the second handshake completed while the first connection was open"
    );
    *closed_at.lock().unwrap() = Some(Instant::now());
    hang_up(first);
    let completed_at = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the second handshake completes once the first client has gone");
    assert!(completed_at > closed_at.lock().unwrap().unwrap());
    second.join().unwrap();
}

/// A socket that records every byte it reads, so a test can parse the records on the wire.
struct Tap {
    tcp: TcpStream,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Read for Tap {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.tcp.read(buf)?;
        self.seen.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Tap {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Plaintext lengths of the TLS 1.3 records (header length minus the content-type byte and
/// the 16-byte tag) that the server sent after the handshake, while echoing `message`.
fn echo_record_sizes(server_flags: &[&str], message: &[u8]) -> Vec<usize> {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let mut flags = vec!["--stop-after", "1"];
    flags.extend_from_slice(server_flags);
    let (_server, addr) = server(dir.path(), &flags);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let tap = Tap {
        tcp: tcp(&addr),
        seen: seen.clone(),
    };
    let mut tls = handshake(&rustls_client(&pki), tap).unwrap();
    let handshake_bytes = seen.lock().unwrap().len();
    assert_eq!(echo(&mut tls, message), message);
    hang_up(tls);

    let wire = seen.lock().unwrap().clone();
    let mut sizes = Vec::new();
    let mut at = 0;
    while at + 5 <= wire.len() {
        let len = usize::from(u16::from_be_bytes([wire[at + 3], wire[at + 4]]));
        // Records that began during the handshake are not the echo's.
        if at >= handshake_bytes && wire[at] == 23 {
            sizes.push(len - 17);
        }
        at += 5 + len;
    }
    sizes
}

#[test]
fn low_latency_server_echoes_in_mtu_sized_records() {
    let message: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    let sizes = echo_record_sizes(&["--prefer-low-latency"], &message);
    assert!(
        sizes.iter().all(|&n| n <= 1435),
        "records over 1435 bytes: {sizes:?}"
    );
    assert!(
        sizes.iter().sum::<usize>() >= message.len() && sizes.len() >= 3,
        "{sizes:?}"
    );
    // The same echo from a default server comes in one large record: the measurement sees
    // the difference.
    let sizes = echo_record_sizes(&[], &message);
    assert!(sizes.contains(&message.len()), "{sizes:?}");
}

#[test]
fn sizing_flags_are_exclusive() {
    let out = Command::new(BIN)
        .args([
            "server",
            "127.0.0.1:0",
            "--cert",
            "c",
            "--key",
            "k",
            "--prefer-throughput",
            "--prefer-low-latency",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

/// Sends `garbage` instead of a ClientHello and returns what the server wrote before it
/// closed the socket.
fn answer_to_garbage(server_flags: &[&str], garbage: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let (_server, addr) = server(dir.path(), server_flags);
    let mut tcp = tcp(&addr);
    tcp.write_all(garbage).unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).unwrap();
    answer
}

#[test]
fn a_failed_handshake_puts_an_alert_on_the_wire() {
    // A record header with an impossible content type and no body: the server has read
    // everything when it closes, so the close is a FIN that cannot overtake its alert.
    let garbage = b"\x63\x03\x03\x00\x00";
    // RFC policy: a fatal alert (level 2), written by the failing call.
    let answer = answer_to_garbage(&[], garbage);
    assert!(
        answer.len() >= 7 && answer[0] == 21 && answer[5] == 2,
        "{answer:?}"
    );
    // s2n policy: nothing goes out at once; the server's shutdown after the error sends the
    // alert (in plaintext there is no key to seal a close_notify with).
    let answer = answer_to_garbage(&["--alerts", "s2n", "--max-blinding-delay", "1"], garbage);
    assert!(answer.len() >= 7 && answer[0] == 21, "{answer:?}");
}

/// Completes a handshake, then writes a record the server cannot decrypt, and returns
/// what reading through rustls gives, and how long it took.
fn answer_to_a_forged_record(server_flags: &[&str]) -> (io::Result<usize>, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let (_server, addr) = server(dir.path(), server_flags);
    let mut tls = handshake(&rustls_client(&pki), tcp(&addr)).unwrap();
    // Application data, 32 bytes that no key sealed.
    let mut forged = vec![23, 3, 3, 0, 32];
    forged.extend_from_slice(&[0x5a; 32]);
    let started = Instant::now();
    tls.sock.write_all(&forged).unwrap();
    let result = tls.read(&mut [0; 64]);
    (result, started.elapsed())
}

#[test]
fn a_failed_connection_announces_itself_by_alert_policy() {
    // RFC policy: the fatal alert the failure calls for.
    let (result, _) = answer_to_a_forged_record(&[]);
    let error = result.expect_err("a fatal alert");
    let alert = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    assert_eq!(
        alert,
        Some(&rustls::Error::AlertReceived(
            rustls::AlertDescription::BadRecordMac
        )),
        "{error}"
    );
    // s2n policy: a close_notify (rustls reads 0 bytes, not an unexpected EOF), sent by the
    // server's shutdown once the blinding delay, drawn from [1/3 s, 1 s), is over.
    let (result, waited) =
        answer_to_a_forged_record(&["--alerts", "s2n", "--max-blinding-delay", "1"]);
    assert_eq!(result.expect("a close_notify"), 0);
    assert!(
        waited >= Duration::from_millis(300),
        "close_notify after {waited:?}, inside the blinding delay"
    );
}

#[test]
fn a_failed_connection_closes_without_a_reset() {
    // After its alert the server reads and drops what the client still sends (a lingering
    // close): closing with those bytes unread would reset the connection (ECONNRESET here;
    // on some stacks a reset destroys the alert before it is read).
    let dir = tempfile::tempdir().unwrap();
    let pki = write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &[]);
    let mut tls = handshake(&rustls_client(&pki), tcp(&addr)).unwrap();
    // 32 bytes no key sealed, then 64 KiB the server need not read.
    let mut forged = vec![23, 3, 3, 0, 32];
    forged.resize(5 + 32, 0x5a);
    forged.resize(forged.len() + 65_536, 0);
    tls.sock.write_all(&forged).unwrap();
    tls.sock.shutdown(std::net::Shutdown::Write).unwrap();
    let error = tls.read(&mut [0; 64]).expect_err("a fatal alert");
    assert_eq!(
        error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>()),
        Some(&rustls::Error::AlertReceived(
            rustls::AlertDescription::BadRecordMac
        )),
        "{error}"
    );
    let end = tls.sock.read_to_end(&mut Vec::new());
    assert!(end.is_ok(), "EOF after the alert, not {end:?}");
}

#[test]
fn client_accepts_sizing_and_alert_flags() {
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    let (_server, addr) = server(dir.path(), &["--stop-after", "1", "--prefer-throughput"]);
    let mut child = Process(
        Command::new(BIN)
            .args(["client", &addr, "--servername", "localhost", "--ca"])
            .arg(dir.path().join("ca.pem"))
            .args(["--prefer-low-latency", "--alerts", "s2n"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let message = vec![b'z'; 5000];
    child.0.stdin.take().unwrap().write_all(&message).unwrap();
    let out = finish(child);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, message);
}

/// Starts `tlsbox server` on an ephemeral port; returns it, the address it printed, and its
/// later stderr lines.
fn server_with_log(dir: &Path, extra: &[&str]) -> (Process, String, mpsc::Receiver<String>) {
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
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (Process(child), addr, rx)
}

/// Runs `openssl s_client -quiet` against `addr` with `args`, writes `input` and returns its
/// stdout once the echo of `until` is in it (or a minute has passed).
fn s_client_echo(dir: &Path, addr: &str, args: &[&str], input: &[u8], until: &[u8]) -> Vec<u8> {
    let mut child = Process(
        Command::new("openssl")
            .current_dir(dir)
            .args([
                "s_client",
                "-quiet",
                "-servername",
                "localhost",
                "-CAfile",
                "ca.pem",
            ])
            .arg("-connect")
            .arg(addr)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is installed"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    let mut stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.windows(until.len()).any(|w| w == until) && Instant::now() < deadline {
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
            out.extend(chunk);
        }
    }
    // Give the session ticket (it follows the handshake) a moment, then hang up: with
    // -quiet, s_client ignores the end of its input, so it is killed (`Process`'s drop).
    thread::sleep(Duration::from_millis(300));
    drop(stdin);
    drop(child);
    out
}

#[test]
fn openssl_s_client_early_data_accepted_by_the_server() {
    // OpenSSL's habits: -sess_out, then -sess_in with -early_data. Each connection runs in
    // its own instance; the session store is the process's, so the second resumes.
    let dir = tempfile::tempdir().unwrap();
    write_pki(dir.path());
    std::fs::write(dir.path().join("early.txt"), b"early data\n").unwrap();
    let (_server, addr, log) = server_with_log(dir.path(), &["--early-data"]);
    let first = s_client_echo(
        dir.path(),
        &addr,
        &["-sess_out", "sess.pem"],
        b"first\n",
        b"first\n",
    );
    assert_eq!(first, b"first\n");
    assert!(
        dir.path().join("sess.pem").exists(),
        "s_client saved the session"
    );
    let second = s_client_echo(
        dir.path(),
        &addr,
        &["-sess_in", "sess.pem", "-early_data", "early.txt"],
        b"late\n",
        b"late\n",
    );
    assert_eq!(
        second, b"early data\nlate\n",
        "early data first, then the rest"
    );
    let reports: Vec<String> = log
        .try_iter()
        .filter(|l| l.contains("early data"))
        .collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(
        reports[0].ends_with("early data not-requested: 0 bytes"),
        "{reports:?}"
    );
    assert!(
        reports[1].ends_with("early data accepted: 11 bytes"),
        "{reports:?}"
    );
}
