//! Hostile and mistaken peers give error values (kind and name), never a trap or panic,
//! and one failed connection leaves the others on the same runtime working.

mod common;

use common::*;
use tlsbox::{Blocked, Connection, ErrorKind};
use tlsbox_test_support::ScriptedTransport;
use tlsbox_test_support::pki::Pki;
use tlsbox_test_support::scripted::Step;

#[test]
fn untrusted_certificate_is_rejected() {
    // The server presents a chain from a CA the client does not trust.
    let other = Pki::generate(&["localhost"]).unwrap();
    let mut pair = MemPair::client(
        &client_config(pki()),
        native_server(&other, ring_provider(None)),
    );
    let err = handshake_error(&mut pair);
    assert_eq!(
        (err.kind, err.name.as_str()),
        (ErrorKind::Protocol, "untrusted-certificate"),
        "{err}"
    );
    assert_eq!(err.alert, Some(48), "unknown_ca");
    assert_eq!(err.blocked, Blocked::OnRead);
}

#[test]
fn wrong_server_name_is_rejected() {
    let config = tlsbox::Config::client("example.com").trust(pki().ca_pem.as_bytes());
    let mut pair = MemPair::client(&config, native_server(pki(), ring_provider(None)));
    let err = handshake_error(&mut pair);
    assert_eq!(
        (err.kind, err.name.as_str()),
        (ErrorKind::Protocol, "certificate-name-mismatch"),
        "{err}"
    );
}

#[test]
fn garbage_peer_is_a_protocol_error_for_both_roles() {
    let garbage = payload(4096, 99);
    for config in [client_config(pki()), server_config(pki())] {
        let wire = ScriptedTransport::new();
        let conn = Connection::new(&runtime(), &config, wire.clone()).unwrap();
        wire.push_inbound(&garbage);
        let err = loop {
            match conn.negotiate() {
                Err(e) if e.is_blocked() => continue,
                Err(e) => break e,
                Ok(()) => panic!("handshake with garbage succeeded"),
            }
        };
        assert_eq!(
            (err.kind, err.name.as_str()),
            (ErrorKind::Protocol, "bad-message"),
            "{err}"
        );
        // The connection stays a value: later calls report it closed, not a trap.
        let again = conn.negotiate().unwrap_err();
        assert_eq!(again.kind, ErrorKind::Closed);
        assert_eq!(conn.send(b"x").unwrap_err().kind, ErrorKind::Closed);
    }
}

#[test]
fn garbage_that_looks_like_records_is_rejected() {
    // Valid-looking headers (handshake type, TLS 1.2 version) over random bodies.
    let mut bytes = Vec::new();
    for i in 0..4u8 {
        bytes.extend_from_slice(&[22, 3, 3, 4, 0]);
        bytes.extend_from_slice(&payload(1024, u64::from(i) + 1));
    }
    let wire = ScriptedTransport::new();
    let conn = Connection::new(&runtime(), &server_config(pki()), wire.clone()).unwrap();
    wire.push_inbound(&bytes);
    let err = conn.negotiate().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Protocol, "{err}");
}

#[test]
fn oversized_record_header_is_rejected_before_reading_the_body() {
    let wire = ScriptedTransport::new();
    let conn = Connection::new(&runtime(), &server_config(pki()), wire.clone()).unwrap();
    wire.push_inbound(&[22, 3, 1, 0xff, 0xff]);
    let err = conn.negotiate().unwrap_err();
    assert_eq!(
        (err.kind, err.name.as_str()),
        (ErrorKind::Protocol, "record-too-large")
    );
    // Exactly the 5-byte header was read (R7).
    let reads: Vec<usize> = wire
        .calls()
        .iter()
        .filter(|c| c.direction == tlsbox_test_support::scripted::Direction::Recv)
        .map(|c| c.requested)
        .collect();
    assert_eq!(reads, vec![5]);
}

#[test]
fn lying_transport_is_an_io_error() {
    let wire = ScriptedTransport::new();
    let conn = Connection::new(&runtime(), &client_config(pki()), wire.clone()).unwrap();
    wire.script_send([Step::Lie(1 << 20)]);
    let err = conn.negotiate().unwrap_err();
    assert_eq!(
        (err.kind, err.name.as_str()),
        (ErrorKind::Io, "transport-overclaim"),
        "{err}"
    );

    let wire = ScriptedTransport::new();
    let conn = Connection::new(&runtime(), &server_config(pki()), wire.clone()).unwrap();
    wire.script_recv([Step::Lie(64)]);
    let err = conn.negotiate().unwrap_err();
    assert_eq!(
        (err.kind, err.name.as_str()),
        (ErrorKind::Io, "transport-overclaim"),
        "{err}"
    );
}

#[test]
fn failed_connection_does_not_disturb_another() {
    // A healthy connection mid-stream ...
    let mut good = MemPair::client(
        &client_config(pki()),
        native_server(pki(), ring_provider(None)),
    );
    good.handshake().unwrap();
    // ... and a doomed one on the same runtime.
    let wire = ScriptedTransport::new();
    let bad = Connection::new(&runtime(), &server_config(pki()), wire.clone()).unwrap();
    wire.push_inbound(&payload(4096, 5));
    assert_eq!(bad.negotiate().unwrap_err().kind, ErrorKind::Protocol);
    drop(bad);
    // The healthy one still moves data both ways.
    let data = payload(20_000, 3);
    assert_eq!(good.conn.send(&data).unwrap().bytes as usize, data.len());
    assert_eq!(good.peer_received(), data);
    good.peer_send(b"still here");
    assert_eq!(good.recv_exact(10), b"still here");
}

#[test]
fn transport_eof_during_handshake_is_closed() {
    let wire = ScriptedTransport::new();
    let conn = Connection::new(&runtime(), &client_config(pki()), wire.clone()).unwrap();
    wire.script_recv([Step::Eof]);
    let err = conn.negotiate().unwrap_err();
    assert_eq!(
        (err.kind, err.name.as_str(), err.blocked),
        (ErrorKind::Closed, "closed", Blocked::OnRead)
    );
}

fn handshake_error(pair: &mut MemPair) -> tlsbox::Error {
    for _ in 0..64 {
        match pair.conn.negotiate() {
            Ok(()) => panic!("handshake unexpectedly succeeded"),
            Err(e) if e.is_blocked() => {
                let _ = pair.pump();
            }
            Err(e) => return e,
        }
    }
    panic!("handshake neither failed nor finished");
}

#[test]
fn memory_limit_is_an_error_value() {
    // A fresh instance starts at 256 KiB (its 128 KiB stack and data); a one-page (64 KiB)
    // limit refuses it cleanly when the instance is made.
    let err = tlsbox::Runtime::new(tlsbox::Limits {
        memory_bytes: 64 << 10,
        ..tlsbox::Limits::default()
    })
    .and_then(|small| Connection::new(&small, &client_config(pki()), ScriptedTransport::new()))
    .expect_err("instantiation refused");
    assert_eq!(
        (err.kind, err.name.as_str()),
        (ErrorKind::Internal, "trap"),
        "{err}"
    );
}

#[test]
fn large_sends_keep_guest_memory_bounded() {
    // The host hands the guest at most 1 MiB per call, so a 16 MiB send does not grow the
    // guest's linear memory by 16 MiB.
    let mut pair = MemPair::client(
        &client_config(pki()),
        native_server(pki(), ring_provider(None)),
    );
    pair.handshake().unwrap();
    let data = payload(16 << 20, 12);
    assert_eq!(pair.conn.send(&data).unwrap().bytes as usize, data.len());
    let peak = pair.conn.peak_memory();
    assert!(peak < 8 << 20, "guest memory peaked at {peak} bytes");
    assert_eq!(pair.peer_received(), data);
}
