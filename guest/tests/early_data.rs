//! Resumption and 0-RTT early data in the guest's connection layer, natively: a client and a
//! server of our own joined by an in-memory pipe. (The cross-boundary suite runs the same
//! through the component: tests/early_data.rs at the workspace root.)

mod common;

use std::sync::Arc;

use common::{Pki, connect, handshake, pipe, pki};
use tlsbox_guest::conn::{Config, Connection};
use tlsbox_guest::engine::HostStores;
use tlsbox_guest::types::{Blocked, ConfigOptions, EarlyDataStatus, Role};

fn client_config(pki: &Pki, early_data: bool) -> Config {
    let mut o = ConfigOptions::new(Role::Client);
    o.server_name = Some("localhost".into());
    o.trust_anchors = vec![pki.cert.clone().into_bytes()];
    o.early_data = early_data;
    Config::new(&o).unwrap()
}

fn server_config(pki: &Pki, max_early_data: u32, ticket_keys: &[[u8; 32]]) -> Config {
    let mut o = ConfigOptions::new(Role::Server);
    o.certificate_chain = vec![pki.cert.clone().into_bytes()];
    o.private_key = Some(pki.key.clone().into_bytes());
    o.max_early_data = max_early_data;
    o.ticket_keys = ticket_keys.iter().map(|k| k.to_vec()).collect();
    Config::new(&o).unwrap()
}

/// Configs for an early-data client and a server taking `max`, the client holding a
/// session from a first, full handshake.
fn resumable(pki: &Pki, max: u32) -> (Config, Config) {
    let client = client_config(pki, true);
    let server = server_config(pki, max, &[]);
    first_connection(&client, &server);
    (client, server)
}

/// A full handshake, and the ticket taken in by the client (it arrives after the handshake).
fn first_connection(client: &Config, server: &Config) {
    let (mut client, mut server) = connect(client, server);
    handshake(&mut client, &mut server);
    assert!(!client.session_resumed());
    assert_eq!(
        client.recv(1).unwrap_err().blocked,
        Blocked::OnRead,
        "ticket read"
    );
}

#[test]
fn t63_happy_path_resumed_with_early_data() {
    let (client_cfg, server_cfg) = resumable(&pki(), 1000);

    let (mut client, mut server) = connect(&client_cfg, &server_cfg);
    assert_eq!(client.early_data_status(), EarlyDataStatus::Pending);
    assert_eq!(client.max_early_data_size(), 1000);
    // R72: the early data goes out; the server has not answered, so the call reports
    // on-read with the bytes it moved.
    let p = client.send_early_data(b"hello world\0").unwrap();
    assert_eq!((p.bytes, p.blocked), (12, Blocked::OnRead));
    assert_eq!(client.remaining_early_data_size(), 1000 - 12);
    // R74: the server reads it before the handshake completes.
    let r = server.recv_early_data(100).unwrap();
    assert_eq!(r.data, b"hello world\0");
    assert_eq!(r.blocked, Blocked::OnRead);
    assert_eq!(server.early_data_status(), EarlyDataStatus::Accepted);
    handshake(&mut client, &mut server);
    assert!(client.session_resumed() && server.session_resumed());
    assert_eq!(client.early_data_status(), EarlyDataStatus::End);
    assert_eq!(server.early_data_status(), EarlyDataStatus::End);
    assert_eq!(client.remaining_early_data_size(), 0);
    let r = server.recv_early_data(100).unwrap();
    assert_eq!((r.data.len(), r.blocked), (0, Blocked::NotBlocked));
}

#[test]
fn t64_server_buffer_too_small_then_the_rest() {
    let (client_cfg, server_cfg) = resumable(&pki(), 1000);
    let (mut client, mut server) = connect(&client_cfg, &server_cfg);
    client.send_early_data(b"hello world\0").unwrap();
    let r = server.recv_early_data(1).unwrap();
    assert_eq!((r.data, r.blocked), (b"h".to_vec(), Blocked::OnEarlyData));
    let r = server.recv_early_data(100).unwrap();
    assert_eq!(r.data, b"ello world\0");
}

#[test]
fn r75_unread_early_data_comes_first_from_recv() {
    let (client_cfg, server_cfg) = resumable(&pki(), 1000);
    let (mut client, mut server) = connect(&client_cfg, &server_cfg);
    client.send_early_data(b"early").unwrap();
    handshake(&mut client, &mut server);
    client.send(b"late").unwrap();
    assert_eq!(server.recv(100).unwrap().data, b"early");
    assert_eq!(server.recv(100).unwrap().data, b"late");
}

#[test]
fn t66_not_requested_without_a_session() {
    let pki = pki();
    let (c, s, _) = pipe();
    let mut client = Connection::new(&client_config(&pki, true), c).unwrap();
    let mut server = Connection::new(&server_config(&pki, 1000, &[]), s).unwrap();
    assert_eq!(client.early_data_status(), EarlyDataStatus::NotRequested);
    let p = client.send_early_data(b"hello").unwrap();
    assert_eq!(
        (p.bytes, p.blocked),
        (0, Blocked::NotBlocked),
        "R72: no I/O"
    );
    handshake(&mut client, &mut server);
    assert_eq!(server.early_data_status(), EarlyDataStatus::NotRequested);
}

#[test]
fn t66_rejected_by_a_server_that_takes_none() {
    // A session from a server taking early data, resumed at one that takes none (same ticket
    // keys are not shared, so it is a full handshake): the client's early data is skipped.
    let pki = pki();
    let client_cfg = client_config(&pki, true);
    let first = server_config(&pki, 1000, &[]);
    first_connection(&client_cfg, &first);
    let (c, s, _) = pipe();
    let mut client = Connection::new(&client_cfg, c).unwrap();
    let mut server = Connection::new(&server_config(&pki, 0, &[]), s).unwrap();
    let p = client.send_early_data(b"hello").unwrap();
    assert_eq!(p.bytes, 5);
    let r = server.recv_early_data(100).unwrap();
    assert_eq!((r.data.len(), r.blocked), (0, Blocked::NotBlocked));
    assert_eq!(server.early_data_status(), EarlyDataStatus::Rejected);
    handshake(&mut client, &mut server);
    assert_eq!(client.early_data_status(), EarlyDataStatus::Rejected);
}

/// Rejected early data of `len` bytes is skipped and the handshake completes; the data sent
/// after the handshake arrives.
fn rejected_early_data_is_skipped(len: usize, server_max: u32) {
    let pki = pki();
    let client_cfg = client_config(&pki, true);
    first_connection(&client_cfg, &server_config(&pki, 65535, &[]));
    let (c, s, _) = pipe();
    let mut client = Connection::new(&client_cfg, c).unwrap();
    let mut server = Connection::new(&server_config(&pki, server_max, &[]), s).unwrap();
    server.reject_early_data().unwrap();
    let data = vec![0x5a; len];
    let mut sent = 0;
    while sent < len {
        let p = client.send_early_data(&data[sent..]).unwrap();
        assert!(p.bytes > 0, "allowance");
        sent += p.bytes;
    }
    handshake(&mut client, &mut server);
    assert_eq!(server.early_data_status(), EarlyDataStatus::Rejected);
    client.send(b"after").unwrap();
    assert_eq!(
        server.recv(100).unwrap().data,
        b"after",
        "{len} bytes skipped"
    );
}

#[test]
fn rejected_early_data_of_any_size_up_to_the_allowance_is_skipped() {
    for len in [1, 8192, 8193, 16384] {
        rejected_early_data_is_skipped(len, 0);
    }
    rejected_early_data_is_skipped(65535, 65535);
}

#[test]
fn replayed_ticket_gets_no_early_data() {
    // The same resumption attempt twice (two clients holding the same session can only be
    // made by replaying the flight): the second finds no session state.
    let (client_cfg, server_cfg) = resumable(&pki(), 1000);
    let (c, s, to_server) = pipe();
    let mut client = Connection::new(&client_cfg, c).unwrap();
    let mut server = Connection::new(&server_cfg, s).unwrap();
    client.send_early_data(b"pay once").unwrap();
    let flight: Vec<u8> = to_server.borrow().iter().copied().collect();
    assert_eq!(server.recv_early_data(100).unwrap().data, b"pay once");
    handshake(&mut client, &mut server);

    // The attacker replays the recorded flight to the same server config.
    let (_c2, s2, to_server2) = pipe();
    to_server2.borrow_mut().extend(flight);
    let mut replayed = Connection::new(&server_cfg, s2).unwrap();
    let r = replayed.recv_early_data(100).unwrap();
    assert!(
        r.data.is_empty(),
        "replayed early data must not be delivered"
    );
    assert_eq!(replayed.early_data_status(), EarlyDataStatus::Rejected);
}

#[test]
fn tickets_cross_servers_sharing_ticket_keys() {
    let pki = pki();
    let client_cfg = client_config(&pki, false);
    let key = [7u8; 32];
    first_connection(&client_cfg, &server_config(&pki, 0, &[key]));
    // Another server config (as another instance would have) with the same key resumes.
    let (c, s, _) = pipe();
    let mut client = Connection::new(&client_cfg, c).unwrap();
    let mut server = Connection::new(&server_config(&pki, 0, &[[9u8; 32], key]), s).unwrap();
    handshake(&mut client, &mut server);
    assert!(server.session_resumed(), "opened by the older key");
    // One without the key does a full handshake.
    let (c, s, _) = pipe();
    let mut client = Connection::new(&client_cfg, c).unwrap();
    let mut server = Connection::new(&server_config(&pki, 0, &[[9u8; 32]]), s).unwrap();
    handshake(&mut client, &mut server);
    assert!(!server.session_resumed());
}

#[test]
fn t72_misuse_is_a_usage_error() {
    let pki = pki();
    let (c, s, _) = pipe();
    let mut client = Connection::new(&client_config(&pki, true), c).unwrap();
    let mut server = Connection::new(&server_config(&pki, 1000, &[]), s).unwrap();
    assert_eq!(
        server.send_early_data(b"x").unwrap_err().name,
        "invalid-state"
    );
    assert_eq!(
        client.recv_early_data(10).unwrap_err().name,
        "invalid-state"
    );
    assert_eq!(
        client.reject_early_data().unwrap_err().name,
        "invalid-state"
    );
    handshake(&mut client, &mut server);
    assert_eq!(
        server.reject_early_data().unwrap_err().name,
        "invalid-state"
    );
}

#[test]
fn rejected_early_data_beyond_the_allowance_fails_with_bad_record_mac() {
    // A server taking no early data skips one full record's worth (16384 bytes), no more.
    let pki = pki();
    let client_cfg = client_config(&pki, true);
    first_connection(&client_cfg, &server_config(&pki, 65535, &[]));
    let (c, s, _) = pipe();
    let mut client = Connection::new(&client_cfg, c).unwrap();
    let mut server = Connection::new(&server_config(&pki, 0, &[]), s).unwrap();
    let data = vec![1u8; 20000];
    let mut sent = 0;
    while sent < data.len() {
        sent += client.send_early_data(&data[sent..]).unwrap().bytes;
    }
    let err = loop {
        match server.negotiate() {
            Err(e) if e.is_blocked() => {
                let _ = client.negotiate();
            }
            Err(e) => break e,
            Ok(()) => panic!("the handshake cannot complete"),
        }
    };
    assert_eq!((err.name, err.alert), ("decrypt", Some(20)));
}

/// A session store outside the config (as the host's is), that the test can read and alter.
#[derive(Default)]
struct SharedStore(std::sync::Mutex<std::collections::HashMap<Vec<u8>, Vec<u8>>>);

impl tlsbox_guest::engine::SessionStore for SharedStore {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.0.lock().unwrap().insert(key, value);
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.lock().unwrap().get(key).cloned()
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.lock().unwrap().remove(key)
    }
}

/// A server taking early data whose sessions live in `store`, with an ALPN protocol whose
/// name rustls writes into every session it stores.
fn stored_session_server(pki: &Pki, store: &Arc<SharedStore>) -> Config {
    let mut o = ConfigOptions::new(Role::Server);
    o.certificate_chain = vec![pki.cert.clone().into_bytes()];
    o.private_key = Some(pki.key.clone().into_bytes());
    o.max_early_data = 1000;
    o.alpn = vec![SESSION_MARKER.into()];
    let host = HostStores {
        sessions: Some(store.clone() as Arc<_>),
        ..HostStores::default()
    };
    Config::with_host(&o, &host).unwrap()
}

const SESSION_MARKER: &str = "tlsbox-sealed-session-marker";

fn alpn_client(pki: &Pki) -> Config {
    let mut o = ConfigOptions::new(Role::Client);
    o.server_name = Some("localhost".into());
    o.trust_anchors = vec![pki.cert.clone().into_bytes()];
    o.early_data = true;
    o.alpn = vec![SESSION_MARKER.into()];
    Config::new(&o).unwrap()
}

/// One resumption attempt with early data: (resumed, early data accepted).
fn resume_with_early_data(client: &Config, server: &Config) -> (bool, bool) {
    let (mut c, mut s) = connect(client, server);
    c.send_early_data(b"early").unwrap();
    let early = s.recv_early_data(100).unwrap().data;
    handshake(&mut c, &mut s);
    assert_eq!(c.session_resumed(), s.session_resumed());
    (s.session_resumed(), early == b"early")
}

#[test]
fn stored_sessions_leave_the_guest_sealed_and_still_resume() {
    let pki = pki();
    let store = Arc::new(SharedStore::default());
    let client = alpn_client(&pki);
    let server = stored_session_server(&pki, &store);
    first_connection(&client, &server);

    let stored = store.0.lock().unwrap().clone();
    assert_eq!(stored.len(), 1, "one ticket, one stored session");
    for (key, value) in &stored {
        assert_eq!(key.len(), 32, "filed under a 32-byte hash");
        // rustls's session encoding carries the SNI name and the ALPN protocol in clear;
        // sealed, neither shows (a value rustls stored as is would hold both).
        for clear in [SESSION_MARKER.as_bytes(), b"localhost"] {
            assert!(!value.windows(clear.len()).any(|w| w == clear), "{value:?}");
        }
    }
    // Sealed sessions still resume, once, and take early data (another server config with
    // the same store: another instance, in the component).
    let other = stored_session_server(&pki, &store);
    assert_eq!(resume_with_early_data(&client, &other), (true, true));
    assert!(
        store.0.lock().unwrap().len() == 1,
        "the resumed session was taken, a new one stored"
    );
}

#[test]
fn an_altered_stored_session_is_refused_with_a_full_handshake() {
    let pki = pki();
    let store = Arc::new(SharedStore::default());
    let client = alpn_client(&pki);
    let server = stored_session_server(&pki, &store);
    first_connection(&client, &server);
    for value in store.0.lock().unwrap().values_mut() {
        let last = value.len() - 1;
        value[last] ^= 0x80; // one bit of the tag
    }
    assert_eq!(resume_with_early_data(&client, &server), (false, false));
}

#[test]
fn a_stored_session_moved_to_another_ticket_is_refused() {
    // Two clients' sessions with their values swapped: each value opens only under the key
    // its own ticket derives, so neither resumes.
    let pki = pki();
    let store = Arc::new(SharedStore::default());
    let server = stored_session_server(&pki, &store);
    let (a, b) = (alpn_client(&pki), alpn_client(&pki));
    first_connection(&a, &server);
    first_connection(&b, &server);
    {
        let mut map = store.0.lock().unwrap();
        let keys: Vec<Vec<u8>> = map.keys().cloned().collect();
        assert_eq!(keys.len(), 2);
        let first = map.remove(&keys[0]).unwrap();
        let second = map.insert(keys[1].clone(), first).unwrap();
        map.insert(keys[0].clone(), second);
    }
    assert_eq!(resume_with_early_data(&a, &server), (false, false));
    assert_eq!(resume_with_early_data(&b, &server), (false, false));
}
