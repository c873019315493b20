//! Handshakes and data both ways against a native rustls peer (ring provider), with the
//! component as client and as server, for every suite and group it implements.

mod common;

use common::*;
use rustls::CipherSuite as Native;
use tlsbox::{Blocked, CipherSuite, Config, KxGroup, ProtocolVersion};

/// The ECDSA-certificate suites with their native identifiers and versions.
const SUITES: [(CipherSuite, Native, ProtocolVersion); 6] = [
    (
        CipherSuite::Tls13Chacha20Poly1305Sha256,
        Native::TLS13_CHACHA20_POLY1305_SHA256,
        ProtocolVersion::Tls13,
    ),
    (
        CipherSuite::Tls13Aes128GcmSha256,
        Native::TLS13_AES_128_GCM_SHA256,
        ProtocolVersion::Tls13,
    ),
    (
        CipherSuite::Tls13Aes256GcmSha384,
        Native::TLS13_AES_256_GCM_SHA384,
        ProtocolVersion::Tls13,
    ),
    (
        CipherSuite::TlsEcdheEcdsaWithChacha20Poly1305Sha256,
        Native::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ProtocolVersion::Tls12,
    ),
    (
        CipherSuite::TlsEcdheEcdsaWithAes128GcmSha256,
        Native::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ProtocolVersion::Tls12,
    ),
    (
        CipherSuite::TlsEcdheEcdsaWithAes256GcmSha384,
        Native::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ProtocolVersion::Tls12,
    ),
];

/// Sends `len` bytes each way and checks they arrive intact.
fn exchange(pair: &mut MemPair, len: usize) {
    let out = payload(len, 7);
    let p = pair.conn.send(&out).expect("send");
    assert_eq!((p.bytes as usize, p.blocked), (len, Blocked::NotBlocked));
    assert_eq!(pair.peer_received(), out);
    let back = payload(len, 11);
    pair.peer_send(&back);
    assert_eq!(pair.recv_exact(len), back);
}

#[test]
fn component_client_every_suite() {
    let pki = pki();
    for (suite, native, version) in SUITES {
        let config = client_config(pki).cipher_suites(&[suite]);
        let mut pair = MemPair::client(&config, native_server(pki, ring_provider(Some(native))));
        pair.handshake()
            .unwrap_or_else(|e| panic!("{suite:?}: {e}"));
        let info = pair
            .conn
            .session_info()
            .unwrap()
            .expect("handshake complete");
        assert_eq!((info.cipher_suite, info.version), (suite, version));
        assert_eq!(info.server_name.as_deref(), Some("localhost"));
        assert_eq!(pair.peer.negotiated_cipher_suite().unwrap().suite(), native);
        exchange(&mut pair, 100_000);
    }
}

#[test]
fn component_server_every_suite() {
    let pki = pki();
    for (suite, native, version) in SUITES {
        let config = server_config(pki).cipher_suites(&[suite]);
        let mut pair = MemPair::server(&config, native_client(pki, ring_provider(Some(native))));
        pair.handshake()
            .unwrap_or_else(|e| panic!("{suite:?}: {e}"));
        let info = pair
            .conn
            .session_info()
            .unwrap()
            .expect("handshake complete");
        assert_eq!((info.cipher_suite, info.version), (suite, version));
        assert_eq!(
            info.server_name.as_deref(),
            Some("localhost"),
            "SNI seen by the server"
        );
        exchange(&mut pair, 100_000);
    }
}

/// The guest's ChaCha20-Poly1305 makes its keystream four blocks (256 bytes) at a time in
/// simd128 lanes, the first batch also keying Poly1305: every record length up to 1,100 bytes
/// (so every partial block and each batch edge) and the largest, sealed and opened by the
/// component and checked by native ring, in TLS 1.3 and TLS 1.2.
#[test]
fn chacha20_poly1305_every_record_length_against_ring() {
    let pki = pki();
    for (suite, native) in [
        (
            CipherSuite::Tls13Chacha20Poly1305Sha256,
            Native::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            CipherSuite::TlsEcdheEcdsaWithChacha20Poly1305Sha256,
            Native::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ] {
        let config = client_config(pki).cipher_suites(&[suite]);
        let mut pair = MemPair::client(&config, native_server(pki, ring_provider(Some(native))));
        pair.handshake()
            .unwrap_or_else(|e| panic!("{suite:?}: {e}"));
        for len in (1..=1_100).chain([16_383, 16_384]) {
            exchange(&mut pair, len);
        }
    }
}

#[test]
fn every_group_both_roles() {
    let pki = pki();
    for group in [KxGroup::X25519, KxGroup::Secp256r1, KxGroup::Secp384r1] {
        let mut pair = MemPair::client(
            &client_config(pki).kx_groups(&[group]),
            native_server(pki, ring_provider(None)),
        );
        pair.handshake().unwrap();
        assert_eq!(
            pair.conn.session_info().unwrap().unwrap().kx_group,
            Some(group)
        );
        exchange(&mut pair, 1000);

        let mut pair = MemPair::server(
            &server_config(pki).kx_groups(&[group]),
            native_client(pki, ring_provider(None)),
        );
        pair.handshake().unwrap();
        assert_eq!(
            pair.conn.session_info().unwrap().unwrap().kx_group,
            Some(group)
        );
        exchange(&mut pair, 1000);
    }
}

#[test]
fn default_order_prefers_chacha20_and_tls13() {
    let pki = pki();
    let mut pair = MemPair::client(&client_config(pki), native_server(pki, ring_provider(None)));
    pair.handshake().unwrap();
    let info = pair.conn.session_info().unwrap().unwrap();
    // A rustls server follows the client's order by default.
    assert_eq!(info.version, ProtocolVersion::Tls13);
    assert_eq!(info.cipher_suite, CipherSuite::Tls13Chacha20Poly1305Sha256);
    assert_eq!(info.kx_group, Some(KxGroup::X25519));

    let mut pair = MemPair::server(&server_config(pki), native_client(pki, ring_provider(None)));
    pair.handshake().unwrap();
    let info = pair.conn.session_info().unwrap().unwrap();
    // ring's client puts AES-256-GCM first; a tlsbox server applies its own order.
    assert_eq!(info.cipher_suite, CipherSuite::Tls13Chacha20Poly1305Sha256);
    assert_eq!(info.kx_group, Some(KxGroup::X25519));
}

#[test]
fn tls12_only_config_negotiates_tls12() {
    let pki = pki();
    let config = client_config(pki).versions(&[ProtocolVersion::Tls12]);
    let mut pair = MemPair::client(&config, native_server(pki, ring_provider(None)));
    pair.handshake().unwrap();
    assert_eq!(
        pair.conn.session_info().unwrap().unwrap().version,
        ProtocolVersion::Tls12
    );
    exchange(&mut pair, 50_000);
}

#[test]
fn alpn_is_negotiated() {
    let pki = pki();
    let mut native = (*native_server(pki, ring_provider(None))).clone();
    native.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let config = client_config(pki).alpn(["http/1.1"]);
    let mut pair = MemPair::client(&config, std::sync::Arc::new(native));
    pair.handshake().unwrap();
    assert_eq!(
        pair.conn.session_info().unwrap().unwrap().alpn.as_deref(),
        Some("http/1.1")
    );
}

#[test]
fn mutual_tls_client_certificate_is_verified() {
    let pki = pki();
    let server = server_config(pki)
        .trust(pki.ca_pem.as_bytes())
        .client_auth(tlsbox::ClientAuth::Required);
    let client = client_config(pki).identity(
        pki.client_cert_pem.as_bytes(),
        pki.client_key_pem.as_bytes(),
    );
    // Component on both sides, over the in-memory wire: the client talks to a server
    // component through a native-free pump.
    let runtime = runtime();
    let a = tlsbox_test_support::ScriptedTransport::new();
    let b = tlsbox_test_support::ScriptedTransport::new();
    let c = tlsbox::Connection::new(&runtime, &client, a.clone()).unwrap();
    let s = tlsbox::Connection::new(&runtime, &server, b.clone()).unwrap();
    let (mut c_done, mut s_done) = (false, false);
    for _ in 0..32 {
        c_done = c_done || c.negotiate().is_ok();
        b.push_inbound(&a.take_outbound());
        s_done = s_done || s.negotiate().is_ok();
        a.push_inbound(&b.take_outbound());
        if c_done && s_done {
            break;
        }
    }
    assert!(c_done && s_done, "mutual handshake finished");
    let info = s.session_info().unwrap().unwrap();
    assert_eq!(
        info.peer_certificates.len(),
        1,
        "the server saw the client's certificate"
    );
}

#[test]
fn mutual_tls_required_rejects_anonymous_client() {
    let pki = pki();
    let server = server_config(pki)
        .trust(pki.ca_pem.as_bytes())
        .client_auth(tlsbox::ClientAuth::Required);
    let mut pair = MemPair::server(&server, native_client(pki, ring_provider(None)));
    let err = pair.handshake().unwrap_err();
    assert!(err.contains("no-certificate"), "{err}");
}

#[test]
fn config_errors_are_values() {
    let runtime = runtime();
    let wire = tlsbox_test_support::ScriptedTransport::new();
    let long_name = "x".repeat(256);
    let cases: [(Config, &str, tlsbox::ErrorKind); 6] = [
        (
            Config::client("localhost").trust_store(tlsbox::TrustStore::from_pem(b"").unwrap()),
            "missing-trust-anchors",
            tlsbox::ErrorKind::Usage,
        ),
        (
            Config::client("not a name!").trust(pki().ca_pem.as_bytes()),
            "invalid-argument",
            tlsbox::ErrorKind::Usage,
        ),
        (
            Config::server(&b"junk"[..], &b"junk"[..]),
            "bad-private-key",
            tlsbox::ErrorKind::Internal,
        ),
        (
            Config::server(
                &b"-----BEGIN NOTHING-----\n"[..],
                pki().server_key_pem.as_bytes(),
            ),
            "bad-certificate-data",
            tlsbox::ErrorKind::Internal,
        ),
        // ALPN names are 1 to 255 bytes (RFC 7301 §3.1); an empty one was found by fuzzing.
        (
            Config::client("localhost")
                .trust(pki().ca_pem.as_bytes())
                .alpn(["h2", ""]),
            "invalid-argument",
            tlsbox::ErrorKind::Usage,
        ),
        (
            server_config(pki()).alpn([long_name.as_str()]),
            "invalid-argument",
            tlsbox::ErrorKind::Usage,
        ),
    ];
    for (config, name, kind) in cases {
        let err = tlsbox::Connection::new(&runtime, &config, wire.clone())
            .err()
            .unwrap_or_else(|| panic!("{name}: config accepted"));
        assert_eq!((err.name.as_str(), err.kind), (name, kind), "{err}");
    }
}
