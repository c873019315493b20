//! The per-call deadline counts guest execution only: time spent waiting inside the host's
//! transport never counts, so an idle connection lives as long as its peer and application
//! want, while a guest call that computes too long is still stopped, and the trap ends only
//! its own instance. Instances come on demand unless a runtime asks for a pool, whose size
//! then bounds the live instances. Both address-space reservations hold the memory limit.

mod common;

use std::thread;
use std::time::Duration;

use tlsbox::{
    CipherSuite, Connection, Endpoint, ErrorKind, IoError, Limits, Reservation, Runtime, Transport,
};
use tlsbox_test_support::ScriptedTransport;

use common::{MemPair, client_config, native_server, pki, ring_provider};

/// A deadline far shorter than the waits below, and still a hundred times a handshake
/// call's compute: a loaded CI machine may stretch a call's wall time many-fold.
const SHORT: Duration = Duration::from_millis(250);

/// A transport whose every call first waits `delay`, like a socket with nothing to read yet.
struct Slow {
    inner: ScriptedTransport,
    delay: Duration,
}

impl Transport for Slow {
    fn send(&mut self, data: &[u8]) -> Result<usize, IoError> {
        thread::sleep(self.delay);
        self.inner.send(data)
    }

    fn recv(&mut self, max: usize) -> Result<Vec<u8>, IoError> {
        thread::sleep(self.delay);
        self.inner.recv(max)
    }
}

fn short_deadline() -> Runtime {
    Runtime::new(Limits {
        call_deadline: SHORT,
        ..Limits::default()
    })
    .expect("runtime")
}

#[test]
fn waiting_in_the_transport_does_not_count() {
    // Every transport call waits longer than the whole deadline; the handshake and an echo
    // still complete, and no call traps.
    let wire = ScriptedTransport::new();
    let slow = Slow {
        inner: wire.clone(),
        delay: SHORT * 6 / 5,
    };
    let conn = Connection::new(&short_deadline(), &client_config(pki()), slow).expect("conn");
    let mut pair = MemPair::from_parts(conn, wire, native_server(pki(), ring_provider(None)));
    pair.handshake().expect("no trap while the transport waits");
    pair.peer_send(b"still here");
    assert_eq!(pair.recv_exact(10), b"still here");
}

#[test]
fn a_runaway_guest_call_is_stopped_and_ends_only_its_own_instance() {
    // Sealing 256 MiB with AES-256-GCM is one guest call of about 2.5 s (the in-guest rate
    // is about 100 MiB/s, docs/performance.md), ten times a 250 ms deadline: it traps, and
    // the instance is not entered again. A connection from the same runtime, in its own
    // instance, is untouched and completes a handshake (about a millisecond of guest time
    // per call, so a loaded machine has room to spare).
    let runtime = Runtime::new(Limits {
        call_deadline: SHORT,
        ..Limits::default()
    })
    .expect("runtime");
    let endpoint = Endpoint::new(&runtime, &client_config(pki())).expect("endpoint");
    let runaway = endpoint
        .seal_records(CipherSuite::Tls13Aes256GcmSha384, 16_384, 16_384)
        .unwrap_err();
    assert_eq!(runaway.name, "trap", "{runaway}");
    let again = endpoint
        .seal_records(CipherSuite::Tls13Aes256GcmSha384, 16, 1)
        .unwrap_err();
    assert_eq!(again.name, "trap", "the instance is not entered again");
    let wire = ScriptedTransport::new();
    let refused = endpoint.connect(wire).unwrap_err();
    assert_eq!(refused.name, "trap", "nor for a new connection");

    let wire = ScriptedTransport::new();
    let conn = Connection::new(&runtime, &client_config(pki()), wire.clone()).expect("conn");
    let mut healthy = MemPair::from_parts(conn, wire, native_server(pki(), ring_provider(None)));
    healthy.handshake().expect("a healthy neighbour");
    healthy.peer_send(b"fine");
    assert_eq!(healthy.recv_exact(4), b"fine");
}

/// A handshaken connection in its own instance of `runtime`, against a native server.
fn connected(runtime: &Runtime) -> Result<MemPair, tlsbox::Error> {
    let wire = ScriptedTransport::new();
    let conn = Connection::new(runtime, &client_config(pki()), wire.clone())?;
    let mut pair = MemPair::from_parts(conn, wire, native_server(pki(), ring_provider(None)));
    pair.handshake().expect("handshake");
    Ok(pair)
}

#[test]
fn instances_come_on_demand_unless_a_pool_is_asked_for() {
    let on_demand = Runtime::new(Limits::default()).expect("runtime");
    assert!(!on_demand.is_pooled());
    let many: Vec<MemPair> = (0..3).map(|_| connected(&on_demand).unwrap()).collect();
    assert_eq!(on_demand.instances(), 3);
    drop(many);
    assert_eq!(on_demand.instances(), 0);

    // Two slots: two live connections, a third refused with an error value (no panic, and
    // the two others unharmed), and a slot back once a connection is dropped.
    let pooled = Runtime::new(Limits {
        pool_slots: Some(2),
        ..Limits::default()
    })
    .expect("runtime");
    assert!(pooled.is_pooled());
    let first = connected(&pooled).expect("first slot");
    let mut second = connected(&pooled).expect("second slot");
    let Err(err) = connected(&pooled) else {
        panic!("a third instance in a two-slot pool");
    };
    assert_eq!(
        (err.kind, err.name.as_str()),
        (tlsbox::ErrorKind::Internal, "trap"),
        "{err}"
    );
    second.peer_send(b"still fine");
    assert_eq!(second.recv_exact(10), b"still fine");
    drop(first);
    connected(&pooled).expect("the dropped connection's slot");
}

#[test]
fn either_reservation_carries_data_and_holds_the_memory_limit() {
    for reservation in [Reservation::Full, Reservation::Compact] {
        let runtime = Runtime::new(Limits {
            reservation,
            ..Limits::default()
        })
        .expect("runtime");
        let mut pair = connected(&runtime).expect("handshake");
        pair.peer_send(b"both ways");
        assert_eq!(pair.recv_exact(9), b"both ways", "{reservation:?}");
        assert_eq!(pair.conn.send(b"and back").unwrap().bytes, 8);
        assert_eq!(pair.peer_received(), b"and back", "{reservation:?}");

        // However much address space is reserved, an instance may not grow past
        // `memory_bytes`: a fresh one needs 256 KiB, so a 64 KiB limit refuses it.
        let small = Runtime::new(Limits {
            reservation,
            memory_bytes: 64 << 10,
            ..Limits::default()
        })
        .expect("runtime");
        let Err(err) = connected(&small) else {
            panic!("an instance grew past its limit with {reservation:?}");
        };
        assert_eq!(
            (err.kind, err.name.as_str()),
            (ErrorKind::Internal, "trap"),
            "{reservation:?}: {err}"
        );
    }
}
