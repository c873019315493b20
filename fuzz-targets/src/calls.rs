//! Sequences of the s2n calls over a transport that returns arbitrary partial counts,
//! would-block and errors (and sometimes lies), against a native rustls peer.
//!
//! The application follows the retry rules (a send that blocked or stopped early is
//! retried with the bytes it did not acknowledge), so the checks are exact:
//!
//! - the peer receives a prefix of the application's stream, and the component a prefix
//!   of the peer's: no byte lost, duplicated or altered, whatever the transport does;
//! - once the transport behaves, a connection that saw no failure delivers exactly the
//!   acknowledged bytes, and everything the peer sent;
//! - each result has a shape the contract allows (R14, R18, R20, R21: a send reports all
//!   its bytes, or fewer with `on-write`, or a block; a recv at most what was asked), and no
//!   error is `internal`;
//! - the peer never fails on what the component wrote (it may only receive an alert).
//!
//! A caller that breaks the retry rules (an operation of its own) gets an error value or
//! has its bytes taken; after that only the prefix and shape checks apply.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::rc::Rc;

use tlsbox_guest::conn::Connection;
use tlsbox_guest::io::Socket;
use tlsbox_guest::types::{
    Blocked, Error, ErrorKind, IoError, ProtocolVersion, RecordSizing, Role,
};

use crate::fixture::{self, Input};

/// Operations per run, at most (a run must end quickly whatever the input).
const MAX_OPS: usize = 256;
/// Largest single send or recv request.
const MAX_LEN: usize = 40_000;

/// The transport between the component and the native peer.
#[derive(Default)]
struct Net {
    /// Decisions for the transport's replies; when it runs out the transport behaves.
    tape: VecDeque<u8>,
    /// Accepted from the component, not yet read by the peer.
    to_peer: Vec<u8>,
    /// Written by the peer, not yet delivered to the component.
    to_component: VecDeque<u8>,
    /// The transport has returned an error or lied: failures may follow.
    misbehaved: bool,
}

#[derive(Clone, Default)]
struct FuzzSocket(Rc<RefCell<Net>>);

impl Socket for FuzzSocket {
    fn send(&mut self, data: &[u8]) -> Result<u32, IoError> {
        let mut net = self.0.borrow_mut();
        let len = data.len() as u32;
        let accept = |net: &mut Net, n: u32| {
            net.to_peer.extend_from_slice(&data[..n as usize]);
            Ok(n)
        };
        match net.tape.pop_front() {
            None => accept(&mut net, len),
            Some(d) => match d % 16 {
                0 | 1 => Err(IoError::WouldBlock),
                2 => Ok(0),
                3..=6 => {
                    let k = net.tape.pop_front().unwrap_or(0);
                    let n = if len == 0 { 0 } else { u32::from(k) % len + 1 };
                    accept(&mut net, n)
                }
                7 => {
                    net.misbehaved = true;
                    Err(IoError::Other("transient".into()))
                }
                8 => {
                    // A lie: more than offered, and nothing taken.
                    net.misbehaved = true;
                    Ok(len + 1)
                }
                9 if d >= 0xf0 => {
                    net.misbehaved = true;
                    Err(IoError::BrokenPipe)
                }
                _ => accept(&mut net, len),
            },
        }
    }

    fn recv(&mut self, max: u32) -> Result<Vec<u8>, IoError> {
        let mut net = self.0.borrow_mut();
        let deliver = |net: &mut Net, n: usize| -> Result<Vec<u8>, IoError> {
            let n = n.min(net.to_component.len()).min(max as usize);
            if n == 0 {
                return Err(IoError::WouldBlock);
            }
            Ok(net.to_component.drain(..n).collect())
        };
        match net.tape.pop_front() {
            None => deliver(&mut net, usize::MAX),
            Some(d) => match d % 16 {
                0 | 1 => Err(IoError::WouldBlock),
                2..=5 => {
                    let k = usize::from(net.tape.pop_front().unwrap_or(0)) + 1;
                    deliver(&mut net, k)
                }
                6 => Ok(Vec::new()),
                7 => {
                    net.misbehaved = true;
                    Err(IoError::Other("transient".into()))
                }
                8 => {
                    // A lie: more than asked for, and nothing of the stream.
                    net.misbehaved = true;
                    Ok(vec![0x17; max as usize + 1])
                }
                9 if d >= 0xf0 => {
                    // An early end of stream.
                    net.misbehaved = true;
                    Err(IoError::Closed)
                }
                _ => deliver(&mut net, usize::MAX),
            },
        }
    }
}

/// Whether the connection stays usable after `e`: a usage error, a send before the
/// handshake completes (`encrypt`, which changes nothing: R29), and a transport error other
/// than a broken pipe (the transport's `other` leaves the connection usable).
fn survivable(e: &Error, handshaking: bool) -> bool {
    match e.kind {
        ErrorKind::Usage => true,
        ErrorKind::Protocol => e.name == "encrypt" && handshaking,
        ErrorKind::Io => e.name != "broken-pipe",
        _ => false,
    }
}

/// Byte `i` of a stream (so a lost, repeated or moved byte shows).
fn stream_byte(seed: u8, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 8).wrapping_mul(7) ^ usize::from(seed)) as u8
}

fn stream(seed: u8, from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(|i| stream_byte(seed, i)).collect()
}

/// The application's and the peer's view of the run.
struct Run {
    conn: Connection<FuzzSocket>,
    net: Rc<RefCell<Net>>,
    peer: rustls::Connection,
    /// Acknowledged application bytes.
    acked: usize,
    /// The unacknowledged send the application must retry: its length from `acked`.
    pending: Option<usize>,
    /// Application bytes the peer has received.
    peer_got: usize,
    /// Bytes the peer has written.
    peer_sent: usize,
    /// Bytes the peer is to write once its handshake is done.
    peer_backlog: usize,
    /// Peer bytes the component has returned.
    component_got: usize,
    /// The peer received our close_notify or an alert.
    peer_done: bool,
    /// The peer has sent close_notify.
    peer_closed: bool,
    /// A call failed with something other than a block or a usage error.
    failed: bool,
    /// The application broke the retry rules.
    rules_broken: bool,
    /// The application shut the connection down: the peer's data may go unread.
    reads_closed: bool,
}

const APP: u8 = 0x5a;
const PEER: u8 = 0xa5;

/// What a run moved, once settled.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The handshake completed.
    pub handshake: bool,
    /// Application bytes acknowledged to the application.
    pub acknowledged: usize,
    /// Application bytes the peer received.
    pub peer_received: usize,
    /// Peer bytes the component returned.
    pub component_received: usize,
}

/// Runs one input: a mode byte, the length of the operation list (u16), the operations,
/// then the transport's tape.
pub fn run(data: &[u8]) {
    outcome(data);
}

/// [`run`], reporting what moved.
pub fn outcome(data: &[u8]) -> Outcome {
    let mut input = Input(data);
    let mode = input.u8();
    let ops_len = usize::from(input.u16());
    let mut ops = Input(input.bytes(ops_len));
    let server = mode & 1 != 0;
    let config = fixture::config(u16::from(mode & 0x7f), || {
        let role = if server { Role::Server } else { Role::Client };
        let mut options = fixture::options(role, false);
        if mode & 2 != 0 {
            options.versions = vec![ProtocolVersion::Tls12];
            options.cipher_suites = Vec::new();
        }
        options.recv_multi_record = mode & 4 != 0;
        options.recv_buffering = mode & 8 != 0;
        options.record_sizing = match (mode >> 4) & 3 {
            0 => RecordSizing::Default,
            1 => RecordSizing::PreferThroughput,
            _ => RecordSizing::PreferLowLatency,
        };
        if mode & 0x40 != 0 {
            options.send_buffer_size = Some(4096);
        }
        options
    });
    let net = Rc::new(RefCell::new(Net {
        tape: input.0.iter().copied().collect(),
        ..Net::default()
    }));
    let conn = Connection::new(&config, FuzzSocket(net.clone())).expect("connection");
    // The peer buffers whatever it is given (nothing is refused for space).
    let mut peer = fixture::native_peer(server);
    peer.set_buffer_limit(None);
    let mut run = Run {
        conn,
        net,
        peer,
        acked: 0,
        pending: None,
        peer_got: 0,
        peer_sent: 0,
        peer_backlog: 0,
        component_got: 0,
        peer_done: false,
        peer_closed: false,
        failed: false,
        rules_broken: false,
        reads_closed: false,
    };
    run.pump();
    for _ in 0..MAX_OPS {
        if ops.is_empty() {
            break;
        }
        run.op(&mut ops);
        run.pump();
    }
    run.settle();
    Outcome {
        handshake: !run.conn_is_handshaking(),
        acknowledged: run.acked,
        peer_received: run.peer_got,
        component_received: run.component_got,
    }
}

impl Run {
    fn op(&mut self, ops: &mut Input<'_>) {
        match ops.u8() % 14 {
            0 | 1 => {
                let len = usize::from(ops.u16()) % MAX_LEN;
                self.send(len, None);
            }
            2 => {
                let len = usize::from(ops.u16()) % MAX_LEN;
                let splits = [ops.u16(), ops.u16(), ops.u16()];
                let offset = usize::from(ops.u8());
                self.send(len, Some((splits, offset)));
            }
            3 | 4 => {
                let max = usize::from(ops.u16()) % MAX_LEN;
                self.recv(max);
            }
            5 => {
                let _ = self.conn.peek();
                let _ = self.conn.peek_buffered();
            }
            6 => {
                let r = self.conn.flush();
                self.check(&r, Some(Blocked::OnWrite));
            }
            7 => {
                let r = self.conn.request_key_update();
                self.check(&r, None);
            }
            8 => {
                let len = usize::from(ops.u16()) % MAX_LEN;
                self.peer_write(len);
            }
            9 => {
                let _ = self.peer.refresh_traffic_keys();
            }
            10 => {
                let r = self.conn.negotiate();
                self.check(&r, None);
            }
            11 => match ops.u8() % 4 {
                0 => {
                    // Before TLS 1.3 this closes the read side too (R60).
                    self.reads_closed = true;
                    let r = self.conn.shutdown_send();
                    self.check(&r, Some(Blocked::OnWrite));
                }
                1 => {
                    // Application data met while draining is discarded (R61, as in s2n).
                    self.reads_closed = true;
                    let _ = self.conn.shutdown();
                }
                // Only once its handshake is done: rustls counts its close_notify as a fatal
                // alert sent, and one more (for the component's close_notify during the
                // handshake, a warning TLS 1.3 refuses) trips its debug assertion.
                2 if !self.peer.is_handshaking() => {
                    self.peer_write(0);
                    self.peer.send_close_notify();
                    self.peer_closed = true;
                }
                2 => {}
                _ => {
                    let _ = self.conn.send_early_data(b"early");
                    let _ = self.conn.recv_early_data(64);
                }
            },
            12 => {
                // Against the rules: a send of bytes that are not the stream's (in place of
                // the pending retry, if there is one).
                let len = usize::from(ops.u16()) % 64;
                self.rules_broken = true;
                let data = vec![0xee; len];
                let _ = self.conn.send(&data);
            }
            _ => {
                let _ = self.conn.session_info();
                let _ = self.conn.key_update_counts();
            }
        }
    }

    /// A send of `len` new bytes, or the retry of the pending one, as one buffer or as
    /// `sendv_with_offset` over split buffers behind an offset prefix.
    fn send(&mut self, len: usize, vectored: Option<([u16; 3], usize)>) {
        let len = self.pending.unwrap_or(len);
        let data = stream(APP, self.acked, len);
        let result = match vectored {
            None => self.conn.send(&data),
            Some((splits, offset)) => {
                let mut with_prefix = vec![0xcc; offset];
                with_prefix.extend_from_slice(&data);
                let mut cuts: Vec<usize> = splits
                    .iter()
                    .map(|s| usize::from(*s) % (with_prefix.len() + 1))
                    .collect();
                cuts.sort_unstable();
                let mut bufs = Vec::new();
                let mut at = 0;
                for cut in cuts {
                    bufs.push(&with_prefix[at..cut]);
                    at = cut;
                }
                bufs.push(&with_prefix[at..]);
                self.conn.sendv_with_offset(&bufs, offset as u64)
            }
        };
        match result {
            Ok(progress) => {
                match progress.blocked {
                    Blocked::NotBlocked => assert_eq!(progress.bytes, len, "R18"),
                    Blocked::OnWrite => assert!(
                        progress.bytes > 0 && progress.bytes < len,
                        "R20: {} of {len}",
                        progress.bytes
                    ),
                    other => panic!("send reported {other:?}"),
                }
                self.acked += progress.bytes;
                self.pending = (progress.bytes < len).then(|| len - progress.bytes);
            }
            Err(e) => {
                self.check_error(&e, Some(Blocked::OnWrite));
                // Blocked or failed, the bytes are not acknowledged: the retry presents
                // them again (R23, R26).
                self.pending = Some(len);
            }
        }
    }

    fn recv(&mut self, max: usize) {
        match self.conn.recv(max) {
            Ok(r) => {
                assert!(r.data.len() <= max, "recv returned more than asked");
                let from = self.later_run(&r.data);
                let expected = stream(PEER, from, r.data.len());
                assert_eq!(r.data, expected, "the component's plaintext is the peer's");
                self.component_got = from + r.data.len();
                assert!(self.component_got <= self.peer_sent);
            }
            Err(e) => self.check_error(&e, Some(Blocked::OnRead)),
        }
    }

    /// Where in the peer's stream `data`, returned by a recv, must start: right after what
    /// the component returned before; after a shutdown, which discards the application
    /// data it meets while draining (R61), at the first place from there where it matches
    /// (never earlier, so nothing is returned twice).
    fn later_run(&self, data: &[u8]) -> usize {
        if !self.reads_closed || data.is_empty() {
            return self.component_got;
        }
        let head = &data[..data.len().min(8)];
        (self.component_got..=self.peer_sent.saturating_sub(data.len()))
            .filter(|&at| {
                head.iter()
                    .enumerate()
                    .all(|(k, b)| stream_byte(PEER, at + k) == *b)
            })
            .find(|&at| stream(PEER, at, data.len()) == data)
            .unwrap_or(self.component_got)
    }

    fn check<T>(&mut self, result: &Result<T, Error>, blocked: Option<Blocked>) {
        if let Err(e) = result {
            self.check_error(e, blocked);
        }
    }

    /// Errors carry a stable name, never `internal`; a block has the direction the call
    /// reports (R14), where it has only one.
    fn check_error(&mut self, e: &Error, blocked: Option<Blocked>) {
        assert!(!e.name.is_empty());
        assert_ne!(e.kind, ErrorKind::Internal, "{e}");
        if e.is_blocked() {
            assert!(
                matches!(e.blocked, Blocked::OnRead | Blocked::OnWrite),
                "{e:?}"
            );
            if let Some(blocked) = blocked {
                assert_eq!(e.blocked, blocked, "{e:?}");
            }
        } else if !survivable(e, self.conn_is_handshaking()) {
            // Anything else ends the connection.
            self.failed = true;
        }
    }

    /// The peer writes `len` more bytes of its stream, once its handshake is done (rustls
    /// would buffer them until then, and drop them at a close_notify).
    fn peer_write(&mut self, len: usize) {
        self.peer_backlog += len;
        if self.peer_closed || self.peer_done || self.peer.is_handshaking() {
            return;
        }
        // Counted as rustls takes them: a write that stops part way (write_all's error)
        // has still sent what it took.
        let data = stream(PEER, self.peer_sent, self.peer_backlog);
        let mut taken = 0;
        while let Ok(n @ 1..) = self.peer.writer().write(&data[taken..]) {
            taken += n;
        }
        self.peer_sent += taken;
        self.peer_backlog -= taken;
    }

    /// Moves bytes between the transport and the peer; the peer must never fail on what
    /// the component wrote.
    fn pump(&mut self) {
        self.peer_write(0);
        let incoming = std::mem::take(&mut self.net.borrow_mut().to_peer);
        let mut rest = &incoming[..];
        while !rest.is_empty() && !self.peer_done {
            // Ok(0): the peer takes no more (it has seen close_notify).
            if !matches!(self.peer.read_tls(&mut rest), Ok(1..)) {
                break;
            }
            match self.peer.process_new_packets() {
                Ok(_) => {}
                Err(rustls::Error::AlertReceived(_)) => self.peer_done = true,
                Err(e) => panic!("the peer failed on the component's bytes: {e}"),
            }
            self.drain_peer();
        }
        let mut out = Vec::new();
        while self.peer.wants_write() {
            if self.peer.write_tls(&mut out).is_err() {
                break;
            }
        }
        self.net.borrow_mut().to_component.extend(out);
    }

    /// Takes the plaintext the peer has received, checking it against the application's
    /// stream.
    fn drain_peer(&mut self) {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match self.peer.reader().read(&mut buf) {
                Ok(0) => {
                    self.peer_done = true;
                    return;
                }
                Ok(n) => {
                    if !self.rules_broken {
                        assert_eq!(
                            buf[..n],
                            stream(APP, self.peer_got, n)[..],
                            "the peer's plaintext is the application's"
                        );
                    }
                    self.peer_got += n;
                }
                Err(_) => return,
            }
        }
    }

    /// With a behaving transport: finish the pending send, read everything the peer sent,
    /// and check that nothing was lost.
    fn settle(&mut self) {
        self.net.borrow_mut().tape.clear();
        let exact = !self.failed && !self.rules_broken && !self.net.borrow().misbehaved;
        // Rounds until done, or until 64 rounds in a row move nothing (the peer may have
        // megabytes queued: recv takes at most MAX_LEN a round).
        let mut idle = 0;
        while idle < 64 {
            let before = (self.acked, self.peer_got, self.component_got);
            let _ = self.conn.negotiate();
            if let Some(len) = self.pending {
                self.send(len, None);
            }
            let _ = self.conn.flush();
            self.pump();
            if self.component_got < self.peer_sent && !self.reads_closed {
                self.recv(MAX_LEN);
            }
            self.pump();
            let done = !self.conn_is_handshaking()
                && self.pending.is_none()
                && self.peer_got == self.acked
                && (self.reads_closed || self.component_got == self.peer_sent);
            if done || self.failed {
                break;
            }
            idle = if before == (self.acked, self.peer_got, self.component_got) {
                idle + 1
            } else {
                0
            };
        }
        if exact && !self.failed && !self.conn_is_handshaking() {
            assert!(self.pending.is_none(), "the pending send went through");
            assert_eq!(self.peer_got, self.acked, "every acknowledged byte arrived");
            if !self.reads_closed {
                assert_eq!(
                    self.component_got, self.peer_sent,
                    "every peer byte arrived"
                );
            }
        }
        assert!(self.rules_broken || self.peer_got <= self.acked + self.pending.unwrap_or(0));
    }

    fn conn_is_handshaking(&self) -> bool {
        self.conn.session_info().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(mode: u8, ops: &[u8], tape: &[u8]) -> Vec<u8> {
        let mut data = vec![mode];
        data.extend((ops.len() as u16).to_be_bytes());
        data.extend_from_slice(ops);
        data.extend_from_slice(tape);
        data
    }

    #[test]
    fn an_echo_moves_every_byte_both_ways_in_both_roles() {
        // negotiate (four times), send 4096, peer writes 2048, recv 16384, flush.
        let ops = [
            10, 10, 10, 10, 0, 0x10, 0x00, 8, 0x08, 0x00, 3, 0x40, 0x00, 6,
        ];
        for mode in [0, 1, 2, 3] {
            let outcome = outcome(&input(mode, &ops, &[]));
            assert_eq!(
                outcome,
                Outcome {
                    handshake: true,
                    acknowledged: 4096,
                    peer_received: 4096,
                    component_received: 2048,
                },
                "mode {mode}"
            );
        }
    }

    #[test]
    fn a_transport_that_blocks_and_splits_still_moves_every_byte() {
        let ops = [
            10, 10, 10, 10, 0, 0x9c, 0x3f, 2, 0x10, 0, 0, 1, 0, 2, 0, 3, 9, 6, 8, 0x10, 0, 3, 0x10,
            0,
        ];
        let tape = [3u8, 100, 0, 2, 5, 1, 3, 1, 0, 4, 7].repeat(20);
        let outcome = outcome(&input(0x10, &ops, &tape));
        assert!(outcome.handshake);
        assert_eq!(outcome.peer_received, outcome.acknowledged);
        assert!([39_999, 39_999 + 4096].contains(&outcome.acknowledged));
        assert_eq!(outcome.component_received, 4096);
    }
}
