//! The engine and record layer fed bytes from the peer. Whatever arrives, every call
//! returns: an error value (with its alert on the wire where one applies), never a panic
//! or a hang.

use std::sync::Arc;

use tlsbox_guest::conn::{Config, Connection};
use tlsbox_guest::types::{ConfigOptions, ErrorKind, Role};

use crate::fixture::{self, Input, Logged, MemSocket, Sealer};

/// Arbitrary bytes from a client, into a fresh server (every suite, group and version):
/// ClientHello parsing, the record layer before keys and every early alert. The first byte
/// picks options (early data, client certificates, record buffering, s2n's alert policy).
pub fn server_first_flight(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.u8();
    feed(&config(Role::Server, flags), input.0);
}

/// Arbitrary bytes from a server, into a client that has sent its ClientHello (the default
/// groups, so the post-quantum share is live): ServerHello and HelloRetryRequest parsing,
/// the hybrid key exchange's decapsulation of whatever share arrives.
pub fn client_first_flight(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.u8();
    feed(&config(Role::Client, flags), input.0);
}

/// The config for `role` and the option `flags` (low four bits).
fn config(role: Role, flags: u8) -> Config {
    let key = 0x200 | u16::from(role == Role::Server) << 4 | u16::from(flags & 15);
    fixture::config(key, || {
        let mut options = fixture::options(role, true);
        vary(&mut options, flags);
        options
    })
}

/// Options the first input byte varies.
fn vary(options: &mut ConfigOptions, flags: u8) {
    if flags & 1 != 0 {
        options.max_early_data = 16384;
        options.early_data = true;
    }
    if flags & 2 != 0 && options.role == Role::Server {
        options.trust_anchors = vec![fixture::identity().ca_pem.as_bytes().to_vec()];
        options.client_auth = tlsbox_guest::types::ClientAuth::Optional;
    }
    options.recv_buffering = flags & 4 != 0;
    if flags & 8 != 0 {
        options.alert_policy = tlsbox_guest::types::AlertPolicy::S2n;
        options.max_blinding_delay_secs = 0;
    }
}

/// Runs a connection made from `config` over `bytes` from the peer, then every call once.
fn feed(config: &Config, bytes: &[u8]) {
    let socket = MemSocket::default();
    let mut conn = Connection::new(config, socket.clone()).expect("connection");
    socket.push(bytes);
    socket.0.borrow_mut().eof = true;
    drive(&mut conn);
}

/// Every call a connection offers, once each, checking the shape of each result.
fn drive(conn: &mut Connection<MemSocket>) {
    // The input is finite and the transport ends with it: one negotiate call takes it all
    // and must return (done, blocked or an error that is not internal).
    if let Err(e) = conn.negotiate() {
        assert_ne!(e.kind, ErrorKind::Internal, "{e}");
    }
    for _ in 0..64 {
        match conn.recv(1 << 14) {
            Ok(r) if r.data.is_empty() => break,
            Ok(r) => assert!(r.data.len() <= 1 << 14),
            Err(e) => {
                assert!(e.kind != ErrorKind::Internal, "{e}");
                break;
            }
        }
    }
    let _ = conn.peek();
    let _ = conn.send(b"fuzz");
    let _ = conn.request_key_update();
    let _ = conn.flush();
    let _ = conn.send_early_data(b"early");
    let _ = conn.recv_early_data(100);
    let _ = conn.shutdown_send();
    let _ = conn.shutdown();
    let _ = conn.session_info();
}

/// Records forged under the real keys of a real handshake with a native rustls peer,
/// during the handshake (after the peer's plaintext first flight) or after it.
///
/// Input: a mode byte (bit 0: the component is the server; bit 1: after the handshake),
/// then records as `type, flags, length (u16), payload`; flag bit 0 sends the record as
/// it is (unprotected, header and all from the fuzzer), otherwise it is sealed with
/// `type` as its inner content type.
pub fn forged_records(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.u8();
    let server = mode & 1 != 0;
    let after = mode & 2 != 0;
    let log = Arc::new(Logged::default());
    let role = if server { Role::Server } else { Role::Client };
    let config = fixture::config(0x100 | u16::from(server), || fixture::options(role, false));
    let socket = MemSocket::default();
    let mut conn = Connection::new(&config, socket.clone()).expect("connection");

    let mut sealer = if server {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut peer =
            rustls::ClientConnection::new(fixture::native_client(Some(log.clone())), name)
                .expect("native client");
        if after {
            assert!(
                fixture::exchange(&mut conn, &socket, &mut peer),
                "handshake"
            );
            let _ = socket.take();
            let (seq, secrets) = peer.dangerous_extract_secrets().expect("secrets").tx;
            Sealer::from_extracted(seq, secrets).expect("AES-256-GCM")
        } else {
            // The ClientHello in, the server's flight out to the client; the client's own
            // answer is dropped: the fuzzer writes it.
            let mut hello = Vec::new();
            peer.write_tls(&mut hello).expect("hello");
            socket.push(&hello);
            let _ = conn.negotiate();
            let Some(secret) = log.get("CLIENT_HANDSHAKE_TRAFFIC_SECRET") else {
                return;
            };
            Sealer::from_secret(&secret)
        }
    } else {
        let mut peer = rustls::ServerConnection::new(fixture::native_server(Some(log.clone())))
            .expect("native server");
        if after {
            assert!(
                fixture::exchange(&mut conn, &socket, &mut peer),
                "handshake"
            );
            let _ = socket.take();
            let (seq, secrets) = peer.dangerous_extract_secrets().expect("secrets").tx;
            Sealer::from_extracted(seq, secrets).expect("AES-256-GCM")
        } else {
            // The ClientHello to the server; of its answer only the plaintext ServerHello
            // (and the ChangeCipherSpec) go to the component: the fuzzer writes the rest.
            let _ = conn.negotiate();
            let hello = socket.take();
            let mut rest = &hello[..];
            while !rest.is_empty() {
                assert!(matches!(peer.read_tls(&mut rest), Ok(1..)), "read");
            }
            peer.process_new_packets().expect("ClientHello");
            let mut flight = Vec::new();
            while peer.wants_write() {
                peer.write_tls(&mut flight).expect("write");
            }
            let mut at = 0;
            while let Some(header) = flight.get(at..at + 5) {
                if header[0] == 23 {
                    break;
                }
                at += 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
            }
            socket.push(&flight[..at.min(flight.len())]);
            let Some(secret) = log.get("SERVER_HANDSHAKE_TRAFFIC_SECRET") else {
                return;
            };
            Sealer::from_secret(&secret)
        }
    };

    while !input.is_empty() {
        let typ = input.u8();
        let flags = input.u8();
        let len = usize::from(input.u16());
        let payload = input.bytes(len);
        if flags & 1 != 0 {
            socket.push(payload);
        } else {
            socket.push(&sealer.seal(typ, payload));
        }
    }
    socket.0.borrow_mut().eof = true;
    drive(&mut conn);
}
