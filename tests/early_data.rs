//! Resumption and 0-RTT early data through the component (rules R69-R78, scenarios
//! T63-T72 adapted to tickets): component against component over scripted transports, and
//! against native rustls.
//!
//! Clients keep their sessions in their instance (one `Endpoint`, several connections);
//! servers seal tickets under shared keys, or — when they take early data — keep single-use
//! sessions in the host's session store, so any server instance resumes them once.

mod common;

use std::sync::Arc;

use tlsbox::{Blocked, Config, Connection, EarlyDataStatus, Endpoint};
use tlsbox_test_support::ScriptedTransport;
use tlsbox_test_support::scripted::Step;

use common::{MemPair, client_config, pki, ring_provider, runtime, server_config};

const HELLO: &[u8] = b"hello world\0";

/// A component client and a component server joined by two scripted transports.
struct Pair {
    client: Connection,
    server: Connection,
    c: ScriptedTransport,
    s: ScriptedTransport,
}

impl Pair {
    fn new(client: &Endpoint, server: &Config) -> Pair {
        let (c, s) = (ScriptedTransport::new(), ScriptedTransport::new());
        Pair {
            client: client.connect(c.clone()).expect("client"),
            server: Connection::new(&runtime(), server, s.clone()).expect("server"),
            c,
            s,
        }
    }

    /// Moves what each side sent to the other.
    fn pump(&self) {
        self.s.push_inbound(&self.c.take_outbound());
        self.c.push_inbound(&self.s.take_outbound());
    }

    fn handshake(&self) {
        for _ in 0..20 {
            let c = self.client.negotiate();
            self.pump();
            let s = self.server.negotiate();
            self.pump();
            if c.is_ok() && s.is_ok() {
                return;
            }
            for r in [c, s] {
                if let Err(e) = r {
                    assert!(e.is_blocked(), "{e}");
                }
            }
        }
        panic!("handshake did not finish");
    }

    /// A full handshake whose ticket the client takes in.
    fn first(client: &Endpoint, server: &Config) {
        let pair = Pair::new(client, server);
        pair.handshake();
        pair.pump();
        assert!(pair.client.recv(1).unwrap_err().is_blocked(), "ticket read");
        assert!(!pair.client.session_resumed().unwrap());
    }
}

fn early_client() -> Endpoint {
    Endpoint::new(&runtime(), &client_config(pki()).early_data(true)).expect("endpoint")
}

fn early_server(max: u32) -> Config {
    server_config(pki()).max_early_data(max)
}

#[test]
fn t63_happy_path() {
    // R72: the early data goes out and the call reports on-read with the bytes it moved;
    // R74: the server reads them before the client's Finished; both then complete.
    let client = early_client();
    let server = early_server(1000);
    Pair::first(&client, &server);
    let pair = Pair::new(&client, &server);
    assert_eq!(
        pair.client.early_data_status().unwrap(),
        EarlyDataStatus::Pending
    );
    assert_eq!(pair.client.max_early_data_size().unwrap(), 1000);
    let p = pair.client.send_early_data(HELLO).unwrap();
    assert_eq!((p.bytes, p.blocked), (12, Blocked::OnRead));
    pair.pump();
    let r = pair.server.recv_early_data(100).unwrap();
    assert_eq!((r.data.as_slice(), r.blocked), (HELLO, Blocked::OnRead));
    assert_eq!(
        pair.server.early_data_status().unwrap(),
        EarlyDataStatus::Accepted
    );
    assert_eq!(pair.server.remaining_early_data_size().unwrap(), 1000 - 12);
    pair.handshake();
    assert!(pair.client.session_resumed().unwrap() && pair.server.session_resumed().unwrap());
    assert_eq!(
        pair.client.early_data_status().unwrap(),
        EarlyDataStatus::End
    );
    assert_eq!(
        pair.server.early_data_status().unwrap(),
        EarlyDataStatus::End
    );
    assert_eq!(pair.client.remaining_early_data_size().unwrap(), 0);
}

#[test]
fn t63_zero_length_variant() {
    let client = early_client();
    let server = early_server(1000);
    Pair::first(&client, &server);
    let pair = Pair::new(&client, &server);
    let p = pair.client.send_early_data(b"").unwrap();
    assert_eq!((p.bytes, p.blocked), (0, Blocked::OnRead));
    pair.pump();
    let r = pair.server.recv_early_data(100).unwrap();
    assert_eq!((r.data.len(), r.blocked), (0, Blocked::OnRead));
    pair.handshake();
}

#[test]
fn t64_server_buffer_too_small() {
    let client = early_client();
    let server = early_server(1000);
    Pair::first(&client, &server);
    let pair = Pair::new(&client, &server);
    pair.client.send_early_data(HELLO).unwrap();
    pair.pump();
    let r = pair.server.recv_early_data(0).unwrap();
    assert_eq!((r.data.len(), r.blocked), (0, Blocked::OnEarlyData));
    let r = pair.server.recv_early_data(1).unwrap();
    assert_eq!(
        (r.data.as_slice(), r.blocked),
        (&b"h"[..], Blocked::OnEarlyData)
    );
    let r = pair.server.recv_early_data(100).unwrap();
    assert_eq!(r.data, &HELLO[1..]);
}

#[test]
fn t65_repeated_early_sends_arrive_together() {
    let client = early_client();
    let server = early_server(1000);
    Pair::first(&client, &server);
    let pair = Pair::new(&client, &server);
    for _ in 0..5 {
        assert_eq!(pair.client.send_early_data(HELLO).unwrap().bytes, 12);
    }
    pair.pump();
    assert_eq!(
        pair.server.recv_early_data(1000).unwrap().data,
        HELLO.repeat(5)
    );
    assert_eq!(pair.client.remaining_early_data_size().unwrap(), 1000 - 60);
}

#[test]
fn t66_not_requested_and_rejected() {
    // No session: not requested, no I/O (R72).
    let client = early_client();
    let server = early_server(1000);
    let pair = Pair::new(&client, &server);
    assert_eq!(
        pair.client.early_data_status().unwrap(),
        EarlyDataStatus::NotRequested
    );
    let p = pair.client.send_early_data(HELLO).unwrap();
    assert_eq!((p.bytes, p.blocked), (0, Blocked::NotBlocked));
    assert!(pair.c.calls().is_empty(), "no transport call");
    pair.handshake();
    assert_eq!(
        pair.server.early_data_status().unwrap(),
        EarlyDataStatus::NotRequested
    );

    // A server maximum of 0: the early data is skipped, the handshake completes.
    Pair::first(&client, &server);
    let pair = Pair::new(&client, &early_server(0));
    assert_eq!(pair.client.send_early_data(HELLO).unwrap().bytes, 12);
    pair.pump();
    let r = pair.server.recv_early_data(100).unwrap();
    assert_eq!((r.data.len(), r.blocked), (0, Blocked::NotBlocked));
    assert_eq!(
        pair.server.early_data_status().unwrap(),
        EarlyDataStatus::Rejected
    );
    pair.handshake();
    assert_eq!(
        pair.client.early_data_status().unwrap(),
        EarlyDataStatus::Rejected
    );
}

#[test]
fn t66_suite_mismatch_rejects() {
    // R79: a session resumes (and takes early data) only under a suite of its hash: made
    // under AES-128-GCM-SHA256, offered to a server that only does AES-256-GCM-SHA384.
    use tlsbox::CipherSuite::{Tls13Aes128GcmSha256, Tls13Aes256GcmSha384};
    let client = early_client();
    Pair::first(
        &client,
        &early_server(1000).cipher_suites(&[Tls13Aes128GcmSha256]),
    );
    let pair = Pair::new(
        &client,
        &early_server(1000).cipher_suites(&[Tls13Aes256GcmSha384]),
    );
    assert_eq!(pair.client.send_early_data(HELLO).unwrap().bytes, 12);
    pair.pump();
    let r = pair.server.recv_early_data(100).unwrap();
    assert_eq!((r.data.len(), r.blocked), (0, Blocked::NotBlocked));
    pair.handshake();
    assert!(!pair.server.session_resumed().unwrap());
    assert_eq!(
        pair.server.early_data_status().unwrap(),
        EarlyDataStatus::Rejected
    );
    assert_eq!(
        pair.client.early_data_status().unwrap(),
        EarlyDataStatus::Rejected
    );
}

#[test]
fn t67_t68_blocking_walk_reports_partial_early_data() {
    // One write per call: the ClientHello's write blocks first (no early byte moves), then
    // the early record's; the bytes are reported once their record went out (R72, T68).
    let client = early_client();
    let server = early_server(65535);
    Pair::first(&client, &server);
    let pair = Pair::new(&client, &server);
    pair.c.script_send([Step::WouldBlock]);
    let e = pair.client.send_early_data(HELLO).unwrap_err();
    assert_eq!(
        (e.name.as_str(), e.blocked),
        ("io-blocked", Blocked::OnWrite)
    );
    pair.c.script_send([Step::All, Step::WouldBlock]);
    let e = pair.client.send_early_data(HELLO).unwrap_err();
    assert_eq!(e.blocked, Blocked::OnWrite, "the early record waits");
    let p = pair.client.send_early_data(HELLO).unwrap();
    assert_eq!((p.bytes, p.blocked), (12, Blocked::OnRead));
    pair.pump();
    assert_eq!(
        pair.server.recv_early_data(100).unwrap().data,
        HELLO,
        "sent once"
    );
}

#[test]
fn t69_t70_send_and_recv_during_early_data() {
    // s2n_send before the handshake is `encrypt` (R29); recv before it is usage.
    let client = early_client();
    let server = early_server(1000);
    Pair::first(&client, &server);
    let pair = Pair::new(&client, &server);
    assert_eq!(pair.client.send(HELLO).unwrap_err().name, "encrypt");
    pair.client.send_early_data(HELLO).unwrap();
    pair.pump();
    assert_eq!(
        pair.server.recv(10).unwrap_err().name,
        "handshake-not-complete"
    );
    assert_eq!(pair.server.recv_early_data(100).unwrap().data, HELLO);
}

#[test]
fn t72_api_misuse_is_a_usage_error() {
    let client = early_client();
    let server = early_server(1000);
    let pair = Pair::new(&client, &server);
    assert_eq!(
        pair.server.send_early_data(HELLO).unwrap_err().name,
        "invalid-state"
    );
    assert_eq!(
        pair.client.recv_early_data(10).unwrap_err().name,
        "invalid-state"
    );
    pair.handshake();
    assert_eq!(
        pair.server.reject_early_data().unwrap_err().name,
        "invalid-state"
    );
}

#[test]
fn tickets_resume_on_another_instance_with_the_same_key_only() {
    // Every server connection here is its own instance; the ticket key is what they share.
    let client = Endpoint::new(&runtime(), &client_config(pki())).unwrap();
    let key = [0x42u8; 32];
    let keyed = server_config(pki()).ticket_keys([key]);
    Pair::first(&client, &keyed);
    let pair = Pair::new(&client, &server_config(pki()).ticket_keys([[1u8; 32], key]));
    pair.handshake();
    assert!(
        pair.server.session_resumed().unwrap(),
        "the rotated-out key still opens"
    );
    let pair = Pair::new(&client, &server_config(pki()).ticket_keys([[1u8; 32]]));
    pair.handshake();
    assert!(
        !pair.server.session_resumed().unwrap(),
        "a foreign key: full handshake"
    );
    // Malformed keys are a usage error.
    let err = match Connection::new(
        &runtime(),
        &server_config(pki()).ticket_keys([vec![0u8; 31]]),
        ScriptedTransport::new(),
    ) {
        Err(err) => err,
        Ok(_) => panic!("a 31-byte key was accepted"),
    };
    assert_eq!(err.name, "invalid-argument");
}

#[test]
fn early_data_resumes_on_another_server_instance_once() {
    // Sessions of early-data servers live in the host's session store: a second server
    // instance accepts the early data; a replay of the same flight to a third gets none.
    let client = early_client();
    let server = early_server(1000);
    Pair::first(&client, &server);
    let pair = Pair::new(&client, &server);
    pair.client.send_early_data(b"pay once").unwrap();
    let flight = pair.c.take_outbound();
    pair.s.push_inbound(&flight);
    assert_eq!(pair.server.recv_early_data(100).unwrap().data, b"pay once");
    pair.handshake();

    let replay = ScriptedTransport::new();
    replay.push_inbound(&flight);
    let replayed = Connection::new(&runtime(), &server, replay).unwrap();
    let r = replayed.recv_early_data(100).unwrap();
    assert!(r.data.is_empty(), "replayed early data is never delivered");
    assert_eq!(
        replayed.early_data_status().unwrap(),
        EarlyDataStatus::Rejected
    );
}

#[test]
fn rejected_early_data_is_skipped_up_to_the_allowance() {
    // RFC 8446 §4.2.10 through the component: 1, 8,192, 8,193 and 16,384 bytes at a server
    // taking none, and the full 65,535 at one that takes that much but refuses this one.
    let client = early_client();
    for (len, max) in [(1, 0), (8192, 0), (8193, 0), (16384, 0), (65535, 65535)] {
        // A fresh ticket allowing 65,535 bytes each round (tickets are single-use).
        Pair::first(&client, &early_server(65535));
        let pair = Pair::new(&client, &early_server(max));
        pair.server.reject_early_data().unwrap();
        let data = vec![0x5a; len];
        let mut sent = 0;
        while sent < len {
            let p = pair.client.send_early_data(&data[sent..]).unwrap();
            assert!(p.bytes > 0, "{len}: allowance");
            sent += p.bytes as usize;
        }
        pair.handshake();
        pair.client.send_all(b"after").unwrap();
        pair.pump();
        assert_eq!(
            pair.server.recv(100).unwrap().data,
            b"after",
            "{len} bytes skipped"
        );
    }
}

#[test]
fn native_rustls_client_early_data_accepted() {
    let mut native = (*common::native_client(pki(), ring_provider(None))).clone();
    native.enable_early_data = true;
    let native = Arc::new(native);
    let server = early_server(4096);
    // First connection: the native client takes a ticket.
    let mut pair = MemPair::server(&server, native.clone());
    pair.handshake().unwrap();
    pair.pump().unwrap();
    // Second: 0-RTT.
    let mut pair = MemPair::server(&server, native);
    let rustls::Connection::Client(c) = &mut pair.peer else {
        unreachable!()
    };
    use std::io::Write;
    c.early_data()
        .expect("0-RTT offered")
        .write_all(b"native 0-RTT")
        .unwrap();
    pair.pump().unwrap();
    let r = pair.conn.recv_early_data(100).unwrap();
    assert_eq!(r.data, b"native 0-RTT");
    pair.handshake().unwrap();
    let rustls::Connection::Client(c) = &pair.peer else {
        unreachable!()
    };
    assert!(c.is_early_data_accepted());
}

#[test]
fn component_client_early_data_accepted_by_native_rustls() {
    let mut native = (*common::native_server(pki(), ring_provider(None))).clone();
    native.max_early_data_size = 4096;
    native.send_tls13_tickets = 1;
    let native = Arc::new(native);
    let client = early_client();
    let wire = ScriptedTransport::new();
    let mut pair = MemPair::from_parts(client.connect(wire.clone()).unwrap(), wire, native.clone());
    pair.handshake().unwrap();
    pair.pump().unwrap();
    assert!(pair.conn.recv(1).unwrap_err().is_blocked(), "ticket read");

    let wire = ScriptedTransport::new();
    let mut pair = MemPair::from_parts(client.connect(wire.clone()).unwrap(), wire, native);
    let p = pair.conn.send_early_data(b"component 0-RTT").unwrap();
    assert_eq!(p.bytes, 15);
    pair.handshake().unwrap();
    let rustls::Connection::Server(s) = &mut pair.peer else {
        unreachable!()
    };
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut s.early_data().expect("accepted"), &mut got).ok();
    assert_eq!(got, b"component 0-RTT");
    assert_eq!(pair.conn.early_data_status().unwrap(), EarlyDataStatus::End);
}

#[test]
fn component_client_early_data_accepted_by_openssl_s_server() {
    use std::net::TcpStream;
    use std::time::{Duration, Instant};
    use tlsbox::TcpTransport;

    let dir = tempfile::tempdir().unwrap();
    for (name, pem) in [
        ("ca.pem", &pki().ca_pem),
        ("cert.pem", &pki().server_cert_pem),
        ("key.pem", &pki().server_key_pem),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    let mut command = std::process::Command::new("openssl");
    command.current_dir(dir.path()).args([
        "s_server",
        "-accept",
        "127.0.0.1:0",
        "-naccept",
        "2",
        "-early_data",
        "-cert",
        "cert.pem",
        "-key",
        "key.pem",
    ]);
    // s_server's default mode quits at the end of its input: keep stdin open.
    let (_server, _stdin, mut stdout) =
        common::peers::Process::spawn_piped(command).expect("s_server");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut wait_stdout = |needle: &str| -> String {
        let mut len = 0;
        loop {
            let text = String::from_utf8_lossy(stdout.read_at_least(len + 1, deadline).unwrap())
                .into_owned();
            if text.contains(needle) {
                return text;
            }
            len = text.len();
        }
    };
    let out = wait_stdout("ACCEPT ");
    let port = out
        .lines()
        .find_map(|l| l.strip_prefix("ACCEPT "))
        .and_then(|a| a.rsplit(':').next())
        .unwrap()
        .to_owned();
    let addr = format!("127.0.0.1:{port}");
    let connect = |client: &Endpoint| {
        let tcp = TcpStream::connect(&addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        client.connect(TcpTransport::new(tcp)).unwrap()
    };
    let negotiate = |conn: &Connection| {
        while let Err(e) = conn.negotiate() {
            assert!(e.is_blocked() && Instant::now() < deadline, "{e}");
        }
    };
    let client = early_client();

    // A full handshake; the ticket follows it. A connection made (not connected) from the
    // same endpoint shows the allowance once the ticket is stored.
    let first = connect(&client);
    negotiate(&first);
    let allowance = || {
        client
            .connect(ScriptedTransport::new())
            .unwrap()
            .max_early_data_size()
            .unwrap()
    };
    while allowance() == 0 {
        assert!(Instant::now() < deadline, "no ticket from s_server");
        match first.recv(100) {
            Err(e) if e.is_blocked() => {}
            other => panic!("only the ticket comes: {other:?}"),
        }
    }
    drop(first);

    let second = connect(&client);
    let p = second.send_early_data(b"early hello\n").unwrap();
    assert_eq!(p.bytes, 12);
    negotiate(&second);
    assert_eq!(second.early_data_status().unwrap(), EarlyDataStatus::End);
    wait_stdout("early hello");
}

#[test]
fn no_record_is_skipped_after_a_hello_retry_request() {
    // RFC 8446 §4.2.10: after a HelloRetryRequest the server skips the early data that
    // came with the first ClientHello, and the client sends none after its second; from
    // then on a record that does not open is bad_record_mac, not more early data to skip.
    let client = early_client();
    Pair::first(&client, &early_server(65535));
    // The client's key share is X25519; a server that takes only P-256 asks again.
    let server = early_server(65535).kx_groups(&[tlsbox::KxGroup::Secp256r1]);
    let pair = Pair::new(&client, &server);
    assert!(pair.client.send_early_data(b"early").unwrap().bytes > 0);
    pair.pump();
    assert!(
        pair.server.negotiate().unwrap_err().is_blocked(),
        "retry request"
    );
    pair.pump();
    assert!(
        pair.client.negotiate().unwrap_err().is_blocked(),
        "second hello"
    );
    pair.pump();
    assert!(
        pair.server.negotiate().unwrap_err().is_blocked(),
        "server flight"
    );
    pair.pump();
    pair.client.negotiate().expect("client finished");
    let mut forged = vec![23, 3, 3, 0, 64];
    forged.extend_from_slice(&[0x5a; 64]);
    pair.s.push_inbound(&forged);
    pair.pump();
    let err = pair.server.negotiate().unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("decrypt", Some(20)),
        "{err}"
    );
    // The alert reaches the client, sealed under the server's keys.
    pair.pump();
    let err = pair.client.recv(10).unwrap_err();
    assert_eq!(
        (err.kind, err.alert),
        (tlsbox::ErrorKind::Alert, Some(20)),
        "{err}"
    );
}

/// Records a native client's TLS 1.3 client handshake traffic secret (a `KeyLog`).
#[derive(Debug, Default)]
struct HandshakeSecret(std::sync::Mutex<Option<Vec<u8>>>);

impl rustls::KeyLog for HandshakeSecret {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        if label == "CLIENT_HANDSHAKE_TRAFFIC_SECRET" {
            *self.0.lock().unwrap() = Some(secret.to_vec());
        }
    }
}

/// A record with inner type handshake sealed under a TLS 1.3 AES-256-GCM-SHA384 traffic
/// secret (RFC 8446 §7.3 key and IV), at sequence number 0.
fn seal_handshake_fragment(secret: &[u8], fragment: &[u8]) -> Vec<u8> {
    use rustls::crypto::cipher::{AeadKey, Iv, OutboundChunks, OutboundPlainMessage};
    let suite = rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384
        .tls13()
        .expect("TLS 1.3 suite");
    let expander = suite
        .hkdf_provider
        .expander_for_okm(&rustls::crypto::tls13::OkmBlock::new(secret));
    let expand_label = |label: &[u8], out: &mut [u8]| {
        let len = u16::try_from(out.len()).unwrap().to_be_bytes();
        let label_len = [u8::try_from(6 + label.len()).unwrap()];
        let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
        expander.expand_slice(&info, out).expect("expand");
    };
    let (mut key, mut iv) = ([0u8; 32], [0u8; 12]);
    expand_label(b"key", &mut key);
    expand_label(b"iv", &mut iv);
    let mut sealer = suite.aead_alg.encrypter(AeadKey::from(key), Iv::new(iv));
    let msg = OutboundPlainMessage {
        typ: rustls::ContentType::Handshake,
        version: rustls::ProtocolVersion::TLSv1_2,
        payload: OutboundChunks::Single(fragment),
    };
    sealer.encrypt(msg, 0).expect("seal").encode()
}

#[test]
fn no_record_is_skipped_once_one_opens_under_the_handshake_keys() {
    // RFC 8446 §4.2.10: a server skipping rejected early data stops at the first record
    // that opens under the handshake keys, the start of the client's second flight; a
    // record after it that does not open is bad_record_mac. Here the first is a fragment
    // of a Finished message and the second garbage (tlsfuzzer's "undecryptable record later
    // in handshake together with early_data").
    let secret = Arc::new(HandshakeSecret::default());
    let mut native = (*common::native_client(
        pki(),
        ring_provider(Some(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384)),
    ))
    .clone();
    native.enable_early_data = true;
    native.key_log = secret.clone();
    let native = Arc::new(native);
    let mut pair = MemPair::server(&early_server(4096), native.clone());
    pair.handshake().unwrap();
    pair.pump().unwrap();

    let mut pair = MemPair::server(&early_server(0), native);
    let rustls::Connection::Client(c) = &mut pair.peer else {
        unreachable!()
    };
    use std::io::Write;
    c.early_data()
        .expect("0-RTT offered")
        .write_all(b"rejected")
        .unwrap();
    pair.pump().unwrap();
    assert!(
        pair.conn.negotiate().unwrap_err().is_blocked(),
        "flight out"
    );
    pair.peer_absorb().unwrap();
    let secret = secret.0.lock().unwrap().clone().expect("handshake secret");
    // Finished (type 20, 48 bytes of verify_data) cut after 16 bytes: rustls waits for more.
    let mut fragment = vec![20, 0, 0, 48];
    fragment.resize(16, 0);
    pair.wire
        .push_inbound(&seal_handshake_fragment(&secret, &fragment));
    let mut garbage = vec![23, 3, 3, 0, 64];
    garbage.resize(5 + 64, 0x5a);
    pair.wire.push_inbound(&garbage);
    let err = pair.conn.negotiate().unwrap_err();
    assert_eq!(
        (err.name.as_str(), err.alert),
        ("decrypt", Some(20)),
        "{err}"
    );
}
