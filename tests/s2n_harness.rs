//! Checks the native s2n harness (`tests/s2n_support`) against s2n figures the contract
//! (docs/contract.md) already records. If these hold, a mismatch between tlsbox and the
//! harness points at tlsbox, not at the harness.

mod s2n_support;

use s2n_support::{
    Outcome, S2nOptions, S2nPair, record_lengths, recv_requests, send_requests, tlsbox_error_name,
};
use tlsbox::{Blocked, ErrorKind, IoError};
use tlsbox_test_support::scripted::{Call, Direction, Step};

/// The contract's "hello": 12 bytes.
const HELLO: &[u8; 12] = b"hello world\0";

/// The contract's "big": 16394 = 16384 + 10 bytes (distinct values so loss or duplication
/// shows).
fn big() -> Vec<u8> {
    (0..16394u32).map(|i| (i % 251) as u8).collect()
}

fn sent(n: i64) -> Outcome {
    Outcome::ok(n, Blocked::NotBlocked)
}

fn blocked_write() -> Outcome {
    Outcome::err(Blocked::OnWrite, ErrorKind::Blocked, "io-blocked")
}

fn send_call(requested: usize, outcome: Result<usize, IoError>) -> Call {
    Call {
        direction: Direction::Send,
        requested,
        outcome,
    }
}

#[test]
fn handshake_negotiates_tls13_aes256_and_leaves_nothing_in_flight() {
    // S2nPair::new asserts version, suite and an empty wire; no call is recorded yet.
    let pair = S2nPair::handshaken();
    assert!(pair.calls().is_empty());
    assert!(
        pair.wire_bytes_out() > 0,
        "wire_bytes_* include the handshake"
    );
    assert_eq!(pair.peek(), 0);
}

// T1, R11
#[test]
fn t1_basic_send() {
    let mut pair = S2nPair::handshaken();
    let before = pair.wire_bytes_out();
    assert_eq!(pair.send(HELLO), sent(12));
    assert_eq!(pair.calls(), vec![send_call(34, Ok(34))]);
    assert_eq!(pair.wire_bytes_out() - before, 34);
    assert_eq!(record_lengths(&pair.take_wire_out()), vec![34]);
    assert_eq!(pair.peer_receive(), HELLO);
}

// T3, R8
#[test]
fn t3_multi_record_payload() {
    let mut pair = S2nPair::handshaken();
    let big = big();
    assert_eq!(pair.send(&big), sent(16394));
    assert_eq!(send_requests(&pair.calls()), vec![8109, 8109, 242]);
    assert_eq!(record_lengths(&pair.take_wire_out()), vec![8109, 8109, 242]);
    assert_eq!(pair.peer_receive(), big);
}

// T5, R21, R23
#[test]
fn t5_block_before_first_record_completes() {
    let mut pair = S2nPair::handshaken();
    pair.script_send([
        Step::Allow(10),
        Step::WouldBlock,
        Step::Allow(10),
        Step::WouldBlock,
        Step::All,
    ]);
    let start = pair.wire_bytes_out();
    assert_eq!(pair.send(HELLO), blocked_write());
    assert_eq!(pair.wire_bytes_out() - start, 10);
    assert_eq!(pair.send(HELLO), blocked_write());
    assert_eq!(pair.wire_bytes_out() - start, 20);
    assert_eq!(pair.send(HELLO), sent(12));
    assert_eq!(pair.wire_bytes_out() - start, 34);
    assert_eq!(
        pair.calls(),
        vec![
            send_call(34, Ok(10)),
            send_call(24, Err(IoError::WouldBlock)),
            send_call(24, Ok(10)),
            send_call(14, Err(IoError::WouldBlock)),
            send_call(14, Ok(14)),
        ]
    );
    assert_eq!(pair.peer_receive(), HELLO);
}

// T6, R20, R21
#[test]
fn t6_block_inside_second_record() {
    let mut pair = S2nPair::handshaken();
    pair.script_send([
        Step::All,
        Step::Allow(10),
        Step::WouldBlock,
        Step::Allow(10),
        Step::WouldBlock,
        Step::All,
        Step::All,
        Step::All,
    ]);
    let big = big();
    let start = pair.wire_bytes_out();
    assert_eq!(pair.send(&big), Outcome::ok(8087, Blocked::OnWrite));
    assert_eq!(pair.wire_bytes_out() - start, 8109 + 10);
    assert_eq!(pair.send(&big[8087..]), blocked_write());
    assert_eq!(pair.wire_bytes_out() - start, 8109 + 20);
    assert_eq!(pair.send(&big[8087..]), sent(8307));
    assert_eq!(pair.wire_bytes_out() - start, 16460);
    assert_eq!(pair.peer_receive(), big);
}

// T9, R9: EPIPE latches; later sends fail without a callback.
#[test]
fn t9_broken_pipe_latches() {
    let mut pair = S2nPair::handshaken();
    pair.script_send([Step::Allow(10), Step::BrokenPipe]);
    let start = pair.wire_bytes_out();
    let broken = Outcome::err(Blocked::OnWrite, ErrorKind::Io, "broken-pipe");
    assert_eq!(pair.send(HELLO), broken);
    assert_eq!(pair.wire_bytes_out() - start, 10);
    pair.clear_calls();
    assert_eq!(pair.send(HELLO), broken);
    assert!(pair.calls().is_empty(), "no callback after the latch");
}

// T10, R26: another transport error leaves the connection usable.
#[test]
fn t10_recoverable_io_error() {
    let mut pair = S2nPair::handshaken();
    pair.script_send([Step::Other("reset".into())]);
    let start = pair.wire_bytes_out();
    assert_eq!(
        pair.send(HELLO),
        Outcome::err(Blocked::OnWrite, ErrorKind::Io, "io")
    );
    assert_eq!(pair.send(HELLO), sent(12));
    assert_eq!(pair.wire_bytes_out() - start, 34);
    assert_eq!(pair.peer_receive(), HELLO);
}

// T13, R25: a shrunk retry flushes the queued record, then fails SEND_SIZE.
#[test]
fn t13_invalid_retry_shrink() {
    let mut pair = S2nPair::handshaken();
    pair.script_send([Step::WouldBlock]);
    let big = big();
    let start = pair.wire_bytes_out();
    assert_eq!(pair.send(&big), blocked_write());
    assert_eq!(pair.wire_bytes_out() - start, 0);
    assert_eq!(
        pair.send(&big[..100]),
        Outcome::err(Blocked::OnWrite, ErrorKind::Usage, "send-size")
    );
    assert_eq!(pair.wire_bytes_out() - start, 8109);
    assert_eq!(pair.send(&big), sent(16394));
    assert_eq!(pair.wire_bytes_out() - start, 16460);
    assert_eq!(pair.peer_receive(), big);
}

// T14: a zero-length send cannot flush; s2n_flush can.
#[test]
fn t14_flush_pushes_the_queued_record() {
    let mut pair = S2nPair::handshaken();
    pair.script_send([Step::WouldBlock]);
    let big = big();
    let start = pair.wire_bytes_out();
    assert_eq!(pair.send(&big), blocked_write());
    assert_eq!(
        pair.send(&big[..0]),
        Outcome::err(Blocked::OnWrite, ErrorKind::Usage, "send-size")
    );
    assert_eq!(pair.flush(), sent(0));
    assert_eq!(pair.wire_bytes_out() - start, 8109);
    assert_eq!(pair.send(&big), sent(16394));
    assert_eq!(pair.peer_receive(), big);
}

// T16, R17, R18
#[test]
fn t16_sendv_offset_validation() {
    let mut pair = S2nPair::handshaken();
    let data: Vec<u8> = (1..=20).collect();
    let mut rest = data.as_slice();
    let bufs: Vec<&[u8]> = [0usize, 1, 2, 0, 14, 0, 3, 0]
        .iter()
        .map(|&n| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head
        })
        .collect();
    let invalid = Outcome::err(Blocked::OnWrite, ErrorKind::Usage, "invalid-argument");
    assert_eq!(pair.sendv_with_offset(&bufs, 0), sent(20));
    assert_eq!(pair.sendv_with_offset(&bufs, 10), sent(10));
    assert_eq!(pair.sendv_with_offset(&bufs, 21), invalid);
    assert_eq!(pair.sendv_with_offset(&bufs, -1), invalid);
    let mut expected = data.clone();
    expected.extend_from_slice(&data[10..]);
    assert_eq!(pair.peer_receive(), expected);

    let (a, b) = HELLO.split_at(5);
    assert_eq!(pair.sendv_with_offset(&[a, b], 12), sent(0));
    assert_eq!(pair.sendv_with_offset(&[a, b], 7), sent(5));
    assert_eq!(pair.sendv_with_offset(&[a, b], 13), invalid);
    assert_eq!(pair.peer_receive(), &HELLO[7..]);
}

// T19, R28: after shutdown_send the write side is closed; the peer sees close_notify.
#[test]
fn t19_send_after_shutdown_send() {
    let mut pair = S2nPair::handshaken();
    assert_eq!(pair.shutdown_send(), sent(0));
    assert_eq!(
        send_requests(&pair.calls()),
        vec![24],
        "one encrypted alert record"
    );
    assert_eq!(
        pair.send(HELLO),
        Outcome::err(Blocked::OnWrite, ErrorKind::Closed, "closed")
    );
    let (data, last) = pair.try_peer_receive();
    assert!(data.is_empty());
    assert_eq!(last, sent(0), "close_notify reads as 0 on the peer");
}

// T20, R29
#[test]
fn t20_send_without_keys() {
    let mut pair = S2nPair::unhandshaken(S2nOptions::default());
    assert_eq!(
        pair.send(HELLO),
        Outcome::err(Blocked::OnWrite, ErrorKind::Protocol, "encrypt")
    );
    assert!(pair.calls().is_empty(), "no callback");
}

// T22, R33
#[test]
fn t22_dynamic_threshold_straddle() {
    let mut pair = S2nPair::handshaken();
    assert_eq!(pair.set_dynamic_record_threshold(2757, 0), sent(0));
    let data: Vec<u8> = (0..12000u32).map(|i| (i % 253) as u8).collect();
    assert_eq!(pair.send(&data), sent(12000));
    assert_eq!(send_requests(&pair.calls()), vec![1400, 1400, 1400, 7888]);
    assert_eq!(pair.peer_receive(), data);
}

// T23, R35, R38
#[test]
fn t23_threshold_and_buffer_validation() {
    let mut pair = S2nPair::handshaken();
    let invalid = Outcome::err(Blocked::NotBlocked, ErrorKind::Usage, "invalid-argument");
    assert_eq!(
        pair.set_dynamic_record_threshold(8 * 1024 * 1024 + 1, 0),
        invalid
    );
    assert_eq!(
        pair.set_dynamic_record_threshold(8 * 1024 * 1024, 0),
        sent(0)
    );
    assert_eq!(S2nPair::validate_send_buffer_size(1033), invalid);
    assert_eq!(S2nPair::validate_send_buffer_size(1034), sent(0));
    assert_eq!(pair.request_peer_key_update(), invalid);
}

// T24, R38, R39
#[test]
fn t24_multi_record_send_one_write() {
    let mut pair = S2nPair::new(S2nOptions {
        send_buffer_size: Some(20000),
        ..S2nOptions::default()
    });
    let big = big();
    assert_eq!(pair.send(&big), sent(16394));
    assert_eq!(send_requests(&pair.calls()), vec![16460]);
    pair.clear_calls();
    assert_eq!(pair.send(HELLO), sent(12));
    assert_eq!(send_requests(&pair.calls()), vec![34]);
    let mut expected = big;
    expected.extend_from_slice(HELLO);
    assert_eq!(pair.peer_receive(), expected);
}

// T26, R39. The contract's figure (a 12-byte send in 3 records of 5-byte payloads) comes
// from an upstream fixture whose keys are installed without a handshake, so s2n sizes records
// with the pre-negotiation overhead (1029). After a real TLS 1.3 handshake the overhead is
// 261, so a 1034-byte buffer allows 773-byte payloads (s2n_record_max_write_payload_size).
#[test]
fn t26_minimum_send_buffer_after_a_real_handshake() {
    let mut pair = S2nPair::new(S2nOptions {
        send_buffer_size: Some(1034),
        ..S2nOptions::default()
    });
    assert_eq!(pair.send(HELLO), sent(12));
    assert_eq!(send_requests(&pair.calls()), vec![34], "one record");
    pair.clear_calls();
    let data: Vec<u8> = (0..1600u32).map(|i| i as u8).collect();
    assert_eq!(pair.send(&data), sent(1600));
    assert_eq!(
        send_requests(&pair.calls()),
        vec![795, 795, 76],
        "773-byte payloads, each flushed alone"
    );
    let mut expected = HELLO.to_vec();
    expected.extend_from_slice(&data);
    assert_eq!(pair.peer_receive(), expected);
}

// T25, R39: same fixture effect. With the TLS 1.3 overhead the third record (220 bytes of
// payload, at most 481 on the wire) still fits the 1082 bytes left in a 17300-byte buffer,
// so one write carries everything; the contract's 2 calls assume a 1029-byte overhead.
#[test]
fn t25_buffer_17300_after_a_real_handshake() {
    let mut pair = S2nPair::new(S2nOptions {
        send_buffer_size: Some(17300),
        ..S2nOptions::default()
    });
    let big = big();
    assert_eq!(pair.send(&big), sent(16394));
    assert_eq!(send_requests(&pair.calls()), vec![16460]);
    assert_eq!(pair.peer_receive(), big);
}

// T27, R40: a multi-record batch reports nothing until all of it is out.
#[test]
fn t27_multi_record_block_reporting() {
    let mut pair = S2nPair::new(S2nOptions {
        send_buffer_size: Some(20000),
        ..S2nOptions::default()
    });
    pair.script_send([
        Step::Allow(10),
        Step::WouldBlock,
        Step::Allow(16460 - 11),
        Step::WouldBlock,
        Step::All,
    ]);
    let big = big();
    assert_eq!(pair.send(&big), blocked_write());
    assert_eq!(pair.send(&big), blocked_write());
    assert_eq!(pair.send(&big), sent(16394));
    assert_eq!(pair.peer_receive(), big);
}

// T28, R40: same fixture effect as T25. After a real handshake the whole 16460-byte batch
// is one flush, so the second call completes it (the contract's 16174 + BLOCKED_ON_WRITE
// assumes the batch was split in two).
#[test]
fn t28_multi_record_across_calls_after_a_real_handshake() {
    let mut pair = S2nPair::new(S2nOptions {
        send_buffer_size: Some(17300),
        ..S2nOptions::default()
    });
    pair.script_send([Step::Allow(10), Step::WouldBlock, Step::Allow(17290)]);
    let big = big();
    assert_eq!(pair.send(&big), blocked_write());
    assert_eq!(pair.send(&big), sent(16394));
    assert_eq!(send_requests(&pair.calls()), vec![16460, 16450, 16450]);
    assert_eq!(pair.peer_receive(), big);
}

// T2, R32: exactly one fragment is one record, one byte more is two.
#[test]
fn t2_fragment_boundaries() {
    type Configure = fn(&mut S2nPair);
    let cases: [(usize, Configure, Option<u16>); 4] = [
        (8087, |_| {}, None),
        (16384, S2nPair::prefer_throughput, None),
        (1435, S2nPair::prefer_low_latency, None),
        (512, |_| {}, Some(512)),
    ];
    for (fragment, configure, max_fragment_length) in cases {
        let mut pair = S2nPair::new(S2nOptions {
            max_fragment_length,
            ..S2nOptions::default()
        });
        configure(&mut pair);
        let data = vec![7u8; fragment + 1];
        assert_eq!(pair.send(&data[..fragment]), sent(fragment as i64));
        assert_eq!(pair.calls().len(), 1, "fragment {fragment}");
        pair.clear_calls();
        assert_eq!(pair.send(&data), sent(fragment as i64 + 1));
        assert_eq!(
            send_requests(&pair.calls()),
            vec![fragment + 22, 23],
            "fragment {fragment}"
        );
    }
}

// T31, R7, R46-style peek
#[test]
fn t31_recv_request_sizes_and_peek() {
    let mut pair = S2nPair::handshaken();
    assert_eq!(pair.peer_send(HELLO), sent(12));
    assert_eq!(pair.inbound_len(), 34);

    let (outcome, data) = pair.recv(5);
    assert_eq!(outcome, Outcome::ok(5, Blocked::OnRead));
    assert_eq!(data, &HELLO[..5]);
    assert_eq!(recv_requests(&pair.calls()), vec![5, 29]);
    assert_eq!(pair.peek(), 7);

    assert_eq!(pair.recv(0).0, Outcome::ok(0, Blocked::OnRead));
    let (outcome, data) = pair.recv(100);
    assert_eq!(outcome, sent(7));
    assert_eq!(data, &HELLO[5..]);
    assert_eq!(pair.calls().len(), 2, "no new callback call");
    assert_eq!(pair.peek(), 0);
    assert_eq!(
        pair.recv(100).0,
        Outcome::err(Blocked::OnRead, ErrorKind::Blocked, "io-blocked")
    );
    assert_eq!(pair.recv(0).0, sent(0));
}

// T41, R5: recv callback end of stream.
#[test]
fn t41_transport_eof() {
    let mut pair = S2nPair::handshaken();
    pair.script_recv([Step::Eof]);
    let (outcome, _) = pair.recv(100);
    assert_eq!(
        outcome,
        Outcome::err(Blocked::OnRead, ErrorKind::Closed, "closed")
    );
    assert_eq!(
        pair.calls(),
        vec![Call {
            direction: Direction::Recv,
            requested: 5,
            outcome: Err(IoError::Closed),
        }]
    );
}

#[test]
fn outcome_from_tlsbox_results_has_the_same_shape() {
    let progress = tlsbox::Progress {
        bytes: 12,
        blocked: Blocked::NotBlocked,
    };
    assert_eq!(Outcome::from_send(Ok(progress)), sent(12));
    let error = tlsbox::Error {
        kind: ErrorKind::Blocked,
        name: "io-blocked".into(),
        message: "would block".into(),
        blocked: Blocked::OnWrite,
        alert: None,
    };
    assert_eq!(Outcome::from_send(Err(error.clone())), blocked_write());
    assert_eq!(Outcome::from_unit(Err(error)), blocked_write());
    assert_eq!(Outcome::from_unit(Ok(())), sent(0));
    assert_eq!(
        tlsbox_error_name("S2N_ERR_RECORD_LIMIT"),
        "record-too-large"
    );
    assert_eq!(tlsbox_error_name("S2N_ERR_SAFETY"), "S2N_ERR_SAFETY");
}
