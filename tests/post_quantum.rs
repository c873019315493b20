//! Post-quantum key exchange by default: X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem) offered
//! first, with the X25519 share alongside.
//!
//! Against native rustls with aws-lc-rs (its X25519MLKEM768) both ways; against a server
//! without ML-KEM (native rustls on ring; `openssl s_server` 3.0) X25519 with no
//! HelloRetryRequest; against a server that takes only X25519MLKEM768; and a client whose
//! hybrid share is malformed (wrong length, an ML-KEM key that fails FIPS 203's check) gets
//! illegal_parameter on the wire.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::peers::{CertKind, Pki as OpenSslPki, Process};
use common::{
    MemPair, client_config, native_client, native_server, pki, ring_provider, runtime,
    server_config,
};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, SharedSecret, SupportedKxGroup, aws_lc_rs,
};
use rustls::{AlertDescription, NamedGroup};
use tlsbox::{Connection, KxGroup, TcpTransport};
use tlsbox_test_support::ScriptedTransport;

fn aws_lc() -> Arc<CryptoProvider> {
    let provider = aws_lc_rs::default_provider();
    assert_eq!(
        provider.kx_groups[0].name(),
        NamedGroup::X25519MLKEM768,
        "aws-lc-rs prefers the hybrid"
    );
    Arc::new(provider)
}

/// The group rustls negotiated on its side.
fn native_group(pair: &MemPair) -> Option<NamedGroup> {
    pair.peer.negotiated_key_exchange_group().map(|g| g.name())
}

#[test]
fn component_client_and_native_aws_lc_server_agree_on_x25519mlkem768() {
    let mut pair = MemPair::client(&client_config(pki()), native_server(pki(), aws_lc()));
    pair.handshake().unwrap();
    let info = pair.conn.session_info().unwrap().unwrap();
    assert_eq!(info.kx_group, Some(KxGroup::X25519mlkem768));
    assert_eq!(native_group(&pair), Some(NamedGroup::X25519MLKEM768));
    pair.peer_send(b"post-quantum");
    assert_eq!(pair.conn.recv(100).unwrap().data, b"post-quantum");
}

#[test]
fn component_server_and_native_aws_lc_client_agree_on_x25519mlkem768() {
    let mut pair = MemPair::server(&server_config(pki()), native_client(pki(), aws_lc()));
    pair.handshake().unwrap();
    let info = pair.conn.session_info().unwrap().unwrap();
    assert_eq!(info.kx_group, Some(KxGroup::X25519mlkem768));
    assert_eq!(native_group(&pair), Some(NamedGroup::X25519MLKEM768));
}

/// The SHA-256 of "HelloRetryRequest": the random of a HelloRetryRequest (RFC 8446 §4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The component's ClientHello and the native server's first flight, one step at a time.
fn first_exchange(server: Arc<rustls::ServerConfig>) -> (Vec<u8>, Vec<u8>, MemPair) {
    let wire = ScriptedTransport::new();
    let conn = Connection::new(&runtime(), &client_config(pki()), wire.clone()).unwrap();
    let mut pair = MemPair::from_parts(conn, wire, server);
    assert!(pair.conn.negotiate().unwrap_err().is_blocked());
    let hello = pair.wire.take_outbound();
    pair.wire.push_inbound(&[]);
    let mut rest = &hello[..];
    while !rest.is_empty() {
        pair.peer.read_tls(&mut rest).unwrap();
    }
    pair.peer.process_new_packets().unwrap();
    let flight = pair.peer_output();
    pair.wire.push_inbound(&flight);
    (hello, flight, pair)
}

#[test]
fn a_server_without_ml_kem_gets_x25519_with_no_hello_retry_request() {
    // Native rustls on ring: X25519, P-256, P-384, no ML-KEM.
    let (hello, flight, mut pair) = first_exchange(native_server(pki(), ring_provider(None)));
    // The ClientHello carries the hybrid share (1,184 + 32 bytes) and the X25519 one.
    assert!(
        hello.len() > 1184 + 32 + 32,
        "ClientHello of {} bytes",
        hello.len()
    );
    // The server answers with a ServerHello, not a HelloRetryRequest: record header (5),
    // handshake header (4), legacy_version (2), then the random.
    assert_eq!(
        (flight[0], flight[5]),
        (22, 2),
        "a handshake record with a ServerHello"
    );
    assert_ne!(flight[11..43], HRR_RANDOM, "no HelloRetryRequest");
    pair.handshake().unwrap();
    let info = pair.conn.session_info().unwrap().unwrap();
    assert_eq!(info.kx_group, Some(KxGroup::X25519));
    assert_eq!(native_group(&pair), Some(NamedGroup::X25519));
}

#[test]
fn a_server_that_takes_only_x25519mlkem768_gets_it_at_once() {
    let mut provider = (*aws_lc()).clone();
    provider
        .kx_groups
        .retain(|g| g.name() == NamedGroup::X25519MLKEM768);
    let (_, flight, mut pair) = first_exchange(native_server(pki(), Arc::new(provider)));
    assert_ne!(flight[11..43], HRR_RANDOM, "no HelloRetryRequest");
    pair.handshake().unwrap();
    let info = pair.conn.session_info().unwrap().unwrap();
    assert_eq!(info.kx_group, Some(KxGroup::X25519mlkem768));
}

#[test]
fn openssl_3_0_without_ml_kem_gets_x25519_with_one_client_hello() {
    let pki = OpenSslPki::generate();
    let identity = pki.get(CertKind::Ecdsa);
    let mut command = Command::new("openssl");
    command
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-naccept",
            "1",
            "-msg",
            "-www",
        ])
        .arg("-cert")
        .arg(&identity.server_cert)
        .arg("-key")
        .arg(&identity.server_key);
    let server = Process::spawn_with_lines(command).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let accept = server
        .lines
        .wait_for("ACCEPT", deadline, |l| l.starts_with("ACCEPT "))
        .unwrap();
    let port: u16 = accept.rsplit(':').next().unwrap().parse().unwrap();
    let config = tlsbox::Config::client("localhost").trust(std::fs::read(&identity.ca).unwrap());
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = Connection::new(&runtime(), &config, TcpTransport::new(tcp)).unwrap();
    tls.negotiate().unwrap();
    let info = tls.session_info().unwrap().unwrap();
    assert_eq!(info.kx_group, Some(KxGroup::X25519));
    tls.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut page = Vec::new();
    let _ = tls.read_to_end(&mut page);
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains("Cipher is TLS_CHACHA20_POLY1305_SHA256"),
        "{page}"
    );
    // `-msg` logs each handshake message: one ClientHello (so no retry), whose supported
    // groups (extension 00 0a, seven groups) start with X25519MLKEM768 (11 ec) and X25519
    // (00 1d).
    let log = server.output();
    assert_eq!(log.matches("], ClientHello").count(), 1, "{log}");
    // (The hex dump's lines are joined by " | " and indented: join the bytes back up.)
    let bytes = log.replace(" |     ", " ");
    assert!(
        bytes.contains("00 0a 00 10 00 0e 11 ec 00 1d"),
        "supported groups: {log}"
    );
}

/// A client group that claims X25519MLKEM768 but sends `share` as its key share.
#[derive(Debug)]
struct Malformed(&'static [u8]);

impl SupportedKxGroup for Malformed {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        Ok(Box::new(MalformedExchange(self.0)))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }
}

struct MalformedExchange(&'static [u8]);

impl ActiveKeyExchange for MalformedExchange {
    fn complete(self: Box<Self>, _: &[u8]) -> Result<SharedSecret, rustls::Error> {
        Err(rustls::Error::General("never completes".into()))
    }

    fn pub_key(&self) -> &[u8] {
        self.0
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519MLKEM768
    }
}

#[test]
fn a_malformed_hybrid_share_gets_illegal_parameter_on_the_wire() {
    static SHORT: [u8; 100] = [1; 100];
    // The right length, but the encapsulation key's first coefficients are ≥ q.
    static BAD_KEY: [u8; 1184 + 32] = [0xff; 1184 + 32];
    static LONG: [u8; 1184 + 33] = [1; 1184 + 33];
    for (label, share) in [
        ("too short", &SHORT[..]),
        ("invalid ML-KEM key", &BAD_KEY[..]),
        ("too long", &LONG[..]),
    ] {
        let group: &'static Malformed = Box::leak(Box::new(Malformed(share)));
        let mut provider = (*ring_provider(None)).clone();
        provider.kx_groups = vec![group];
        let mut pair = MemPair::server(
            &server_config(pki()),
            native_client(pki(), Arc::new(provider)),
        );
        let err = pair.handshake().unwrap_err();
        assert!(err.contains("peer-misbehaved"), "{label}: {err}");
        // The alert went out: the native client reads illegal_parameter.
        let alert = pair.wire.take_outbound();
        let mut rest = &alert[..];
        pair.peer.read_tls(&mut rest).unwrap();
        assert_eq!(
            pair.peer.process_new_packets().unwrap_err(),
            rustls::Error::AlertReceived(AlertDescription::IllegalParameter),
            "{label}"
        );
    }
}
