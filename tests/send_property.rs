//! Property: whatever the chunking, record sizing, send buffer and transport schedule, a
//! caller that follows the retry rule (R23) delivers exactly its payload — no byte lost,
//! doubled or reordered — to a native rustls peer.
//!
//! Cases: 2,000 by default; set `TLSBOX_PROPTEST_CASES` for more.

mod common;

use common::*;
use proptest::prelude::*;
use tlsbox::{Blocked, ErrorKind, RecordSizing};
use tlsbox_test_support::scripted::Step;

fn cases() -> u32 {
    std::env::var("TLSBOX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Mostly small payloads, some large, a few up to 4 MiB.
fn payload_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..65_536,
        2 => 65_536usize..1_048_576,
        1 => 1_048_576usize..=4 << 20,
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1usize..20_000).prop_map(Step::Allow),
        2 => Just(Step::All),
        3 => Just(Step::WouldBlock),
        1 => Just(Step::Other("transient".into())),
    ]
}

fn sizing() -> impl Strategy<Value = RecordSizing> {
    prop_oneof![
        Just(RecordSizing::Default),
        Just(RecordSizing::PreferThroughput),
        Just(RecordSizing::PreferLowLatency),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn retrying_caller_delivers_exactly_the_payload(
        len in payload_len(),
        seed in any::<u64>(),
        chunk_sizes in prop::collection::vec(1usize..200_000, 1..16),
        schedule in prop::collection::vec(step(), 0..64),
        sizing in sizing(),
        send_buffer in prop::option::of(1034u32..40_000),
        threshold in prop::option::of(0u32..100_000),
        vectored in any::<bool>(),
    ) {
        let data = payload(len, seed);
        let mut config = client_config(pki()).record_sizing(sizing);
        if let Some(size) = send_buffer {
            config = config.send_buffer_size(size);
        }
        let mut pair = MemPair::client(&config, native_server(pki(), ring_provider(None)));
        pair.handshake().unwrap();
        if let Some(threshold) = threshold {
            pair.conn.set_dynamic_record_threshold(threshold, 1).unwrap();
        }
        pair.wire.script_send(schedule);

        let mut received = Vec::new();
        let mut start = 0;
        let mut sizes = chunk_sizes.iter().cycle();
        while start < data.len() {
            let end = data.len().min(start + sizes.next().unwrap());
            let chunk = &data[start..end];
            let mut done = 0;
            while done < chunk.len() {
                let result = if vectored {
                    // The same bytes as up to three buffers, with the offset advanced.
                    let (a, rest) = chunk.split_at(chunk.len() / 3);
                    let (b, c) = rest.split_at(rest.len() / 2);
                    pair.conn.sendv_with_offset(&[a, b, c], done as u64)
                } else {
                    pair.conn.send(&chunk[done..])
                };
                match result {
                    Ok(p) => {
                        let expected_blocked = if done + p.bytes as usize == chunk.len() {
                            Blocked::NotBlocked
                        } else {
                            Blocked::OnWrite
                        };
                        prop_assert_eq!(p.blocked, expected_blocked);
                        prop_assert!(p.bytes > 0 || chunk.is_empty());
                        done += p.bytes as usize;
                    }
                    // R21, R26: retry the same data.
                    Err(e) => {
                        prop_assert!(matches!(e.kind, ErrorKind::Blocked | ErrorKind::Io), "{}", e);
                        prop_assert_eq!(e.blocked, Blocked::OnWrite);
                    }
                }
                received.extend(pair.peer_received());
            }
            start = end;
        }
        received.extend(pair.peer_received());
        prop_assert_eq!(received.len(), data.len());
        prop_assert!(received == data, "payload corrupted");
    }
}
