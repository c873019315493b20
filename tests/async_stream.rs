//! The async API: `TlsConnector` / `TlsAcceptor` / `TlsStream` on tokio.
//!
//! Bulk transfer both ways at once through split halves against tokio-rustls, a thousand
//! concurrent connections against an echo server built on `TlsAcceptor`, cancellation at
//! random points over a byte stream that is pending at random, a trap that ends only its own
//! connection, a shutdown that sleeps out the s2n blinding delay, and a failed handshake
//! closed lingering (alert, then EOF, not a reset). Every wait is bounded;
//! no assertion is about speed (the one on time checks the delay was not cut short).

mod common;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::FutureExt;
use rustls::client::Tls12Resumption;
use tlsbox::{Config, Limits, Runtime, TlsAcceptor, TlsConnector, TlsStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use common::{client_config, native_server, payload, pki, ring_provider, runtime, server_config};

/// The bound on any one test's work; generous, so only a hang trips it.
const LIMIT: Duration = Duration::from_secs(300);

/// A deterministic byte stream (xorshift), checked piecewise so 64 MiB needs no copy.
struct Pattern(u64);

impl Pattern {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

/// Writes `len` pattern bytes in `chunk`-sized writes, then shuts down (close_notify).
async fn write_pattern<W: AsyncWrite + Unpin>(
    mut w: W,
    seed: u64,
    len: usize,
    chunk: usize,
) -> io::Result<W> {
    let mut pattern = Pattern(seed);
    let mut buf = vec![0; chunk];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk);
        pattern.fill(&mut buf[..n]);
        w.write_all(&buf[..n]).await?;
        left -= n;
    }
    w.shutdown().await?;
    Ok(w)
}

/// Reads to the end and checks the bytes against the pattern; returns the count.
async fn read_pattern<R: AsyncRead + Unpin>(mut r: R, seed: u64) -> io::Result<usize> {
    let mut pattern = Pattern(seed);
    let mut buf = vec![0; 64 << 10];
    let mut want = vec![0; 64 << 10];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        pattern.fill(&mut want[..n]);
        assert!(buf[..n] == want[..n], "bytes differ after {total}");
        total += n;
    }
}

fn tokio_rustls_acceptor() -> tokio_rustls::TlsAcceptor {
    tokio_rustls::TlsAcceptor::from(native_server(pki(), ring_provider(None)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_stream_64_mib_at_once_through_split_halves() {
    const LEN: usize = 64 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let tls = tokio_rustls_acceptor().accept(tcp).await?;
        let (r, w) = tokio::io::split(tls);
        let writer = tokio::spawn(write_pattern(w, 2, LEN, 100_000));
        let received = read_pattern(r, 1).await?;
        writer.await.unwrap()?;
        io::Result::Ok(received)
    });

    let run = async {
        let connector = TlsConnector::new(&runtime(), client_config(pki()));
        let tls = connector.connect(TcpStream::connect(addr).await?).await?;
        // The socket underneath, reachable between guest calls.
        assert_eq!(
            tls.get_ref().map(|tcp| tcp.peer_addr().unwrap()),
            Some(addr)
        );
        let (r, w) = tokio::io::split(tls);
        // Both halves at once, on different tasks: neither waits for the other.
        let writer = tokio::spawn(write_pattern(w, 1, LEN, 1 << 20));
        let received = read_pattern(r, 2).await?;
        writer.await.unwrap()?;
        io::Result::Ok(received)
    };
    let received = timeout(LIMIT, run).await.expect("no hang").expect("client");
    assert_eq!(received, LEN, "the client got every byte");
    let echoed = timeout(LIMIT, peer)
        .await
        .expect("no hang")
        .unwrap()
        .expect("peer");
    assert_eq!(echoed, LEN, "the peer got every byte");
}

/// An echo server on `TlsAcceptor`: each connection copies what it reads back, then
/// shuts down when the client does.
fn echo_server(acceptor: TlsAcceptor) -> tokio::sync::mpsc::UnboundedSender<DuplexStream> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DuplexStream>();
    tokio::spawn(async move {
        while let Some(io) = rx.recv().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let tls = acceptor.accept(io).await?;
                let (mut r, mut w) = tokio::io::split(tls);
                tokio::io::copy(&mut r, &mut w).await?;
                w.shutdown().await
            });
        }
    });
    tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_handshake_and_echo() {
    let connections: usize = std::env::var("TLSBOX_ASYNC_CONNECTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let server = echo_server(TlsAcceptor::new(&runtime(), server_config(pki())));
    let connector = TlsConnector::new(&runtime(), client_config(pki()));
    let started = std::time::Instant::now();
    let mut clients = Vec::new();
    for i in 0..connections {
        let (ours, theirs) = tokio::io::duplex(16 << 10);
        server.send(theirs).unwrap();
        let connector = connector.clone();
        clients.push(tokio::spawn(async move {
            let mut tls = connector.connect(ours).await?;
            let message = payload(1000 + i, i as u64);
            tls.write_all(&message).await?;
            tls.shutdown().await?;
            let mut echoed = Vec::new();
            tls.read_to_end(&mut echoed).await?;
            assert_eq!(echoed, message, "connection {i}");
            io::Result::Ok(())
        }));
    }
    let all = futures::future::join_all(clients);
    for (i, result) in timeout(LIMIT, all)
        .await
        .expect("no hang")
        .into_iter()
        .enumerate()
    {
        result
            .unwrap()
            .unwrap_or_else(|e| panic!("connection {i}: {e}"));
    }
    eprintln!(
        "{connections} concurrent handshakes and echoes in {:?}",
        started.elapsed()
    );
}

/// A byte stream that is pending at random (waking itself, as a socket that becomes
/// ready again would) and takes writes in random short pieces.
struct Flaky {
    inner: DuplexStream,
    rng: u64,
}

impl Flaky {
    fn roll(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Pending one time in three.
    fn stall(&mut self, cx: &Context<'_>) -> bool {
        if self.roll().is_multiple_of(3) {
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }
}

impl AsyncRead for Flaky {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.stall(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Flaky {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.stall(cx) {
            return Poll::Pending;
        }
        let n = (self.roll() as usize % 3000 + 1).min(data.len());
        Pin::new(&mut self.inner).poll_write(cx, &data[..n])
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Polls `f` once or for a random tiny while, then drops it whatever its state.
async fn maybe<F: std::future::Future>(f: F, roll: u64) -> Option<F::Output> {
    if roll.is_multiple_of(2) {
        f.now_or_never()
    } else {
        timeout(Duration::from_micros(roll % 500), f).await.ok()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn cancelled_reads_and_writes_lose_no_byte_and_send_none_twice() {
    const LEN: usize = 3 << 20;
    for seed in [3u64, 17, 91] {
        let (ours, theirs) = tokio::io::duplex(8 << 10);
        // The native peer sends LEN pattern bytes and returns everything it received.
        let peer = tokio::spawn(async move {
            let tls = tokio_rustls_acceptor().accept(theirs).await?;
            let (mut r, w) = tokio::io::split(tls);
            let writer = tokio::spawn(write_pattern(w, seed + 1, LEN, 40_000));
            let mut received = Vec::new();
            r.read_to_end(&mut received).await?;
            writer.await.unwrap()?;
            io::Result::Ok(received)
        });

        let run = async {
            let flaky = Flaky {
                inner: ours,
                rng: seed | 1,
            };
            let connector = TlsConnector::new(&runtime(), client_config(pki()));
            let mut tls: TlsStream<Flaky> = connector.connect(flaky).await?;
            let sent = payload(LEN, seed);
            let mut rng = Pattern(seed * 7 + 1);
            let mut roll = || {
                let mut b = [0; 8];
                rng.fill(&mut b);
                u64::from_le_bytes(b)
            };
            let (mut handed, mut received, mut eof) = (0, Vec::new(), false);
            let mut buf = vec![0; 20_000];
            while handed < LEN || !eof {
                if handed < LEN && roll() % 2 == 0 {
                    let n = (roll() as usize % 70_000 + 1).min(LEN - handed);
                    let r = roll();
                    // A write that returns reports bytes the stream has taken; one that is
                    // dropped has taken none.
                    if let Some(done) = maybe(tls.write(&sent[handed..handed + n]), r).await {
                        handed += done?;
                    }
                } else if !eof {
                    let r = roll();
                    let max = roll() as usize % buf.len() + 1;
                    if let Some(done) = maybe(tls.read(&mut buf[..max]), r).await {
                        let n = done?;
                        eof = n == 0;
                        received.extend_from_slice(&buf[..n]);
                    }
                }
            }
            // Flush and close_notify, also cancelled at random until they finish.
            loop {
                let r = roll();
                if let Some(done) = maybe(tls.shutdown(), r).await {
                    done?;
                    break;
                }
            }
            io::Result::Ok((sent, received))
        };
        let (sent, received) = timeout(LIMIT, run).await.expect("no hang").expect("client");
        let mut expected = vec![0; LEN];
        Pattern(seed + 1).fill(&mut expected);
        assert!(
            received == expected,
            "seed {seed}: the client read the peer's bytes exactly"
        );
        let delivered = timeout(LIMIT, peer)
            .await
            .expect("no hang")
            .unwrap()
            .expect("peer");
        assert_eq!(delivered.len(), sent.len(), "seed {seed}: byte count");
        assert!(
            delivered == sent,
            "seed {seed}: the peer got every byte once, in order"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_ends_only_its_own_connection() {
    const OTHERS: usize = 50;
    let server = echo_server(TlsAcceptor::new(&runtime(), server_config(pki())));
    let connector = TlsConnector::new(&runtime(), client_config(pki()));
    let mut others = Vec::new();
    for _ in 0..OTHERS {
        let (ours, theirs) = tokio::io::duplex(16 << 10);
        server.send(theirs).unwrap();
        others.push(connector.connect(ours).await.expect("handshake"));
    }

    // A connection whose instance may grow only to what a handshake and a short echo
    // need traps when a 64 KiB write needs more (or already in the handshake).
    let peak = others[0].peak_memory().await;
    let tiny = Runtime::new(Limits {
        memory_bytes: peak.next_multiple_of(64 << 10),
        ..Limits::default()
    })
    .expect("runtime");
    let (ours, theirs) = tokio::io::duplex(16 << 10);
    server.send(theirs).unwrap();
    let trapped = async {
        let mut tls = TlsConnector::new(&tiny, client_config(pki()))
            .connect(ours)
            .await?;
        tls.write_all(&payload(256 << 10, 9)).await?;
        tls.flush().await
    };
    let err = timeout(LIMIT, trapped)
        .await
        .expect("no hang")
        .expect_err("the tiny instance traps");
    let tlsbox_err = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<tlsbox::Error>())
        .expect("a tlsbox error inside");
    assert_eq!(tlsbox_err.name, "trap", "{tlsbox_err}");

    // Every other connection, handshaken before the trap, still echoes.
    let run = futures::future::join_all(others.into_iter().enumerate().map(
        |(i, mut tls)| async move {
            let message = payload(5000, i as u64);
            tls.write_all(&message).await?;
            tls.flush().await?;
            let mut echoed = vec![0; message.len()];
            tls.read_exact(&mut echoed).await?;
            assert_eq!(echoed, message);
            tls.shutdown().await?;
            io::Result::Ok(())
        },
    ));
    for result in timeout(LIMIT, run).await.expect("no hang") {
        result.expect("a healthy connection");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s2n_calls_are_reachable_from_the_stream() {
    let server = echo_server(TlsAcceptor::new(
        &runtime(),
        server_config(pki()).alpn(["h2", "http/1.1"]),
    ));
    let (ours, theirs) = tokio::io::duplex(16 << 10);
    server.send(theirs).unwrap();
    let connector = TlsConnector::new(&runtime(), client_config(pki()).alpn(["http/1.1"]));
    let mut tls = timeout(LIMIT, connector.connect(ours))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tls.alpn().await.unwrap().as_deref(), Some("http/1.1"));
    assert!(
        tls.get_mut().is_some(),
        "the byte stream, between guest calls"
    );
    let info = tls.session_info().await.unwrap();
    assert_eq!(info.version, tlsbox::ProtocolVersion::Tls13);
    tls.request_key_update().await.unwrap();
    tls.write_all(b"ping").await.unwrap();
    tls.flush().await.unwrap();
    let mut echoed = [0; 4];
    timeout(LIMIT, tls.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"ping");
    assert_eq!(tls.key_update_counts().await.unwrap().sent, 1);
    assert_eq!(tls.peek().await.unwrap(), 0);
    assert!(tls.wire_bytes_out().await.unwrap() > 0);
    assert_eq!(tls.alert_received().await.unwrap(), None);
    // close_notify out; the echo server answers with its own, read as 0 bytes.
    tls.shutdown().await.unwrap();
    let mut rest = Vec::new();
    timeout(LIMIT, tls.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
}

/// One connection of a native tokio-rustls client with 0-RTT on to `acceptor`: the client
/// writes `early` (as early data when it holds a ticket), then `late` after the handshake,
/// and reads the echo. Returns what the server's stream reported: early data taken, status.
async fn early_data_round(
    acceptor: &TlsAcceptor,
    connector: &tokio_rustls::TlsConnector,
    early: &[u8],
    late: &[u8],
) -> (usize, tlsbox::EarlyDataStatus, Vec<u8>) {
    let (ours, theirs) = tokio::io::duplex(64 << 10);
    let total = early.len() + late.len();
    let acceptor = acceptor.clone();
    let server = tokio::spawn(async move {
        let mut tls = acceptor.accept(theirs).await.unwrap();
        let taken = tls.early_data_len();
        let status = tls.early_data_status().await.unwrap();
        // Early data is the first of the stream.
        let mut got = vec![0; total];
        tls.read_exact(&mut got).await.unwrap();
        tls.write_all(&got).await.unwrap();
        tls.shutdown().await.unwrap();
        (taken, status, got)
    });
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = timeout(LIMIT, connector.connect(name, ours))
        .await
        .unwrap()
        .unwrap();
    tls.write_all(early).await.unwrap();
    tls.flush().await.unwrap();
    tls.write_all(late).await.unwrap();
    tls.flush().await.unwrap();
    let mut echoed = vec![0; total];
    timeout(LIMIT, tls.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, [early, late].concat());
    let (taken, status, got) = timeout(LIMIT, server).await.unwrap().unwrap();
    assert_eq!(got, echoed);
    (taken, status, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acceptor_takes_early_data_as_the_first_bytes_of_the_stream() {
    use tlsbox::EarlyDataStatus;
    let acceptor = TlsAcceptor::new(&runtime(), server_config(pki()).max_early_data(4096));
    let mut native = (*common::native_client(pki(), ring_provider(None))).clone();
    native.enable_early_data = true;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(native)).early_data(true);
    // First connection: no ticket yet, so no early data; the client takes a ticket.
    let (taken, status, _) = early_data_round(&acceptor, &connector, b"full ", b"handshake").await;
    assert_eq!((taken, status), (0, EarlyDataStatus::NotRequested));
    // Second: the first write goes out as 0-RTT and is read before the rest (R74, R77).
    let (taken, status, _) =
        early_data_round(&acceptor, &connector, b"early bytes, ", b"then the rest").await;
    assert_eq!(taken, b"early bytes, ".len());
    assert_eq!(status, EarlyDataStatus::End);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sleeps_out_the_blinding_delay_then_sends_close_notify() {
    let (ours, theirs) = tokio::io::duplex(16 << 10);
    let server = tokio::spawn(async move {
        let mut tls = tokio_rustls_acceptor().accept(theirs).await.unwrap();
        // A forged application-data record under the connection's keys' nose.
        let mut forged = vec![23, 3, 3, 0, 32];
        forged.extend_from_slice(&[0x5a; 32]);
        tls.get_mut().0.write_all(&forged).await.unwrap();
        // Under the s2n policy no alert comes: the next record is the client's close_notify.
        let mut rest = Vec::new();
        let read = timeout(LIMIT, tls.read_to_end(&mut rest)).await.unwrap();
        (read.map_err(|e| e.to_string()), rest)
    });
    let connector = TlsConnector::new(
        &runtime(),
        client_config(pki())
            .alert_policy(tlsbox::AlertPolicy::S2n)
            .max_blinding_delay_secs(1),
    );
    let mut tls = timeout(LIMIT, connector.connect(ours))
        .await
        .unwrap()
        .unwrap();
    let mut buf = [0; 64];
    let error = timeout(LIMIT, tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap_err();
    let tls_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<tlsbox::Error>());
    assert_eq!(
        tls_error.map(|e| e.name.as_str()),
        Some("decrypt"),
        "{error}"
    );

    // R80: the failure set a blinding delay in [1/3 s, 1 s); shutdown sleeps it out (as
    // s2n-tls-tokio does) instead of failing `shutdown-paused`, then sends close_notify.
    let started = std::time::Instant::now();
    let delay = tls.delay().await.unwrap();
    assert!(
        delay > Duration::ZERO && delay < Duration::from_secs(1),
        "{delay:?}"
    );
    timeout(LIMIT, tls.shutdown()).await.unwrap().unwrap();
    assert!(
        started.elapsed() >= delay,
        "close_notify before the delay was over"
    );
    assert_eq!(tls.delay().await.unwrap(), Duration::ZERO);
    let (read, rest) = server.await.unwrap();
    assert_eq!(read, Ok(0), "the server reads our close_notify as the end");
    assert!(rest.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handshake_closes_after_its_alert_without_a_reset() {
    // A lingering close: the acceptor's alert is followed by a FIN, and what the client sent
    // beyond the failing record is read and dropped, so the client reads the alert and then
    // EOF. Closing with those bytes unread would reset the connection (ECONNRESET here;
    // on some stacks a reset destroys the alert before it is read).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::new(&runtime(), server_config(pki()));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        acceptor.accept(tcp).await.map(drop).unwrap_err()
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    // A record of a type TLS does not define, then 64 KiB the server need not read.
    let mut bytes = vec![24, 3, 3, 0, 3, 1, 2, 3];
    bytes.resize(bytes.len() + 65_536, 0);
    client.write_all(&bytes).await.unwrap();
    client.shutdown().await.unwrap();
    let err = timeout(LIMIT, server).await.unwrap().unwrap();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
    let mut received = Vec::new();
    let end = timeout(LIMIT, client.read_to_end(&mut received))
        .await
        .unwrap();
    assert_eq!(received, [21, 3, 3, 0, 2, 2, 10], "unexpected_message");
    assert!(end.is_ok(), "EOF after the alert, not {end:?}");
}

/// A byte stream that keeps a copy of everything read from it.
struct Recording {
    inner: DuplexStream,
    read: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read
            .lock()
            .unwrap()
            .extend_from_slice(&buf.filled()[before..]);
        polled
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The ticket length of each NewSessionTicket a TLS 1.2 server sent in `flight` (they come
/// before its ChangeCipherSpec, in plaintext; a TLS 1.3 server's are encrypted).
fn tls12_ticket_lengths(flight: &[u8]) -> Vec<usize> {
    let handshake: Vec<u8> = common::records(flight)
        .into_iter()
        .take_while(|record| record[0] != 20)
        .filter(|record| record[0] == 22)
        .flat_map(|record| record[5..].to_vec())
        .collect();
    let mut lengths = Vec::new();
    let mut rest = &handshake[..];
    while rest.len() >= 4 {
        let len =
            4 + usize::from(u16::from_be_bytes([rest[2], rest[3]])) + (usize::from(rest[1]) << 16);
        let (message, tail) = rest.split_at(len.min(rest.len()));
        // new_session_ticket: lifetime hint (4 bytes), then the ticket with a 2-byte length.
        if message[0] == 4 && message.len() >= 10 {
            lengths.push(usize::from(u16::from_be_bytes([message[8], message[9]])));
        }
        rest = tail;
    }
    lengths
}

/// What the client saw of one connection: whether it resumed (client and server agreeing),
/// and the ticket length of each TLS 1.2 NewSessionTicket the server sent.
#[derive(Debug, PartialEq)]
struct Seen {
    resumed: bool,
    tls12_tickets: Vec<usize>,
}

/// Three connections of a native tokio-rustls client (`client`) to `acceptor`, each in an
/// instance of its own.
async fn connections(acceptor: &TlsAcceptor, client: Arc<rustls::ClientConfig>) -> Vec<Seen> {
    let connector = tokio_rustls::TlsConnector::from(client);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (ours, theirs) = tokio::io::duplex(64 << 10);
        let ours = Recording {
            inner: ours,
            read: Arc::default(),
        };
        let from_server = ours.read.clone();
        let acceptor = acceptor.clone();
        let server = tokio::spawn(async move {
            let mut tls = acceptor.accept(theirs).await.unwrap();
            let resumed = tls.session_resumed().await.unwrap();
            let mut byte = [0];
            tls.read_exact(&mut byte).await.unwrap();
            tls.write_all(&byte).await.unwrap();
            tls.shutdown().await.unwrap();
            resumed
        });
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = timeout(LIMIT, connector.connect(name, ours))
            .await
            .unwrap()
            .unwrap();
        // The echo comes after the ticket, so the client has taken it in.
        tls.write_all(b"x").await.unwrap();
        let mut byte = [0];
        timeout(LIMIT, tls.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        let client_resumed =
            tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let server_resumed = timeout(LIMIT, server).await.unwrap().unwrap();
        assert_eq!(client_resumed, server_resumed);
        seen.push(Seen {
            resumed: server_resumed,
            tls12_tickets: tls12_ticket_lengths(&from_server.lock().unwrap()),
        });
    }
    seen
}

/// Whether each of three connections (as [`connections`]) resumed.
async fn resumptions(acceptor: &TlsAcceptor, client: Arc<rustls::ClientConfig>) -> Vec<bool> {
    let seen = connections(acceptor, client).await;
    seen.into_iter().map(|seen| seen.resumed).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acceptor_without_ticket_keys_resumes_sessions_across_connections() {
    // Each accepted connection has an instance of its own; without ticket keys the acceptor
    // makes one random key for all of them, so a ticket from one resumes on the next. With
    // keys set or tickets off, it leaves the config alone.
    let acceptor = TlsAcceptor::new(&runtime(), server_config(pki()));
    let client = common::native_client(pki(), ring_provider(None));
    assert_eq!(resumptions(&acceptor, client).await, [false, true, true]);
}

/// A native TLS 1.2 client resuming by `how`.
fn tls12_client(how: Tls12Resumption) -> Arc<rustls::ClientConfig> {
    let mut config = (*common::native_client(pki(), ring_provider(None))).clone();
    config.resumption = rustls::client::Resumption::in_memory_sessions(8).tls12_resumption(how);
    Arc::new(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_sessions_resume_across_connections_by_ticket_and_by_session_id() {
    // TLS 1.2 resumption across instances: tickets under the acceptor's shared key, and
    // session IDs through the host's session store (sealed). Tickets off: neither.
    let tls12 = server_config(pki()).versions(&[tlsbox::ProtocolVersion::Tls12]);
    let acceptor = TlsAcceptor::new(&runtime(), tls12.clone());
    // A full handshake issues a ticket; a resumption from it sends an empty NewSessionTicket
    // (RFC 5077 §3.3), so the client keeps the ticket it has and the third connection
    // resumes from the same one.
    let seen = connections(&acceptor, tls12_client(Tls12Resumption::SessionIdOrTickets)).await;
    let tickets: Vec<_> = seen.iter().map(|s| s.tls12_tickets.as_slice()).collect();
    assert_eq!(
        seen.iter().map(|s| s.resumed).collect::<Vec<_>>(),
        [false, true, true]
    );
    assert!(matches!(tickets[0], [n] if *n > 0), "{tickets:?}");
    assert_eq!(tickets[1..], [[0], [0]]);
    // Without the extension no ticket at all; the session ID resumes.
    let seen = connections(&acceptor, tls12_client(Tls12Resumption::SessionIdOnly)).await;
    assert_eq!(
        seen,
        [false, true, true].map(|resumed| Seen {
            resumed,
            tls12_tickets: Vec::new()
        })
    );
    let no_tickets = TlsAcceptor::new(&runtime(), tls12.session_tickets(0));
    for how in [
        Tls12Resumption::SessionIdOrTickets,
        Tls12Resumption::SessionIdOnly,
    ] {
        assert_eq!(
            resumptions(&no_tickets, tls12_client(how)).await,
            [false, false, false],
            "{how:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_names_the_server_per_connection() {
    // One connector (its config names no server it will meet); each connection names its
    // own, and that is what is sent as SNI and verified.
    let acceptor = tokio_rustls_acceptor();
    let connector = TlsConnector::new(
        &runtime(),
        Config::client("elsewhere.example").trust(pki().ca_pem.as_bytes()),
    );
    for (name, verifies) in [
        ("localhost", true),
        ("127.0.0.1", true),
        ("elsewhere.example", false),
    ] {
        let (ours, theirs) = tokio::io::duplex(16 << 10);
        let acceptor = acceptor.clone();
        let server = tokio::spawn(async move {
            let tls = acceptor.accept(theirs).await?;
            io::Result::Ok(tls.get_ref().1.server_name().map(str::to_owned))
        });
        let result = timeout(LIMIT, connector.connect_to(name, ours))
            .await
            .unwrap();
        match (verifies, result) {
            (true, Ok(mut tls)) => {
                let info = tls.session_info().await.unwrap();
                // An IP address is verified but never sent as SNI (RFC 6066 §3).
                let sni = (name != "127.0.0.1").then(|| name.to_owned());
                assert_eq!(info.server_name, sni);
                assert_eq!(server.await.unwrap().unwrap(), sni);
            }
            (false, Err(e)) => {
                let e = e
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<tlsbox::Error>())
                    .unwrap();
                assert_eq!(
                    (e.name.as_str(), e.alert),
                    ("certificate-name-mismatch", Some(42)),
                    "{e}"
                );
                assert!(server.await.unwrap().is_err(), "the server saw the alert");
            }
            (verifies, other) => panic!("{name}: expected verified={verifies}, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_inner_gives_the_byte_stream_back() {
    // TLS on a TCP connection, then plain text on the same connection: what comes back is
    // the TcpStream the connector was given, positioned after the last TLS record. (The
    // guest reads exactly one record at a time, so no plain byte was read ahead.)
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::new(&runtime(), server_config(pki()));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let mut over_tls = [0; 8];
        tls.read_exact(&mut over_tls).await?;
        tls.write_all(b"ok").await?;
        tls.flush().await?;
        let mut tcp = tls.into_inner().await;
        let mut plain = String::new();
        tcp.read_to_string(&mut plain).await?;
        io::Result::Ok((over_tls, plain))
    });
    let connector = TlsConnector::new(&runtime(), client_config(pki()));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let mut tls = timeout(LIMIT, connector.connect(tcp))
        .await
        .unwrap()
        .unwrap();
    tls.write_all(b"over tls").await.unwrap();
    let mut ok = [0; 2];
    timeout(LIMIT, tls.read_exact(&mut ok))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&ok, b"ok");
    assert!(
        format!("{tls:?}").starts_with("TlsStream { busy: false"),
        "{tls:?}"
    );
    let mut tcp: TcpStream = tls.into_inner().await;
    assert_eq!(tcp.local_addr().unwrap(), local, "the same socket");
    tcp.write_all(b"plain after tls").await.unwrap();
    tcp.shutdown().await.unwrap();
    let (over_tls, plain) = timeout(LIMIT, server).await.unwrap().unwrap().unwrap();
    assert_eq!(&over_tls, b"over tls");
    assert_eq!(plain, "plain after tls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acceptor_drops_a_client_that_does_not_finish_its_handshake_in_time() {
    assert_eq!(tlsbox::DEFAULT_HANDSHAKE_TIMEOUT, Duration::from_secs(60));
    let acceptor = TlsAcceptor::new(&runtime(), server_config(pki()))
        .handshake_timeout(Some(Duration::from_millis(300)));
    let (mut stalled, theirs) = tokio::io::duplex(16 << 10);
    stalled.write_all(&[22, 3, 1, 0, 200, 1, 0]).await.unwrap(); // a ClientHello's start
    let started = std::time::Instant::now();
    let err = timeout(LIMIT, acceptor.accept(theirs))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The byte stream was dropped: the client sees its end.
    let mut rest = Vec::new();
    assert_eq!(stalled.read_to_end(&mut rest).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_timeout_fails_a_read_that_waits_too_long_and_the_stream_goes_on() {
    let server = echo_server(TlsAcceptor::new(&runtime(), server_config(pki())));
    let (ours, theirs) = tokio::io::duplex(16 << 10);
    server.send(theirs).unwrap();
    let connector = TlsConnector::new(&runtime(), client_config(pki()));
    let mut tls = timeout(LIMIT, connector.connect(ours))
        .await
        .unwrap()
        .unwrap();
    tls.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0; 16];
    let started = std::time::Instant::now();
    let err = timeout(LIMIT, tls.read(&mut buf))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    // Still usable: the echo of what we send now arrives.
    tls.write_all(b"after the timeout").await.unwrap();
    let mut back = [0; 17];
    timeout(LIMIT, tls.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&back, b"after the timeout");
}
