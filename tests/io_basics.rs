//! Contract behaviour through the real component that the s2n differential suites
//! (tests/send.rs, tests/recv.rs) cannot show, because s2n cannot be put in that state or
//! tlsbox departs from it on purpose: rustls-driven KeyUpdates, closure by version, fatal
//! alerts from a rustls peer, fragment caps, and the 0-byte-send departure.

mod common;

use common::*;
use tlsbox::{Blocked, CipherSuite, ErrorKind};
use tlsbox_test_support::scripted::{Direction, Step};

/// The contract's fixture with default settings.
fn fixture() -> MemPair {
    contract_pair(client_config(pki()))
}

fn lens(pair: &MemPair, direction: Direction) -> Vec<usize> {
    pair.wire
        .calls()
        .iter()
        .filter(|c| c.direction == direction)
        .map(|c| c.requested)
        .collect()
}

#[test]
fn blocked_send_is_retried_with_the_same_data() {
    // R21, R23: nothing acknowledged -> io-blocked on-write; the retry completes.
    let mut pair = fixture();
    pair.wire.script_send([Step::WouldBlock]);
    let err = pair.conn.send(b"hello world\0").unwrap_err();
    assert_eq!(
        (err.kind, err.name.as_str(), err.blocked),
        (ErrorKind::Blocked, "io-blocked", Blocked::OnWrite)
    );
    let p = pair.conn.send(b"hello world\0").unwrap();
    assert_eq!((p.bytes, p.blocked), (12, Blocked::NotBlocked));
    assert_eq!(
        pair.peer_received(),
        b"hello world\0",
        "no byte lost or doubled"
    );
}

#[test]
fn partial_send_reports_whole_records() {
    // R20, R21: the first record goes out, the second blocks -> 8087, on-write.
    let mut pair = fixture();
    let big = payload(16394, 2);
    pair.wire
        .script_send([Step::All, Step::Allow(100), Step::WouldBlock]);
    let p = pair.conn.send(&big).unwrap();
    assert_eq!((p.bytes, p.blocked), (8087, Blocked::OnWrite));
    let p = pair.conn.send(&big[8087..]).unwrap();
    assert_eq!((p.bytes, p.blocked), (16394 - 8087, Blocked::NotBlocked));
    assert_eq!(pair.peer_received(), big);
}

#[test]
fn close_notify_reads_as_zero_bytes_and_eof_as_closed() {
    // R44, R54, R56
    let mut pair = fixture();
    pair.peer.send_close_notify();
    pair.pump().unwrap();
    for _ in 0..3 {
        let r = pair.conn.recv(100).unwrap();
        assert_eq!((r.data.len(), r.blocked), (0, Blocked::NotBlocked));
    }
    let pair = fixture();
    pair.wire.script_recv([Step::Eof]);
    let err = pair.conn.recv(100).unwrap_err();
    assert_eq!(
        (err.kind, err.blocked),
        (ErrorKind::Closed, Blocked::OnRead)
    );
    // TLS 1.3 keeps the write side open after EOF (R28).
    assert_eq!(pair.conn.send(b"x").unwrap().bytes, 1);
}

#[test]
fn shutdown_exchanges_close_notify() {
    // R61, R62: 24-byte encrypted close_notify out, wait for the peer's.
    let mut pair = fixture();
    let err = pair.conn.shutdown().unwrap_err();
    assert_eq!(
        (err.kind, err.blocked),
        (ErrorKind::Blocked, Blocked::OnRead)
    );
    assert_eq!(lens(&pair, Direction::Send), vec![24]);
    pair.pump().unwrap();
    pair.peer.send_close_notify();
    pair.pump().unwrap();
    pair.conn.shutdown().unwrap();
    pair.conn.shutdown().unwrap();
    assert_eq!(pair.conn.send(b"x").unwrap_err().kind, ErrorKind::Closed);
    assert_eq!(pair.conn.recv(10).unwrap().data.len(), 0);
}

#[test]
fn peer_key_update_request_is_answered_alone_at_the_next_send() {
    // R41, R50, R66: a record holding only a KeyUpdate yields no data (blocked); the answer
    // goes out at the next send, in its own 27-byte record before the data record, even
    // with a send buffer that would otherwise batch.
    for buffer in [None, Some(20_000)] {
        let mut config = client_config(pki()).cipher_suites(&[CipherSuite::Tls13Aes256GcmSha384]);
        if let Some(size) = buffer {
            config = config.send_buffer_size(size);
        }
        let mut pair = MemPair::client(&config, native_server(pki(), ring_provider(None)));
        pair.handshake().unwrap();
        pair.pump().unwrap();
        assert!(
            pair.conn.recv(1).unwrap_err().is_blocked(),
            "ticket consumed"
        );
        let counts = |pair: &MemPair| {
            let c = pair.conn.key_update_counts().unwrap();
            (c.sent, c.received)
        };
        assert_eq!(counts(&pair), (0, 0));
        pair.peer.refresh_traffic_keys().unwrap();
        pair.pump().unwrap();
        let err = pair.conn.recv(100).unwrap_err();
        assert_eq!(
            (err.kind, err.blocked),
            (ErrorKind::Blocked, Blocked::OnRead)
        );
        // R66: applied on receipt; the answer is committed now and goes out with the send.
        assert_eq!(counts(&pair), (1, 1));
        pair.wire.clear_calls();
        let p = pair.conn.send(b"hello world\0").unwrap();
        assert_eq!((p.bytes, p.blocked), (12, Blocked::NotBlocked));
        assert_eq!(lens(&pair, Direction::Send), vec![27, 34], "{buffer:?}");
        assert_eq!(pair.peer_received(), b"hello world\0");
        // Both directions work under the new keys.
        pair.peer_send(b"after update");
        assert_eq!(pair.recv_exact(12), b"after update");
        // R64: our own request goes out with the next send; the peer's answer counts in.
        pair.conn.request_key_update().unwrap();
        assert_eq!(counts(&pair), (2, 1));
        assert_eq!(pair.conn.send(b"x").unwrap().bytes, 1);
        assert_eq!(pair.peer_received(), b"x");
        pair.peer_send(b"answered");
        assert_eq!(pair.recv_exact(8), b"answered");
        assert_eq!(counts(&pair), (2, 2));
    }
}

#[test]
fn t2_max_fragment_length_512() {
    // R32, T2: with a 512-byte cap, 512 bytes are one record and 513 are two.
    let config = client_config(pki())
        .cipher_suites(&[CipherSuite::Tls13Aes256GcmSha384])
        .max_fragment_length(512);
    let mut pair = MemPair::client(&config, native_server(pki(), ring_provider(None)));
    pair.handshake().unwrap();
    pair.wire.clear_calls();
    let data = payload(513, 4);
    assert_eq!(pair.conn.send(&data[..512]).unwrap().bytes, 512);
    assert_eq!(lens(&pair, Direction::Send), vec![534]);
    assert_eq!(pair.conn.send(&data).unwrap().bytes, 513);
    assert_eq!(lens(&pair, Direction::Send), vec![534, 534, 23]);
    let mut expected = data[..512].to_vec();
    expected.extend_from_slice(&data);
    assert_eq!(pair.peer_received(), expected);
}

#[test]
fn config_validates_sizing_options() {
    // R38: a send buffer below 1034 bytes, and a fragment cap outside 512..=16384.
    let runtime = runtime();
    for config in [
        client_config(pki()).send_buffer_size(1033),
        client_config(pki()).max_fragment_length(511),
        client_config(pki()).max_fragment_length(16385),
    ] {
        let err = tlsbox::Connection::new(
            &runtime,
            &config,
            tlsbox_test_support::ScriptedTransport::new(),
        )
        .expect_err("rejected");
        assert_eq!(
            (err.kind, err.name.as_str()),
            (ErrorKind::Usage, "invalid-argument")
        );
    }
    assert!(
        tlsbox::Connection::new(
            &runtime,
            &client_config(pki()).send_buffer_size(1034),
            tlsbox_test_support::ScriptedTransport::new()
        )
        .is_ok()
    );
}

#[test]
fn t12_zero_byte_send_is_would_block() {
    // Departure from R4/T12: a transport that takes 0 bytes is would-block, never a spin.
    let mut pair = fixture();
    pair.wire.script_send([Step::Allow(0), Step::Allow(0)]);
    for _ in 0..2 {
        let err = pair.conn.send(b"hello world\0").unwrap_err();
        assert_eq!(
            (err.kind, err.name.as_str(), err.blocked),
            (ErrorKind::Blocked, "io-blocked", Blocked::OnWrite)
        );
    }
    assert_eq!(pair.conn.send(b"hello world\0").unwrap().bytes, 12);
    assert_eq!(lens(&pair, Direction::Send), vec![34, 34, 34]);
    assert_eq!(pair.peer_received(), b"hello world\0");
}

#[test]
fn t19_send_after_peer_closure_depends_on_version() {
    // R28, R44, T19: TLS 1.3 keeps writing after the peer's close_notify; TLS 1.2 does not.
    for (suite, writable) in [
        (CipherSuite::Tls13Aes256GcmSha384, true),
        (CipherSuite::TlsEcdheEcdsaWithAes256GcmSha384, false),
    ] {
        let config = client_config(pki()).cipher_suites(&[suite]);
        let mut pair = MemPair::client(&config, native_server(pki(), ring_provider(None)));
        pair.handshake().unwrap();
        pair.peer.send_close_notify();
        pair.pump().unwrap();
        let r = pair.conn.recv(10).unwrap();
        assert_eq!((r.data.len(), r.blocked), (0, Blocked::NotBlocked));
        match pair.conn.send(b"after close") {
            Ok(p) => {
                assert!(writable, "{suite:?}");
                assert_eq!(p.bytes, 11);
                assert_eq!(pair.peer_received(), b"after close");
            }
            Err(e) => {
                assert!(!writable, "{suite:?}: {e}");
                assert_eq!((e.kind, e.blocked), (ErrorKind::Closed, Blocked::OnWrite));
            }
        }
    }
}

#[test]
fn t43_fatal_alert_closes_both_directions() {
    // R55, T43: the peer fails (we feed it garbage) and sends a fatal alert.
    let mut pair = fixture();
    pair.peer
        .read_tls(
            &mut &[
                23u8, 3, 3, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ][..],
        )
        .unwrap();
    assert!(
        pair.peer.process_new_packets().is_err(),
        "the peer rejects the record"
    );
    pair.pump().unwrap();
    let err = pair.conn.recv(100).unwrap_err();
    assert_eq!(
        (err.kind, err.name.as_str(), err.blocked),
        (ErrorKind::Alert, "alert", Blocked::OnRead)
    );
    assert_eq!(err.alert, Some(20), "bad_record_mac");
    assert_eq!(pair.conn.alert_received().unwrap(), Some(20));
    assert_eq!(pair.conn.alert_received().unwrap(), Some(20), "repeatable");
    assert_eq!(pair.conn.recv(100).unwrap_err().kind, ErrorKind::Closed);
    assert_eq!(pair.conn.send(b"x").unwrap_err().kind, ErrorKind::Closed);
    pair.wire.clear_calls();
    pair.conn.shutdown().unwrap();
}

#[test]
fn t59_key_update_goes_out_only_with_a_non_empty_send() {
    // R27, R63, R64, T59: a zero-length send and a flush leave the KeyUpdate pending; the
    // next 1-byte send writes the 27-byte KeyUpdate, then the 23-byte data record.
    let mut pair = fixture();
    pair.conn.request_key_update().unwrap();
    assert_eq!(pair.conn.send(b"").unwrap().bytes, 0);
    pair.conn.flush().unwrap();
    assert!(lens(&pair, Direction::Send).is_empty());
    let p = pair.conn.send(b"x").unwrap();
    assert_eq!((p.bytes, p.blocked), (1, Blocked::NotBlocked));
    assert_eq!(lens(&pair, Direction::Send), vec![27, 23]);
    assert_eq!(pair.conn.key_update_counts().unwrap().sent, 1);
    assert_eq!(pair.peer_received(), b"x");
}

#[test]
fn the_diagnostics_export_seals_whole_records() {
    use CipherSuite::*;
    let endpoint = tlsbox::Endpoint::new(&runtime(), &client_config(pki())).unwrap();
    // Each record: the plaintext, the inner content type byte and a 16-byte tag.
    for suite in [
        Tls13Chacha20Poly1305Sha256,
        Tls13Aes128GcmSha256,
        Tls13Aes256GcmSha384,
    ] {
        assert_eq!(endpoint.seal_records(suite, 1000, 3).unwrap(), 3 * 1017);
    }
    // Clamped to the largest record TLS allows.
    assert_eq!(
        endpoint
            .seal_records(Tls13Chacha20Poly1305Sha256, 1 << 20, 2)
            .unwrap(),
        2 * (16384 + 17)
    );
    // Not a TLS 1.3 suite.
    assert_eq!(
        endpoint
            .seal_records(TlsEcdheEcdsaWithAes128GcmSha256, 1000, 3)
            .unwrap(),
        0
    );
}
