//! Tests for the crypto provider, mostly differential: each handshake pairs our provider with
//! rustls's ring provider in memory, so both sides of every primitive meet an independent
//! implementation.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, OnceLock};

use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
use rustls::client::ClientConnection;
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, Iv, OutboundChunks, OutboundPlainMessage,
};
use rustls::crypto::{CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms};
use rustls::server::ServerConnection;
use rustls::sign::{CertifiedKey, Signer, SigningKey, SingleCertAndKey};
use rustls::version::{TLS12, TLS13};
use rustls::{
    CertificateError, ClientConfig, Connection, ConnectionTrafficSecrets, ContentType, Error,
    HandshakeKind, NamedGroup, ProtocolVersion, RootCertStore, ServerConfig, SignatureAlgorithm,
    SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion,
};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
    ServerName, SignatureVerificationAlgorithm, SubjectPublicKeyInfoDer,
};

use super::*;

const RSA_CERT: &[u8] = include_bytes!("testdata/rsa2048.cert.der");
const RSA_PKCS8: &[u8] = include_bytes!("testdata/rsa2048.pkcs8.der");
const RSA_PKCS1: &[u8] = include_bytes!("testdata/rsa2048.pkcs1.der");
const RSA_OTHER_PKCS8: &[u8] = include_bytes!("testdata/rsa2048-other.pkcs8.der");
const RSA1024_PKCS8: &[u8] = include_bytes!("testdata/rsa1024.pkcs8.der");
const P256_SEC1: &[u8] = include_bytes!("testdata/p256.sec1.der");
const P384_SEC1: &[u8] = include_bytes!("testdata/p384.sec1.der");
const P521_PKCS8: &[u8] = include_bytes!("testdata/p521.pkcs8.der");
const P521_SEC1: &[u8] = include_bytes!("testdata/p521.sec1.der");
const P521_CERT: &[u8] = include_bytes!("testdata/p521.cert.der");
const P521_PEER_PKCS8: &[u8] = include_bytes!("testdata/p521-peer.pkcs8.der");
const P521_ECDH: &[u8] = include_bytes!("testdata/p521.ecdh.bin");
const K256_PKCS8: &[u8] = include_bytes!("testdata/k256.pkcs8.der");
/// The message the OpenSSL signatures in testdata sign.
const OPENSSL_MSG: &[u8] = b"the quick brown fox";

// ---------------------------------------------------------------------------------------------
// Fixtures and harness

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    P256,
    P384,
    Ed25519,
    Rsa,
    /// ring cannot sign or verify P-521: only our provider can use this identity.
    P521,
}

/// A self-signed leaf certificate for `localhost` and its PKCS#8 key.
struct Identity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

/// One identity per key type, made once: rcgen for the P-256, P-384 and Ed25519 keys, the
/// committed openssl fixtures for RSA and P-521 (rcgen's ring backend can generate neither).
fn identity(kind: KeyKind) -> &'static Identity {
    static IDS: [OnceLock<Identity>; 5] = [const { OnceLock::new() }; 5];
    IDS[kind as usize].get_or_init(|| {
        let alg = match kind {
            KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
            KeyKind::Rsa => {
                return Identity {
                    cert: CertificateDer::from(RSA_CERT.to_vec()),
                    key: PrivateKeyDer::Pkcs8(RSA_PKCS8.to_vec().into()),
                };
            }
            KeyKind::P521 => {
                return Identity {
                    cert: CertificateDer::from(P521_CERT.to_vec()),
                    key: PrivateKeyDer::Pkcs8(P521_PKCS8.to_vec().into()),
                };
            }
        };
        let key = rcgen::KeyPair::generate_for(alg).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        Identity {
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        }
    })
}

fn ours() -> CryptoProvider {
    provider()
}

fn ring() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// aws-lc-rs, the independent peer with ML-KEM (its hybrid groups included).
fn aws_lc() -> CryptoProvider {
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    p.kx_groups = rustls::crypto::aws_lc_rs::ALL_KX_GROUPS.to_vec();
    p
}

/// Whether `group` is a post-quantum hybrid (a KEM: TLS 1.3 only, and the two shares differ).
fn hybrid(group: &dyn SupportedKxGroup) -> bool {
    matches!(
        group.name(),
        NamedGroup::X25519MLKEM768 | NamedGroup::secp256r1MLKEM768
    )
}

fn only_suite(mut p: CryptoProvider, suite: SupportedCipherSuite) -> CryptoProvider {
    p.cipher_suites = vec![suite];
    p
}

fn only_group(mut p: CryptoProvider, group: &'static dyn SupportedKxGroup) -> CryptoProvider {
    p.kx_groups = vec![group];
    p
}

/// Restricts the signature schemes a provider offers (and accepts) in handshakes to one.
/// Certificate-chain checking keeps every algorithm.
fn only_scheme(mut p: CryptoProvider, scheme: SignatureScheme) -> CryptoProvider {
    let algs = p.signature_verification_algorithms;
    let mapping: Vec<_> = algs
        .mapping
        .iter()
        .filter(|(s, _)| *s == scheme)
        .copied()
        .collect();
    assert_eq!(mapping.len(), 1, "{scheme:?} not in the provider's mapping");
    p.signature_verification_algorithms = WebPkiSupportedAlgorithms {
        all: algs.all,
        mapping: Box::leak(mapping.into_boxed_slice()),
    };
    p
}

/// A signing key that records the scheme of every signer it hands out.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn SigningKey>,
    used: Arc<Mutex<Vec<SignatureScheme>>>,
}

impl SigningKey for Recording {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let signer = self.inner.choose_scheme(offered)?;
        self.used.lock().unwrap().push(signer.scheme());
        Some(signer)
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        self.inner.public_key()
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.inner.algorithm()
    }
}

fn client_config(
    provider: CryptoProvider,
    version: &'static SupportedProtocolVersion,
    trust: &Identity,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(trust.cert.clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.enable_secret_extraction = true;
    Arc::new(config)
}

/// A server config presenting `id.cert`, signing with `key` (loaded by `provider` if `None`).
/// Returns the log of schemes the server signed with.
fn server_config(
    provider: CryptoProvider,
    version: &'static SupportedProtocolVersion,
    id: &Identity,
    key: Option<Arc<dyn SigningKey>>,
) -> (Arc<ServerConfig>, Arc<Mutex<Vec<SignatureScheme>>>) {
    let key = key.unwrap_or_else(|| {
        provider
            .key_provider
            .load_private_key(id.key.clone_key())
            .unwrap()
    });
    let used = Arc::new(Mutex::new(Vec::new()));
    let key = Arc::new(Recording {
        inner: key,
        used: used.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(CertifiedKey::new(
            vec![id.cert.clone()],
            key,
        ))));
    config.enable_secret_extraction = true;
    (Arc::new(config), used)
}

fn connect(client: Arc<ClientConfig>, server: Arc<ServerConfig>) -> (Connection, Connection) {
    let name = ServerName::try_from("localhost").unwrap();
    let client = ClientConnection::new(client, name).unwrap();
    let server = ServerConnection::new(server).unwrap();
    (client.into(), server.into())
}

/// Everything `from` has to send, as bytes.
fn take_tls(from: &mut Connection) -> Vec<u8> {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    buf
}

/// Feeds `bytes` to `to` (rustls reads at most 4096 bytes a call) and processes them.
fn feed(to: &mut Connection, bytes: &[u8]) -> Result<(), Error> {
    let mut rd = bytes;
    while !rd.is_empty() {
        to.read_tls(&mut rd).unwrap();
        to.process_new_packets()?;
    }
    Ok(())
}

fn pump(from: &mut Connection, to: &mut Connection) -> Result<(), Error> {
    let bytes = take_tls(from);
    feed(to, &bytes)
}

/// Runs the handshake to completion and drains anything sent after it (tickets).
fn handshake(client: &mut Connection, server: &mut Connection) -> Result<(), Error> {
    for _ in 0..10 {
        pump(client, server)?;
        pump(server, client)?;
        if !client.is_handshaking() && !server.is_handshaking() {
            pump(client, server)?;
            pump(server, client)?;
            return Ok(());
        }
    }
    panic!("handshake did not finish");
}

fn read_all(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    out
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Moves `data` from `from` to `to` in 16 KiB writes (rustls buffers at most 64 KiB unsent).
fn send(from: &mut Connection, to: &mut Connection, data: &[u8]) -> Vec<u8> {
    let mut received = Vec::new();
    for chunk in data.chunks(16_384) {
        from.writer().write_all(chunk).unwrap();
        pump(from, to).unwrap();
        received.extend(read_all(to));
    }
    received
}

/// Sends data both ways: a short message, then enough for several full 16 KiB records.
fn round_trip(client: &mut Connection, server: &mut Connection) {
    for (len, seed) in [(12, 1u8), (70_000, 2)] {
        let up = pattern(len, seed);
        assert_eq!(
            send(client, server, &up),
            up,
            "client to server, {len} bytes"
        );
        let down = pattern(len, seed.wrapping_add(100));
        assert_eq!(
            send(server, client, &down),
            down,
            "server to client, {len} bytes"
        );
    }
}

fn common(suite: SupportedCipherSuite) -> &'static rustls::crypto::CipherSuiteCommon {
    match suite {
        SupportedCipherSuite::Tls13(s) => &s.common,
        SupportedCipherSuite::Tls12(s) => &s.common,
    }
}

fn version_of(suite: SupportedCipherSuite) -> &'static SupportedProtocolVersion {
    match suite {
        SupportedCipherSuite::Tls13(_) => &TLS13,
        SupportedCipherSuite::Tls12(_) => &TLS12,
    }
}

/// The certificate type a suite needs: TLS 1.2 ECDHE_RSA suites need RSA, the rest ECDSA.
fn key_for(suite: SupportedCipherSuite) -> KeyKind {
    match suite {
        SupportedCipherSuite::Tls12(s) if s.sign.contains(&SignatureScheme::RSA_PSS_SHA256) => {
            KeyKind::Rsa
        }
        _ => KeyKind::P256,
    }
}

/// Which side runs our provider.
#[derive(Clone, Copy, Debug)]
enum Ours {
    Client,
    Server,
}

/// A connected, handshaken pair.
struct Pair {
    client: Connection,
    server: Connection,
    server_signed: Arc<Mutex<Vec<SignatureScheme>>>,
}

/// Connects our provider (in role `role`, configured by `ours`) with ring (configured by
/// `ring`) using `key`'s identity.
fn pair(
    role: Ours,
    version: &'static SupportedProtocolVersion,
    kind: KeyKind,
    ours: CryptoProvider,
    ring: CryptoProvider,
) -> Result<Pair, Error> {
    let id = identity(kind);
    let (client_p, server_p) = match role {
        Ours::Client => (ours, ring),
        Ours::Server => (ring, ours),
    };
    let (server_cfg, server_signed) = server_config(server_p, version, id, None);
    let (mut client, mut server) = connect(client_config(client_p, version, id), server_cfg);
    handshake(&mut client, &mut server)?;
    Ok(Pair {
        client,
        server,
        server_signed,
    })
}

fn last_scheme(log: &Mutex<Vec<SignatureScheme>>) -> Option<SignatureScheme> {
    log.lock().unwrap().last().copied()
}

// ---------------------------------------------------------------------------------------------
// Provider shape

#[test]
fn default_suite_order_puts_chacha_first() {
    let ids: Vec<_> = provider().cipher_suites.iter().map(|s| s.suite()).collect();
    use rustls::CipherSuite as C;
    assert_eq!(
        ids,
        [
            C::TLS13_CHACHA20_POLY1305_SHA256,
            C::TLS13_AES_128_GCM_SHA256,
            C::TLS13_AES_256_GCM_SHA384,
            C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ]
    );
    let groups: Vec<_> = provider().kx_groups.iter().map(|g| g.name()).collect();
    assert_eq!(
        groups,
        [
            NamedGroup::X25519MLKEM768,
            NamedGroup::X25519,
            NamedGroup::secp256r1,
            NamedGroup::secp256r1MLKEM768,
            NamedGroup::secp384r1,
            NamedGroup::X448,
            NamedGroup::secp521r1,
        ]
    );
    assert_eq!(format!("{SECP521R1:?}"), "secp521r1");
    assert_eq!(format!("{X25519:?}"), "X25519");
}

#[test]
fn suites_match_ring_limits_hashes_and_schemes() {
    let ring = ring();
    for ours in DEFAULT_CIPHER_SUITES {
        let theirs = ring
            .cipher_suites
            .iter()
            .find(|s| s.suite() == ours.suite())
            .unwrap();
        let (a, b) = (common(*ours), common(*theirs));
        assert_eq!(
            a.confidentiality_limit,
            b.confidentiality_limit,
            "{:?}",
            ours.suite()
        );
        assert_eq!(a.hash_provider.algorithm(), b.hash_provider.algorithm());
        assert_eq!(a.hash_provider.output_len(), b.hash_provider.output_len());
        match (ours, theirs) {
            (SupportedCipherSuite::Tls12(a), SupportedCipherSuite::Tls12(b)) => {
                assert_eq!(a.sign, b.sign);
                assert_eq!(a.kx, b.kx);
                let (sa, sb) = (a.aead_alg.key_block_shape(), b.aead_alg.key_block_shape());
                assert_eq!(sa.enc_key_len, sb.enc_key_len);
                assert_eq!(sa.fixed_iv_len, sb.fixed_iv_len);
                assert_eq!(sa.explicit_nonce_len, sb.explicit_nonce_len);
            }
            (SupportedCipherSuite::Tls13(a), SupportedCipherSuite::Tls13(b)) => {
                assert_eq!(a.aead_alg.key_len(), b.aead_alg.key_len());
            }
            _ => panic!("version mismatch for {:?}", ours.suite()),
        }
    }
}

/// Whether an algorithm is one ring lacks: a P-521 key or an ECDSA-with-SHA-512 signature.
fn beyond_ring(alg: &dyn SignatureVerificationAlgorithm) -> bool {
    use rustls_pki_types::alg_id;
    alg.public_key_alg_id() == alg_id::ECDSA_P521 || alg.signature_alg_id() == alg_id::ECDSA_SHA512
}

/// Our table is ring's plus P-521 and ECDSA-with-SHA-512, which ring lacks.
#[test]
fn signature_mapping_matches_ring() {
    let ring = ring().signature_verification_algorithms;
    let ours = SUPPORTED_SIG_ALGS;
    let p521 = SignatureScheme::ECDSA_NISTP521_SHA512;
    let mut expected = ring.supported_schemes();
    // aws-lc-rs's order: P-384, P-256, then P-521, then the rest.
    expected.insert(2, p521);
    assert_eq!(ours.supported_schemes(), expected);
    // Without the additions, the table is exactly ring's.
    let trimmed: Vec<(SignatureScheme, Vec<&dyn SignatureVerificationAlgorithm>)> = ours
        .mapping
        .iter()
        .filter(|(s, _)| *s != p521)
        .map(|(s, algs)| {
            (
                *s,
                algs.iter().copied().filter(|a| !beyond_ring(*a)).collect(),
            )
        })
        .collect();
    assert_eq!(trimmed.len(), ring.mapping.len());
    for ((s1, a1), (s2, a2)) in trimmed.iter().zip(ring.mapping) {
        assert_eq!(s1, s2);
        assert_eq!(a1.len(), a2.len(), "{s1:?}");
        for (x, y) in a1.iter().zip(a2.iter()) {
            assert_eq!(x.public_key_alg_id(), y.public_key_alg_id(), "{s1:?}");
            assert_eq!(x.signature_alg_id(), y.signature_alg_id(), "{s1:?}");
        }
    }
    let ids = |algs: &[&dyn SignatureVerificationAlgorithm]| {
        let mut v: Vec<_> = algs
            .iter()
            .map(|a| (a.public_key_alg_id(), a.signature_alg_id()))
            .collect();
        v.sort_by(|a, b| (a.0.as_ref(), a.1.as_ref()).cmp(&(b.0.as_ref(), b.1.as_ref())));
        v
    };
    let ours_in_ring: Vec<_> = ours
        .all
        .iter()
        .copied()
        .filter(|a| !beyond_ring(*a))
        .collect();
    assert_eq!(ids(&ours_in_ring), ids(ring.all));
    // The additions: every NIST curve with SHA-512, and P-521 with every hash.
    assert_eq!(ours.all.len() - ours_in_ring.len(), 5);
    // In TLS 1.3 only the first algorithm counts: the scheme's own curve.
    let (_, algs) = ours.mapping.iter().find(|(s, _)| *s == p521).unwrap();
    assert_eq!(
        algs[0].public_key_alg_id(),
        rustls_pki_types::alg_id::ECDSA_P521
    );
    assert_eq!(algs.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// 1. Every cipher suite, both roles

fn check_suite(role: Ours, suite: SupportedCipherSuite) {
    let mut p = pair(
        role,
        version_of(suite),
        key_for(suite),
        only_suite(ours(), suite),
        ring(),
    )
    .unwrap_or_else(|e| panic!("{role:?} {:?}: {e}", suite.suite()));
    for conn in [&p.client, &p.server] {
        assert_eq!(
            conn.negotiated_cipher_suite().unwrap().suite(),
            suite.suite()
        );
        assert_eq!(conn.protocol_version(), Some(version_of(suite).version));
    }
    round_trip(&mut p.client, &mut p.server);
}

#[test]
fn every_suite_our_client_ring_server() {
    for suite in DEFAULT_CIPHER_SUITES {
        check_suite(Ours::Client, *suite);
    }
}

#[test]
fn every_suite_our_server_ring_client() {
    for suite in DEFAULT_CIPHER_SUITES {
        check_suite(Ours::Server, *suite);
    }
}

/// rustls derives the exported secrets through our `extract_keys`; both ends must agree on
/// the variant (AES-128 vs AES-256 vs ChaCha) and the bytes.
#[test]
fn extracted_secrets_agree_with_ring_for_every_suite() {
    fn parts(s: &ConnectionTrafficSecrets) -> (&'static str, Vec<u8>, Vec<u8>) {
        match s {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => {
                ("aes128", key.as_ref().to_vec(), iv.as_ref().to_vec())
            }
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
                ("aes256", key.as_ref().to_vec(), iv.as_ref().to_vec())
            }
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                ("chacha", key.as_ref().to_vec(), iv.as_ref().to_vec())
            }
            _ => panic!("unexpected secrets variant"),
        }
    }
    for suite in DEFAULT_CIPHER_SUITES {
        let name = format!("{:?}", suite.suite());
        let expected = if name.contains("CHACHA") {
            "chacha"
        } else if name.contains("AES_128") {
            "aes128"
        } else {
            "aes256"
        };
        let p = pair(
            Ours::Client,
            version_of(*suite),
            key_for(*suite),
            only_suite(ours(), *suite),
            ring(),
        )
        .unwrap();
        let mine = p.client.dangerous_extract_secrets().unwrap();
        let theirs = p.server.dangerous_extract_secrets().unwrap();
        let (kind, key, iv) = parts(&mine.tx.1);
        assert_eq!(kind, expected, "{name}");
        assert_eq!(key.len(), if kind == "aes128" { 16 } else { 32 }, "{name}");
        assert_eq!((kind, key, iv), parts(&theirs.rx.1), "{name}");
        assert_eq!(parts(&mine.rx.1), parts(&theirs.tx.1), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Every key-exchange group, both roles, both versions

#[test]
fn every_group_both_roles_both_versions() {
    for group in DEFAULT_KX_GROUPS {
        for version in [&TLS13, &TLS12] {
            if hybrid(*group) && version.version == rustls::ProtocolVersion::TLSv1_2 {
                continue; // the hybrids are TLS 1.3 groups
            }
            for role in [Ours::Client, Ours::Server] {
                // Our side offers only this group; as a TLS 1.3 server restricted to a NIST
                // curve that also exercises HelloRetryRequest (the peer guesses X25519). ring
                // has no P-521, X448 or ML-KEM: for P-521 and X448 our own provider is the
                // peer (OpenSSL meets them in tests/interop_openssl.rs), for the hybrids
                // aws-lc-rs.
                let peer = if matches!(group.name(), NamedGroup::secp521r1 | NamedGroup::X448) {
                    ours()
                } else if hybrid(*group) {
                    aws_lc()
                } else {
                    ring()
                };
                let mut p = pair(
                    role,
                    version,
                    KeyKind::P256,
                    only_group(ours(), *group),
                    peer,
                )
                .unwrap_or_else(|e| panic!("{role:?} {:?} {group:?}: {e}", version.version));
                for conn in [&p.client, &p.server] {
                    assert_eq!(
                        conn.negotiated_key_exchange_group().unwrap().name(),
                        group.name()
                    );
                }
                round_trip(&mut p.client, &mut p.server);
            }
        }
    }
}

#[test]
fn malformed_key_shares_are_rejected() {
    // The hybrids' shares differ by direction: `hybrid::tests` covers theirs.
    for group in DEFAULT_KX_GROUPS.iter().filter(|g| !hybrid(**g)) {
        let kx = group.start().unwrap();
        let good = kx.pub_key().to_vec();
        let mut bad: Vec<Vec<u8>> = vec![vec![], vec![0x04], good[..good.len() - 1].to_vec()];
        bad.push([good.clone(), vec![0]].concat());
        if group.name() == NamedGroup::X25519 {
            bad.push(vec![0; 32]); // low-order point: all-zero shared secret
        } else if group.name() == NamedGroup::X448 {
            // The points of small order (0, 1 and p - 1): all-zero shared secrets.
            bad.push(vec![0; 56]);
            bad.push([vec![1], vec![0; 55]].concat());
            let half = [vec![0xfe], vec![0xff; 27]].concat(); // 2^224 - 2
            bad.push([half.clone(), half].concat());
        } else {
            let mut compressed = vec![0x02];
            compressed.extend_from_slice(&good[1..good.len() / 2 + 1]);
            bad.push(compressed);
            let mut off_curve = good.clone();
            *off_curve.last_mut().unwrap() ^= 1;
            bad.push(off_curve);
            bad.push([vec![0x04], vec![0; good.len() - 1]].concat());
        }
        for peer in bad {
            let kx = group.start().unwrap();
            assert_eq!(
                kx.complete(&peer).err(),
                Some(Error::PeerMisbehaved(
                    rustls::PeerMisbehaved::InvalidKeyShare
                )),
                "{group:?} accepted {peer:02x?}"
            );
        }
        // And the honest exchange agrees with itself.
        let a = group.start().unwrap();
        let b = group.start().unwrap();
        let pub_a = a.pub_key().to_vec();
        let sa = a.complete(b.pub_key()).unwrap();
        let sb = b.complete(&pub_a).unwrap();
        assert_eq!(sa.secret_bytes(), sb.secret_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Signing (our server, ring client) and verification (our client, ring server)

/// Every (version, key, scheme) a handshake can use.
fn signature_cases() -> Vec<(&'static SupportedProtocolVersion, KeyKind, SignatureScheme)> {
    use SignatureScheme as S;
    let mut cases = Vec::new();
    for version in [&TLS13, &TLS12] {
        cases.push((version, KeyKind::P256, S::ECDSA_NISTP256_SHA256));
        cases.push((version, KeyKind::P384, S::ECDSA_NISTP384_SHA384));
        cases.push((version, KeyKind::Ed25519, S::ED25519));
        for s in [S::RSA_PSS_SHA256, S::RSA_PSS_SHA384, S::RSA_PSS_SHA512] {
            cases.push((version, KeyKind::Rsa, s));
        }
    }
    // PKCS#1 v1.5 is not allowed for TLS 1.3 handshake signatures.
    for s in [
        S::RSA_PKCS1_SHA256,
        S::RSA_PKCS1_SHA384,
        S::RSA_PKCS1_SHA512,
    ] {
        cases.push((&TLS12, KeyKind::Rsa, s));
    }
    cases
}

#[test]
fn our_server_signs_with_every_key_type_and_scheme() {
    for (version, kind, scheme) in signature_cases() {
        // The ring client offers only `scheme`, so that is what our key must sign with.
        let mut p = pair(
            Ours::Server,
            version,
            kind,
            ours(),
            only_scheme(ring(), scheme),
        )
        .unwrap_or_else(|e| panic!("{:?} {kind:?} {scheme:?}: {e}", version.version));
        assert_eq!(last_scheme(&p.server_signed), Some(scheme));
        round_trip(&mut p.client, &mut p.server);
    }
}

#[test]
fn our_client_verifies_every_key_type_and_scheme() {
    for (version, kind, scheme) in signature_cases() {
        // Our client offers only `scheme`; the ring server signs with it and we verify.
        let p = pair(
            Ours::Client,
            version,
            kind,
            only_scheme(ours(), scheme),
            ring(),
        )
        .unwrap_or_else(|e| panic!("{:?} {kind:?} {scheme:?}: {e}", version.version));
        assert_eq!(last_scheme(&p.server_signed), Some(scheme));
    }
}

#[test]
fn rsa_key_prefers_pss_then_longer_hashes() {
    use SignatureScheme as S;
    let key = load_private_key(&identity(KeyKind::Rsa).key).unwrap();
    let pick = |offered: &[S]| key.choose_scheme(offered).map(|s| s.scheme());
    assert_eq!(
        pick(&[S::RSA_PKCS1_SHA256, S::RSA_PSS_SHA256, S::RSA_PKCS1_SHA512]),
        Some(S::RSA_PSS_SHA256)
    );
    assert_eq!(
        pick(&[S::RSA_PKCS1_SHA256, S::RSA_PKCS1_SHA384]),
        Some(S::RSA_PKCS1_SHA384)
    );
    assert_eq!(pick(&[S::ECDSA_NISTP256_SHA256, S::ED25519]), None);
}

/// Raw `subjectPublicKey` bits from an SPKI, as webpki hands them to an algorithm.
fn raw_public_key(spki: &SubjectPublicKeyInfoDer<'_>) -> Vec<u8> {
    SubjectPublicKeyInfoRef::try_from(spki.as_ref())
        .unwrap()
        .subject_public_key
        .raw_bytes()
        .to_vec()
}

/// Raw `subjectPublicKey` bits of a certificate's key.
fn cert_public_key(cert: &[u8]) -> Vec<u8> {
    let cert = CertificateDer::from(cert);
    let cert = webpki::EndEntityCert::try_from(&cert).unwrap();
    raw_public_key(&cert.subject_public_key_info())
}

/// Every verification algorithm, directly: a signature from an independent signer verifies
/// under ours (and ring's, where ring has the algorithm); a changed message, signature, or key
/// does not.
#[test]
fn every_verification_algorithm_against_ring() {
    use sha2::Digest;
    use verify::*;

    let ring_algs = ring().signature_verification_algorithms.all;
    let msg = OPENSSL_MSG;
    let other = b"the quick brown fix";

    // ring signs what it can.
    let by_ring = |kind: KeyKind, scheme: SignatureScheme| -> (Vec<u8>, Vec<u8>) {
        let key = rustls::crypto::ring::sign::any_supported_type(&identity(kind).key).unwrap();
        let pk = raw_public_key(&key.public_key().unwrap());
        (pk, key.choose_scheme(&[scheme]).unwrap().sign(msg).unwrap())
    };
    // RustCrypto's prehash signer, for the mixed P-256/P-384 pairings ring cannot sign.
    let prehash = |kind: KeyKind| -> (Vec<u8>, Vec<u8>) {
        use ecdsa::signature::hazmat::PrehashSigner;
        let key = rustls::crypto::ring::sign::any_supported_type(&identity(kind).key).unwrap();
        let pk = raw_public_key(&key.public_key().unwrap());
        let der = identity(kind).key.secret_der();
        let sig = match kind {
            KeyKind::P256 => {
                let k =
                    <p256::ecdsa::SigningKey as p256::pkcs8::DecodePrivateKey>::from_pkcs8_der(der)
                        .unwrap();
                let s: p256::ecdsa::DerSignature =
                    k.sign_prehash(&sha2::Sha384::digest(msg)).unwrap();
                s.as_bytes().to_vec()
            }
            KeyKind::P384 => {
                let k =
                    <p384::ecdsa::SigningKey as p384::pkcs8::DecodePrivateKey>::from_pkcs8_der(der)
                        .unwrap();
                let s: p384::ecdsa::DerSignature =
                    k.sign_prehash(&sha2::Sha256::digest(msg)).unwrap();
                s.as_bytes().to_vec()
            }
            _ => unreachable!(),
        };
        (pk, sig)
    };
    // OpenSSL's committed signatures over `OPENSSL_MSG` (testdata/README.md).
    let sec1_public_key = |sec1: &'static [u8]| {
        let key = rustls::crypto::ring::sign::any_supported_type(&PrivateKeyDer::Sec1(sec1.into()))
            .unwrap();
        raw_public_key(&key.public_key().unwrap())
    };
    let p521_pk = cert_public_key(P521_CERT);
    /// A raw public key and its signature over `msg`.
    type Signed = (Vec<u8>, Vec<u8>);
    let cases: Vec<(&dyn SignatureVerificationAlgorithm, Signed)> = vec![
        (
            ECDSA_P256_SHA256,
            by_ring(KeyKind::P256, SignatureScheme::ECDSA_NISTP256_SHA256),
        ),
        (
            ECDSA_P384_SHA384,
            by_ring(KeyKind::P384, SignatureScheme::ECDSA_NISTP384_SHA384),
        ),
        (ECDSA_P256_SHA384, prehash(KeyKind::P256)),
        (ECDSA_P384_SHA256, prehash(KeyKind::P384)),
        (
            ECDSA_P256_SHA512,
            (
                sec1_public_key(P256_SEC1),
                include_bytes!("testdata/p256-sha512.sig").to_vec(),
            ),
        ),
        (
            ECDSA_P384_SHA512,
            (
                sec1_public_key(P384_SEC1),
                include_bytes!("testdata/p384-sha512.sig").to_vec(),
            ),
        ),
        (
            ECDSA_P521_SHA256,
            (
                p521_pk.clone(),
                include_bytes!("testdata/p521-sha256.sig").to_vec(),
            ),
        ),
        (
            ECDSA_P521_SHA384,
            (
                p521_pk.clone(),
                include_bytes!("testdata/p521-sha384.sig").to_vec(),
            ),
        ),
        (
            ECDSA_P521_SHA512,
            (
                p521_pk.clone(),
                include_bytes!("testdata/p521-sha512.sig").to_vec(),
            ),
        ),
        (ED25519, by_ring(KeyKind::Ed25519, SignatureScheme::ED25519)),
        (
            RSA_PKCS1_SHA256,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PKCS1_SHA256),
        ),
        (
            RSA_PKCS1_SHA384,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PKCS1_SHA384),
        ),
        (
            RSA_PKCS1_SHA512,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PKCS1_SHA512),
        ),
        (
            RSA_PKCS1_SHA256_ABSENT_PARAMS,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PKCS1_SHA256),
        ),
        (
            RSA_PKCS1_SHA384_ABSENT_PARAMS,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PKCS1_SHA384),
        ),
        (
            RSA_PKCS1_SHA512_ABSENT_PARAMS,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PKCS1_SHA512),
        ),
        (
            RSA_PSS_SHA256,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PSS_SHA256),
        ),
        (
            RSA_PSS_SHA384,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PSS_SHA384),
        ),
        (
            RSA_PSS_SHA512,
            by_ring(KeyKind::Rsa, SignatureScheme::RSA_PSS_SHA512),
        ),
    ];
    assert_eq!(cases.len(), SUPPORTED_SIG_ALGS.all.len());

    for (alg, (pk, sig)) in cases {
        let name = format!("{alg:?}");
        let theirs = ring_algs.iter().find(|r| {
            r.public_key_alg_id() == alg.public_key_alg_id()
                && r.signature_alg_id() == alg.signature_alg_id()
        });
        // ring has every algorithm but P-521 and ECDSA with SHA-512.
        assert_eq!(theirs.is_none(), beyond_ring(alg), "{name}");
        if let Some(theirs) = theirs {
            theirs.verify_signature(&pk, msg, &sig).unwrap();
        }
        alg.verify_signature(&pk, msg, &sig)
            .unwrap_or_else(|_| panic!("{name} rejected a good signature"));
        assert!(
            alg.verify_signature(&pk, other, &sig).is_err(),
            "{name}: other message"
        );
        let mut flipped = sig.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x40;
        assert!(
            alg.verify_signature(&pk, msg, &flipped).is_err(),
            "{name}: flipped sig"
        );
        for len in [0, 1, sig.len() - 1] {
            assert!(
                alg.verify_signature(&pk, msg, &sig[..len]).is_err(),
                "{name}: short sig"
            );
        }
        let mut longer = sig.clone();
        longer.push(0);
        assert!(
            alg.verify_signature(&pk, msg, &longer).is_err(),
            "{name}: long sig"
        );
        for len in [0, 1, pk.len() / 2, pk.len() - 1] {
            assert!(
                alg.verify_signature(&pk[..len], msg, &sig).is_err(),
                "{name}: short key"
            );
        }
        assert!(
            alg.verify_signature(&[0xff; 300], msg, &sig).is_err(),
            "{name}: junk key"
        );
    }
}

#[test]
fn rsa_keys_below_2048_bits_are_refused_for_verification() {
    let ring_key = rustls::crypto::ring::sign::any_supported_type(&PrivateKeyDer::Pkcs8(
        RSA1024_PKCS8.to_vec().into(),
    ));
    // ring refuses to sign with it too; build the raw key from our own parser instead.
    assert!(ring_key.is_err());
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::DecodePrivateKey;
    let key = rsa::PrivateKey::from_pkcs8_der(RSA1024_PKCS8).unwrap();
    let pk = key.to_public_key().to_pkcs1_der().unwrap();
    let hashed = <sha2::Sha256 as sha2::Digest>::digest(b"m");
    let sig = key
        .sign_with_rng(
            &mut getrandom::SysRng,
            rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            &hashed,
        )
        .unwrap();
    assert!(
        verify::RSA_PKCS1_SHA256
            .verify_signature(pk.as_bytes(), b"m", &sig)
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Negative cases

/// The peer signs the handshake with a key of the right type that does not match its
/// certificate: our client must reject it as a bad signature.
#[test]
fn signature_from_wrong_key_fails_with_bad_signature() {
    for (version, kind) in [
        (&TLS13, KeyKind::P256),
        (&TLS12, KeyKind::P256),
        (&TLS13, KeyKind::P384),
        (&TLS13, KeyKind::Ed25519),
        (&TLS12, KeyKind::Ed25519),
        (&TLS13, KeyKind::Rsa),
        (&TLS12, KeyKind::Rsa),
    ] {
        let wrong_der = match kind {
            KeyKind::Rsa => PrivateKeyDer::Pkcs8(RSA_OTHER_PKCS8.to_vec().into()),
            _ => {
                let alg = match kind {
                    KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
                    KeyKind::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
                    _ => &rcgen::PKCS_ED25519,
                };
                let k = rcgen::KeyPair::generate_for(alg).unwrap();
                PrivateKeyDer::Pkcs8(k.serialize_der().into())
            }
        };
        let wrong = ring().key_provider.load_private_key(wrong_der).unwrap();
        let id = identity(kind);
        let (server_cfg, _) = server_config(ring(), version, id, Some(wrong));
        let (mut client, mut server) = connect(client_config(ours(), version, id), server_cfg);
        let err = handshake(&mut client, &mut server).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(CertificateError::BadSignature),
            "{:?} {kind:?}",
            version.version
        );
    }
}

/// A record whose ciphertext or tag was altered fails to decrypt, with an error, for every
/// suite, whichever side receives it.
#[test]
fn tampered_record_fails_to_decrypt_for_every_suite() {
    for suite in DEFAULT_CIPHER_SUITES {
        for role in [Ours::Client, Ours::Server] {
            for flip_at in ["tag", "body", "explicit-nonce-or-first-byte"] {
                let p = pair(
                    role,
                    version_of(*suite),
                    key_for(*suite),
                    only_suite(ours(), *suite),
                    ring(),
                )
                .unwrap();
                // ring sends, we receive.
                let (mut ring_side, mut our_side) = match role {
                    Ours::Client => (p.server, p.client),
                    Ours::Server => (p.client, p.server),
                };
                ring_side.writer().write_all(b"attack at dawn").unwrap();
                let mut record = take_tls(&mut ring_side);
                let i = match flip_at {
                    "tag" => record.len() - 1,
                    "body" => record.len() - 20,
                    _ => 5,
                };
                record[i] ^= 0x01;
                assert_eq!(
                    feed(&mut our_side, &record),
                    Err(Error::DecryptError),
                    "{role:?} {:?} {flip_at}",
                    suite.suite()
                );
            }
        }
    }
}

/// Records too short to hold a tag (and, for TLS 1.2 GCM, an explicit nonce) are errors.
#[test]
fn short_records_are_decrypt_errors_not_panics() {
    for suite in DEFAULT_CIPHER_SUITES {
        let mut decrypter = match suite {
            SupportedCipherSuite::Tls13(s) => s
                .aead_alg
                .decrypter(AeadKey::from([7; 32]), Iv::new([1; 12])),
            SupportedCipherSuite::Tls12(s) => {
                let shape = s.aead_alg.key_block_shape();
                s.aead_alg
                    .decrypter(AeadKey::from([7; 32]), &[1; 12][..shape.fixed_iv_len])
            }
        };
        for len in 0..=40 {
            let mut buf = vec![0xa5; len];
            let msg = InboundOpaqueMessage::new(
                ContentType::ApplicationData,
                ProtocolVersion::TLSv1_2,
                &mut buf,
            );
            assert_eq!(
                decrypter.decrypt(msg, 3).err(),
                Some(Error::DecryptError),
                "{:?} len {len}",
                suite.suite()
            );
        }
    }
}

/// Wrong-length key material from a caller gives a cipher that fails cleanly.
#[test]
fn malformed_tls12_key_material_fails_cleanly() {
    for suite in DEFAULT_CIPHER_SUITES {
        let SupportedCipherSuite::Tls12(s) = suite else {
            continue;
        };
        let mut enc = s
            .aead_alg
            .encrypter(AeadKey::from([7; 32]), &[1; 3], &[2; 5]);
        let msg = OutboundPlainMessage {
            typ: ContentType::ApplicationData,
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::from(&b"x"[..]),
        };
        assert_eq!(enc.encrypt(msg, 0).err(), Some(Error::EncryptError));
        let mut dec = s.aead_alg.decrypter(AeadKey::from([7; 32]), &[1; 3]);
        let mut buf = vec![0; 64];
        let msg = InboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            &mut buf,
        );
        assert_eq!(dec.decrypt(msg, 0).err(), Some(Error::DecryptError));
        assert!(
            s.aead_alg
                .extract_keys(AeadKey::from([7; 32]), &[1; 3], &[2; 5])
                .is_err()
        );
    }
}

/// Direct seal/open through the record layer for the 32-byte-key AEADs (the public API cannot
/// make a 16-byte `AeadKey`; AES-128 is covered by the handshakes).
#[test]
fn record_layer_round_trips_directly() {
    for suite in DEFAULT_CIPHER_SUITES {
        let (mut enc, mut dec) = match suite {
            SupportedCipherSuite::Tls13(s) if s.aead_alg.key_len() == 32 => (
                s.aead_alg
                    .encrypter(AeadKey::from([9; 32]), Iv::new([4; 12])),
                s.aead_alg
                    .decrypter(AeadKey::from([9; 32]), Iv::new([4; 12])),
            ),
            SupportedCipherSuite::Tls12(s) if s.aead_alg.key_block_shape().enc_key_len == 32 => {
                let shape = s.aead_alg.key_block_shape();
                let iv = &[4; 12][..shape.fixed_iv_len];
                let explicit = &[5; 8][..shape.explicit_nonce_len];
                (
                    s.aead_alg.encrypter(AeadKey::from([9; 32]), iv, explicit),
                    s.aead_alg.decrypter(AeadKey::from([9; 32]), iv),
                )
            }
            _ => continue,
        };
        for (seq, len) in [(0u64, 0usize), (1, 1), (7, 1000), (u64::MAX - 1, 16_384)] {
            let data = pattern(len, seq as u8);
            let msg = OutboundPlainMessage {
                typ: ContentType::Handshake,
                version: ProtocolVersion::TLSv1_2,
                payload: OutboundChunks::from(&data[..]),
            };
            let sealed = enc.encrypt(msg, seq).unwrap();
            assert_eq!(
                sealed.payload.as_ref().len(),
                enc.encrypted_payload_len(len)
            );
            let (typ, version) = (sealed.typ, sealed.version);
            let mut body = sealed.payload.as_ref().to_vec();
            let opened = dec
                .decrypt(InboundOpaqueMessage::new(typ, version, &mut body), seq)
                .unwrap();
            assert_eq!(opened.typ, ContentType::Handshake, "{:?}", suite.suite());
            assert_eq!(opened.payload, &data[..], "{:?} len {len}", suite.suite());
            // The wrong sequence number must not open it.
            let mut body = sealed.payload.as_ref().to_vec();
            assert!(
                dec.decrypt(InboundOpaqueMessage::new(typ, version, &mut body), seq ^ 1)
                    .is_err()
            );
        }
    }
}

#[test]
fn extract_keys_returns_the_variant_for_the_key_length() {
    let key = || AeadKey::from([3; 32]);
    let tls13 = |s: SupportedCipherSuite| s.tls13().unwrap().aead_alg;
    let v = tls13(TLS13_AES_128_GCM_SHA256).extract_keys(key(), Iv::new([0; 12]));
    assert!(matches!(v, Ok(ConnectionTrafficSecrets::Aes128Gcm { .. })));
    let v = tls13(TLS13_AES_256_GCM_SHA384).extract_keys(key(), Iv::new([0; 12]));
    assert!(matches!(v, Ok(ConnectionTrafficSecrets::Aes256Gcm { .. })));
    let v = tls13(TLS13_CHACHA20_POLY1305_SHA256).extract_keys(key(), Iv::new([0; 12]));
    assert!(matches!(
        v,
        Ok(ConnectionTrafficSecrets::Chacha20Poly1305 { .. })
    ));
    assert_eq!(tls13(TLS13_AES_128_GCM_SHA256).key_len(), 16);
    assert_eq!(tls13(TLS13_AES_256_GCM_SHA384).key_len(), 32);
    assert_eq!(tls13(TLS13_CHACHA20_POLY1305_SHA256).key_len(), 32);

    let tls12 = |s: SupportedCipherSuite| match s {
        SupportedCipherSuite::Tls12(s) => s.aead_alg,
        _ => unreachable!(),
    };
    for (suite, key_len) in [
        (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 16),
        (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 16),
        (TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 32),
        (TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, 32),
    ] {
        let alg = tls12(suite);
        assert_eq!(alg.key_block_shape().enc_key_len, key_len);
        let v = alg.extract_keys(key(), &[1, 2, 3, 4], &[5, 6, 7, 8, 9, 10, 11, 12]);
        match (key_len, v) {
            (16, Ok(ConnectionTrafficSecrets::Aes128Gcm { iv, .. }))
            | (32, Ok(ConnectionTrafficSecrets::Aes256Gcm { iv, .. })) => {
                assert_eq!(iv.as_ref(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
            }
            _ => panic!("{:?}: wrong variant or iv", suite.suite()),
        }
    }
    let v = tls12(TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256).extract_keys(key(), &[7; 12], &[]);
    assert!(matches!(
        v,
        Ok(ConnectionTrafficSecrets::Chacha20Poly1305 { .. })
    ));
}

#[test]
fn private_keys_load_in_every_supported_encoding() {
    let ring = ring();
    let cases: Vec<(PrivateKeyDer<'static>, SignatureAlgorithm)> = vec![
        (
            identity(KeyKind::P256).key.clone_key(),
            SignatureAlgorithm::ECDSA,
        ),
        (
            identity(KeyKind::P384).key.clone_key(),
            SignatureAlgorithm::ECDSA,
        ),
        (
            identity(KeyKind::Ed25519).key.clone_key(),
            SignatureAlgorithm::ED25519,
        ),
        (
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(RSA_PKCS8)).clone_key(),
            SignatureAlgorithm::RSA,
        ),
        (
            PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(RSA_PKCS1)).clone_key(),
            SignatureAlgorithm::RSA,
        ),
        (
            PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(P256_SEC1)).clone_key(),
            SignatureAlgorithm::ECDSA,
        ),
        (
            PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(P384_SEC1)).clone_key(),
            SignatureAlgorithm::ECDSA,
        ),
    ];
    for (der, algorithm) in cases {
        let mine = provider()
            .key_provider
            .load_private_key(der.clone_key())
            .unwrap();
        let theirs = ring.key_provider.load_private_key(der.clone_key()).unwrap();
        assert_eq!(mine.algorithm(), algorithm);
        // Same public key as ring derives, and a signature ring's verifier accepts.
        let spki = mine.public_key().unwrap();
        assert_eq!(spki, theirs.public_key().unwrap(), "{algorithm:?}");
        let all = [
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::ED25519,
            SignatureScheme::RSA_PSS_SHA256,
        ];
        let signer = mine.choose_scheme(&all).unwrap();
        let sig = signer.sign(b"hello").unwrap();
        let scheme = signer.scheme();
        let alg = ring
            .signature_verification_algorithms
            .mapping
            .iter()
            .find(|(s, _)| *s == scheme)
            .unwrap()
            .1[0];
        alg.verify_signature(&raw_public_key(&spki), b"hello", &sig)
            .unwrap_or_else(|_| panic!("{scheme:?}"));
    }
}

#[test]
fn bad_private_keys_fail_to_load_with_errors() {
    let general = |der: PrivateKeyDer<'static>| -> String {
        match provider().key_provider.load_private_key(der) {
            Err(Error::General(msg)) => msg,
            Err(other) => panic!("unexpected error kind {other:?}"),
            Ok(key) => panic!("loaded {key:?}"),
        }
    };
    let garbage: &[&[u8]] = &[b"", b"\x30", b"\x30\x03\x02\x01\x00", b"not a key at all"];
    for g in garbage {
        general(PrivateKeyDer::Pkcs8(g.to_vec().into()));
        general(PrivateKeyDer::Pkcs1(g.to_vec().into()));
        general(PrivateKeyDer::Sec1(g.to_vec().into()));
    }
    // Every truncation of real keys fails cleanly.
    for der in [
        identity(KeyKind::P256).key.secret_der().to_vec(),
        identity(KeyKind::Ed25519).key.secret_der().to_vec(),
        RSA_PKCS8.to_vec(),
    ] {
        for len in (0..der.len()).step_by(7) {
            general(PrivateKeyDer::Pkcs8(der[..len].to_vec().into()));
        }
    }
    for len in (0..P256_SEC1.len()).step_by(5) {
        general(PrivateKeyDer::Sec1(P256_SEC1[..len].to_vec().into()));
    }
    // A SEC1 key handed over as PKCS#8 and the other way round.
    general(PrivateKeyDer::Pkcs8(P256_SEC1.to_vec().into()));
    general(PrivateKeyDer::Sec1(RSA_PKCS8.to_vec().into()));
    // Well-formed but unsupported.
    let msg = general(PrivateKeyDer::Pkcs8(RSA1024_PKCS8.to_vec().into()));
    assert!(msg.contains("too small"), "{msg}");
    let msg = general(PrivateKeyDer::Pkcs8(K256_PKCS8.to_vec().into()));
    assert!(msg.contains("curve"), "{msg}");
    // P-521 truncations, in both encodings.
    for len in (0..P521_PKCS8.len()).step_by(11) {
        general(PrivateKeyDer::Pkcs8(P521_PKCS8[..len].to_vec().into()));
    }
    for len in (0..P521_SEC1.len()).step_by(11) {
        general(PrivateKeyDer::Sec1(P521_SEC1[..len].to_vec().into()));
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Known-answer tests

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 8439 section 2.8.2, through the seal/open path the record layer uses.
#[test]
fn kat_chacha20_poly1305_rfc8439() {
    let key: Vec<u8> = (0x80..=0x9f).collect();
    let nonce: [u8; 12] = unhex("070000004041424344454647").try_into().unwrap();
    let aad = unhex("50515253c0c1c2c3c4c5c6c7");
    let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip \
                  for the future, sunscreen would be it.";
    let cipher = unhex(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
         3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
         92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
         3ff4def08e4b7a9de576d26586cec64b6116",
    );
    let tag = unhex("1ae10b594f09e26a7e902ecbd0600691");

    let mut buf = plain.to_vec();
    let got =
        aead::kat::seal_with::<chacha::ChaCha20Poly1305>(&key, nonce, &aad, &mut buf).unwrap();
    assert_eq!(buf, cipher);
    assert_eq!(got, tag);
    aead::kat::open_with::<chacha::ChaCha20Poly1305>(&key, nonce, &aad, &mut buf, &tag).unwrap();
    assert_eq!(buf, plain);
    let mut bad_tag = tag.clone();
    bad_tag[0] ^= 1;
    assert_eq!(
        aead::kat::open_with::<chacha::ChaCha20Poly1305>(&key, nonce, &aad, &mut buf, &bad_tag),
        Err(Error::DecryptError)
    );
}

/// Seals `plain` with our ChaCha20-Poly1305 and with RustCrypto's, asserts the same
/// ciphertext and tag, then opens ours back and checks that a flipped bit in `flip` (an index
/// into ciphertext then tag) is refused with the buffer left as it was.
fn chacha_matches_reference(
    key: &[u8; 32],
    nonce: [u8; 12],
    aad: &[u8],
    plain: &[u8],
    flip: usize,
) {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let reference = chacha20poly1305::ChaCha20Poly1305::new(key.into());
    let mut want = plain.to_vec();
    let want_tag = reference
        .encrypt_inout_detached(&nonce.into(), aad, want.as_mut_slice().into())
        .unwrap();

    let mut buf = plain.to_vec();
    let tag = aead::kat::seal_with::<chacha::ChaCha20Poly1305>(key, nonce, aad, &mut buf).unwrap();
    assert_eq!(buf, want, "ciphertext, {} bytes", plain.len());
    assert_eq!(tag, want_tag.to_vec(), "tag, {} bytes", plain.len());

    let (mut bad, mut bad_tag) = (buf.clone(), tag.clone());
    let at = flip % (bad.len() + bad_tag.len());
    match bad.get_mut(at) {
        Some(byte) => *byte ^= 0x80,
        None => bad_tag[at - buf.len()] ^= 0x80,
    }
    let tampered = bad.clone();
    assert_eq!(
        aead::kat::open_with::<chacha::ChaCha20Poly1305>(key, nonce, aad, &mut bad, &bad_tag),
        Err(Error::DecryptError)
    );
    assert_eq!(bad, tampered, "a refused record is not decrypted");

    aead::kat::open_with::<chacha::ChaCha20Poly1305>(key, nonce, aad, &mut buf, &tag).unwrap();
    assert_eq!(buf, plain);
}

/// Every message length from 0 to 1,100 bytes: the keystream is made four blocks at a time
/// and the first batch also keys Poly1305, so the edges at 192, 448, 704 and 960 bytes (and
/// every partial block) are each covered; then whole records.
#[test]
fn chacha20_poly1305_every_length_matches_rustcrypto() {
    let key: [u8; 32] = std::array::from_fn(|i| i as u8 * 7 + 1);
    let plain: Vec<u8> = (0..16_385u32).map(|i| (i * 31 + 5) as u8).collect();
    for len in (0..=1_100).chain([4_096, 16_383, 16_384, 16_385]) {
        let nonce = [len as u8; 12];
        chacha_matches_reference(&key, nonce, &plain[..len % 13], &plain[..len], len * 17);
    }
}

proptest::proptest! {
    /// Random keys, nonces, AAD and messages against RustCrypto's ChaCha20-Poly1305.
    #[test]
    fn chacha20_poly1305_matches_rustcrypto(
        key in proptest::prelude::any::<[u8; 32]>(),
        nonce in proptest::prelude::any::<[u8; 12]>(),
        aad in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        plain in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2_000),
        flip in proptest::prelude::any::<usize>(),
    ) {
        chacha_matches_reference(&key, nonce, &aad, &plain, flip);
    }
}

/// RFC 8439 appendix A.3 test vectors 5 to 9 (whole 16-byte blocks, so the padded form gives
/// the same tags): the accumulator at or just over 2^130 − 5, where the final reduction and
/// its masked select decide the tag; each tag also checked with Python's big integers.
#[test]
fn poly1305_rfc8439_reduction_edges() {
    let key = |r: u8, s: u8| -> [u8; 32] {
        let mut key = [0u8; 32];
        key[0] = r;
        key[16..].fill(s);
        key
    };
    let ff = [0xffu8; 16];
    let cases: [([u8; 32], Vec<u8>, &str); 5] = [
        (key(2, 0), ff.to_vec(), "03000000000000000000000000000000"),
        (
            key(2, 0xff),
            unhex("02000000000000000000000000000000"),
            "03000000000000000000000000000000",
        ),
        (
            key(1, 0),
            [
                &ff[..],
                &unhex("f0ffffffffffffffffffffffffffffff 11000000000000000000000000000000"),
            ]
            .concat(),
            "05000000000000000000000000000000",
        ),
        (
            key(1, 0),
            [
                &ff[..],
                &unhex("fbfefefefefefefefefefefefefefefe 01010101010101010101010101010101"),
            ]
            .concat(),
            "00000000000000000000000000000000",
        ),
        (
            key(2, 0),
            unhex("fdffffffffffffffffffffffffffffff"),
            "faffffffffffffffffffffffffffffff",
        ),
    ];
    for (i, (key, message, tag)) in cases.into_iter().enumerate() {
        let tag = unhex(tag);
        assert_eq!(
            poly_tags(&key, &message),
            [tag.clone(), tag.clone()],
            "vector {}",
            i + 5
        );
        for verified in [
            mac::<poly::limb26::Limbs26>(&key, &message).verify(&tag),
            mac::<poly::limb44::Limbs44>(&key, &message).verify(&tag),
        ] {
            assert!(verified, "vector {}", i + 5);
        }
        let mut wrong = tag.clone();
        wrong[15] ^= 1;
        assert!(!mac::<poly::limb26::Limbs26>(&key, &message).verify(&wrong));
        assert!(!mac::<poly::limb44::Limbs44>(&key, &message).verify(&wrong));
    }
}

/// A Poly1305 in limb layout `L` that has absorbed `message`.
fn mac<L: poly::Limbs>(key: &[u8; 32], message: &[u8]) -> poly::Mac<L> {
    let mut mac = poly::Mac::<L>::new(key);
    mac.update_padded(message);
    mac
}

/// The tags of both limb layouts (26-bit, then 44-bit) for `message`.
fn poly_tags(key: &[u8; 32], message: &[u8]) -> [Vec<u8>; 2] {
    [
        mac::<poly::limb26::Limbs26>(key, message)
            .finalize()
            .to_vec(),
        mac::<poly::limb44::Limbs44>(key, message)
            .finalize()
            .to_vec(),
    ]
}

/// Both limb layouts against RustCrypto's Poly1305: the wasm build uses one or the other
/// (see `poly.rs`), and natively only the 44-bit one is reached through the AEAD.
fn poly_layouts_match_rustcrypto(key: &[u8; 32], message: &[u8]) {
    use poly1305::universal_hash::{KeyInit, UniversalHash};
    let mut reference = poly1305::Poly1305::new(key.into());
    reference.update_padded(message);
    let want = reference.finalize().to_vec();
    assert_eq!(
        poly_tags(key, message),
        [want.clone(), want],
        "{} bytes",
        message.len()
    );
}

/// Every length to 300 bytes, with keys whose `r` is all ones after the clamp (the largest
/// products) and all zeros, and a message of 0xff bytes (the largest blocks).
#[test]
fn poly1305_limb_layouts_match_rustcrypto_at_extremes() {
    let ones = [0xffu8; 600];
    for key in [[0xffu8; 32], [0u8; 32], std::array::from_fn(|i| i as u8)] {
        for len in 0..=300 {
            poly_layouts_match_rustcrypto(&key, &ones[..len]);
            poly_layouts_match_rustcrypto(&key, &ones[len..2 * len]);
        }
    }
}

proptest::proptest! {
    /// Random keys and messages: both limb layouts against RustCrypto's Poly1305.
    #[test]
    fn poly1305_limb_layouts_match_rustcrypto(
        key in proptest::prelude::any::<[u8; 32]>(),
        message in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1_000),
    ) {
        poly_layouts_match_rustcrypto(&key, &message);
    }
}

/// The GCM specification's test cases 2 (AES-128) and 14 (AES-256).
#[test]
fn kat_aes_gcm() {
    let nonce = [0u8; 12];
    let mut buf = vec![0u8; 16];
    let tag = aead::kat::seal_with::<aes_gcm::Aes128Gcm>(&[0; 16], nonce, &[], &mut buf).unwrap();
    assert_eq!(buf, unhex("0388dace60b6a392f328c2b971b2fe78"));
    assert_eq!(tag, unhex("ab6e47d42cec13bdf53a67b21257bddf"));
    aead::kat::open_with::<aes_gcm::Aes128Gcm>(&[0; 16], nonce, &[], &mut buf, &tag).unwrap();
    assert_eq!(buf, [0; 16]);

    let tag = aead::kat::seal_with::<aes_gcm::Aes256Gcm>(&[0; 32], nonce, &[], &mut buf).unwrap();
    assert_eq!(buf, unhex("cea7403d4d606b6e074ec5d3baf39d18"));
    assert_eq!(tag, unhex("d0d1c8a799996bf0265b98b5d48ab919"));
    // A truncated tag is an error, not a panic.
    assert_eq!(
        aead::kat::open_with::<aes_gcm::Aes256Gcm>(&[0; 32], nonce, &[], &mut buf, &tag[..15]),
        Err(Error::DecryptError)
    );
}

/// RFC 4231 test cases 2 (short key) and 6 (key longer than a block, which we pre-hash).
#[test]
fn kat_hmac_rfc4231() {
    use rustls::crypto::hmac::Hmac;
    let cases: [(&[u8], &[u8], &str, &str); 2] = [
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
             8e2240ca5e69e2c78b3239ecfab21649",
        ),
        (
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
             0c2ef6ab4030fe8296248df163f44952",
        ),
    ];
    for (key, data, sha256, sha384) in cases {
        let (a, b) = data.split_at(10);
        let k = hash::HMAC_SHA256.with_key(key);
        assert_eq!(k.sign(&[data]).as_ref(), unhex(sha256));
        assert_eq!(k.sign_concat(a, &[], b).as_ref(), unhex(sha256));
        assert_eq!(k.tag_len(), 32);
        let k = hash::HMAC_SHA384.with_key(key);
        assert_eq!(
            k.sign_concat(&a[..3], &[&a[3..], b], &[]).as_ref(),
            unhex(sha384)
        );
        assert_eq!(k.tag_len(), 48);
    }
}

#[test]
fn hashes_match_ring() {
    let ring = ring();
    for (ours, suite) in [
        (
            &hash::SHA256 as &dyn rustls::crypto::hash::Hash,
            TLS13_AES_128_GCM_SHA256,
        ),
        (&hash::SHA384, TLS13_AES_256_GCM_SHA384),
    ] {
        let theirs = ring
            .cipher_suites
            .iter()
            .find(|s| s.suite() == suite.suite())
            .map(|s| common(*s))
            .unwrap()
            .hash_provider;
        let data = pattern(1000, 9);
        assert_eq!(ours.hash(&data).as_ref(), theirs.hash(&data).as_ref());
        let mut ctx = ours.start();
        ctx.update(&data[..100]);
        let fork = ctx.fork();
        assert_eq!(
            ctx.fork_finish().as_ref(),
            theirs.hash(&data[..100]).as_ref()
        );
        ctx.update(&data[100..]);
        assert_eq!(ctx.finish().as_ref(), theirs.hash(&data).as_ref());
        assert_eq!(fork.finish().as_ref(), theirs.hash(&data[..100]).as_ref());
    }
}

// ---------------------------------------------------------------------------------------------
// Session tickets

#[test]
fn ticketer_round_trips_and_rejects_tampering() {
    let t = ticketer().unwrap();
    let other = ticketer().unwrap();
    assert!(t.enabled());
    let ticket = t.encrypt(b"session state").unwrap();
    assert_eq!(t.decrypt(&ticket).unwrap(), b"session state");
    assert_ne!(
        t.encrypt(b"session state").unwrap(),
        ticket,
        "nonces must differ"
    );
    assert!(other.decrypt(&ticket).is_none());
    for i in 0..ticket.len() {
        let mut bad = ticket.clone();
        bad[i] ^= 0x10;
        assert!(t.decrypt(&bad).is_none(), "flipped byte {i}");
    }
    for len in 0..ticket.len() {
        assert!(t.decrypt(&ticket[..len]).is_none());
    }
    assert!(t.decrypt(&[ticket.clone(), vec![0]].concat()).is_none());
}

#[test]
fn our_server_resumes_with_our_ticketer() {
    for version in [&TLS13, &TLS12] {
        let id = identity(KeyKind::P256);
        let (server_cfg, _) = server_config(ours(), version, id, None);
        let mut server_cfg = Arc::try_unwrap(server_cfg).unwrap();
        server_cfg.ticketer = ticketer().unwrap();
        let server_cfg = Arc::new(server_cfg);
        let client_cfg = client_config(ring(), version, id);

        let mut kinds = Vec::new();
        for _ in 0..2 {
            let (mut client, mut server) = connect(client_cfg.clone(), server_cfg.clone());
            handshake(&mut client, &mut server).unwrap();
            round_trip(&mut client, &mut server);
            kinds.push(client.handshake_kind());
        }
        assert_eq!(
            kinds,
            [Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)],
            "{:?}",
            version.version
        );
    }
}

// ---------------------------------------------------------------------------------------------
// P-521. ring has none of it, so the independent side is OpenSSL's committed fixtures
// (testdata/README.md) and the other endpoint is our own provider.

/// `a + b` for big-endian byte strings of one length (no carry out of the top byte).
fn add_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in (0..a.len()).rev() {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

#[test]
fn p521_key_exchange_agrees_and_rejects_bad_shares() {
    use rustls::PeerMisbehaved::InvalidKeyShare;

    let a = SECP521R1.start().unwrap();
    let b = SECP521R1.start().unwrap();
    assert_eq!(a.group(), NamedGroup::secp521r1);
    // Uncompressed SEC1: 0x04, then x and y in 66 bytes each.
    assert_eq!(a.pub_key().len(), 133);
    assert_eq!(a.pub_key()[0], 0x04);
    assert_ne!(a.pub_key(), b.pub_key());
    let pub_a = a.pub_key().to_vec();
    let sa = a.complete(b.pub_key()).unwrap();
    let sb = b.complete(&pub_a).unwrap();
    assert_eq!(sa.secret_bytes(), sb.secret_bytes());
    assert_eq!(sa.secret_bytes().len(), 66);

    let good = SECP521R1.start().unwrap().pub_key().to_vec();
    let (x, y) = good[1..].split_at(66);
    // p = 2^521 - 1, as 66 big-endian bytes.
    let p: Vec<u8> = [vec![0x01], vec![0xff; 65]].concat();
    let mut off_curve = good.clone();
    *off_curve.last_mut().unwrap() ^= 1;
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("identity", vec![0x00]),
        (
            "compressed",
            [vec![0x02 | (y[65] & 1)], x.to_vec()].concat(),
        ),
        (
            "hybrid",
            [vec![0x06 | (y[65] & 1)], x.to_vec(), y.to_vec()].concat(),
        ),
        ("off curve", off_curve),
        ("all zero", [vec![0x04], vec![0; 132]].concat()),
        ("x = p", [vec![0x04], p.clone(), y.to_vec()].concat()),
        // The same point if y were reduced mod p: non-canonical encodings must not pass.
        ("y + p", [vec![0x04], x.to_vec(), add_be(y, &p)].concat()),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("extended", [good.clone(), vec![0]].concat()),
        (
            "a P-384 share",
            SECP384R1.start().unwrap().pub_key().to_vec(),
        ),
    ];
    for (what, peer) in bad {
        let kx = SECP521R1.start().unwrap();
        assert_eq!(
            kx.complete(&peer).err(),
            Some(Error::PeerMisbehaved(InvalidKeyShare)),
            "accepted {what}"
        );
    }
}

/// X448 through our exchange (RFC 7748): the first scalar-multiplication vector of §5.2,
/// and Alice's and Bob's keys and shared secret of §6.2.
#[test]
fn kat_x448_rfc7748() {
    let array = |hex: &str| <[u8; 56]>::try_from(unhex(hex)).unwrap();
    let scalar = array(
        "3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121700a779c984c24f8cdd78fbff44943eba368f54b29259a4f1c600ad3",
    );
    let u = unhex(
        "06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9814dc031ddbdc38c19c6da2583fa5429db94ada18aa7a7fb4ef8a086",
    );
    let out = kx::x448_exchange(scalar).complete(&u).unwrap();
    assert_eq!(
        out.secret_bytes(),
        unhex(
            "ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239fe14fbaadeb445fc66a01b0779d98223961111e21766282f73dd96b6f"
        )
    );

    let alice = kx::x448_exchange(array(
        "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf574a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
    ));
    let bob = kx::x448_exchange(array(
        "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
    ));
    let alice_pub = unhex(
        "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bbc836647241d953d40c5b12da88120d53177f80e532c41fa0",
    );
    let bob_pub = unhex(
        "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
    );
    assert_eq!(alice.pub_key(), alice_pub);
    assert_eq!(bob.pub_key(), bob_pub);
    let shared = unhex(
        "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56fd2464c335543936521c24403085d59a449a5037514a879d",
    );
    assert_eq!(alice.complete(&bob_pub).unwrap().secret_bytes(), shared);
    assert_eq!(bob.complete(&alice_pub).unwrap().secret_bytes(), shared);
}

/// ECDH between two OpenSSL-made keys gives the secret OpenSSL derived, and our exchange
/// accepts OpenSSL's encoding of a public key.
#[test]
fn kat_p521_ecdh_matches_openssl() {
    use p521::pkcs8::DecodePrivateKey;

    let a = p521::SecretKey::from_pkcs8_der(P521_PKCS8).unwrap();
    let b = p521::SecretKey::from_pkcs8_der(P521_PEER_PKCS8).unwrap();
    let ab = p521::ecdh::diffie_hellman(a.to_nonzero_scalar(), b.public_key().as_affine());
    let ba = p521::ecdh::diffie_hellman(b.to_nonzero_scalar(), a.public_key().as_affine());
    assert_eq!(ab.raw_secret_bytes().as_slice(), P521_ECDH);
    assert_eq!(ba.raw_secret_bytes().as_slice(), P521_ECDH);

    let openssl_share = cert_public_key(P521_CERT);
    let kx = SECP521R1.start().unwrap();
    assert_eq!(
        kx.complete(&openssl_share).unwrap().secret_bytes().len(),
        66
    );
}

/// P-521 keys load from PKCS#8 and SEC1, sign only `ecdsa_secp521r1_sha512`, and our
/// verifier accepts what they sign.
#[test]
fn p521_keys_sign_and_verify_with_our_verifier() {
    use SignatureScheme as S;

    let cert_pk = cert_public_key(P521_CERT);
    let msg = OPENSSL_MSG;
    for der in [
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(P521_PKCS8)).clone_key(),
        PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(P521_SEC1)).clone_key(),
    ] {
        let key = provider().key_provider.load_private_key(der).unwrap();
        assert_eq!(key.algorithm(), SignatureAlgorithm::ECDSA);
        // The public key OpenSSL put in the certificate.
        assert_eq!(raw_public_key(&key.public_key().unwrap()), cert_pk);
        assert!(
            key.choose_scheme(&[
                S::ECDSA_NISTP256_SHA256,
                S::ECDSA_NISTP384_SHA384,
                S::ED25519,
                S::RSA_PSS_SHA512,
            ])
            .is_none()
        );
        let signer = key
            .choose_scheme(&[S::ECDSA_NISTP384_SHA384, S::ECDSA_NISTP521_SHA512])
            .unwrap();
        assert_eq!(signer.scheme(), S::ECDSA_NISTP521_SHA512);
        let sig = signer.sign(msg).unwrap();
        verify::ECDSA_P521_SHA512
            .verify_signature(&cert_pk, msg, &sig)
            .unwrap();
        // As rustls looks it up for a TLS 1.3 CertificateVerify.
        let (_, algs) = SUPPORTED_SIG_ALGS
            .mapping
            .iter()
            .find(|(s, _)| *s == S::ECDSA_NISTP521_SHA512)
            .unwrap();
        algs[0].verify_signature(&cert_pk, msg, &sig).unwrap();
        // The hash is SHA-512: the same signature read as over SHA-384 fails.
        assert!(
            verify::ECDSA_P521_SHA384
                .verify_signature(&cert_pk, msg, &sig)
                .is_err()
        );
        // Hedged nonces: signing twice gives two different signatures.
        assert_ne!(sig, signer.sign(msg).unwrap());
    }
}

/// Full handshakes on P-521 alone: OpenSSL's P-521 certificate (verified by our verifier),
/// our signer on the server, our verifier on the client, P-521 key exchange; and a server
/// signing with the wrong P-521 key is caught.
#[test]
fn p521_handshakes_between_our_client_and_server() {
    let scheme = SignatureScheme::ECDSA_NISTP521_SHA512;
    let p521_only = || only_group(only_scheme(ours(), scheme), SECP521R1);
    for version in [&TLS13, &TLS12] {
        let mut p = pair(
            Ours::Client,
            version,
            KeyKind::P521,
            p521_only(),
            p521_only(),
        )
        .unwrap_or_else(|e| panic!("{:?}: {e}", version.version));
        assert_eq!(last_scheme(&p.server_signed), Some(scheme));
        for conn in [&p.client, &p.server] {
            assert_eq!(
                conn.negotiated_key_exchange_group().unwrap().name(),
                NamedGroup::secp521r1
            );
        }
        round_trip(&mut p.client, &mut p.server);

        let wrong =
            load_private_key(&PrivateKeyDer::Pkcs8(P521_PEER_PKCS8.to_vec().into())).unwrap();
        let id = identity(KeyKind::P521);
        let (server_cfg, _) = server_config(p521_only(), version, id, Some(wrong));
        let (mut client, mut server) = connect(client_config(p521_only(), version, id), server_cfg);
        assert_eq!(
            handshake(&mut client, &mut server).unwrap_err(),
            Error::InvalidCertificate(CertificateError::BadSignature),
            "{:?}",
            version.version
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Zeroisation

/// Compiles only while every type that holds key material wipes itself on drop; a dependency
/// update or a lost `zeroize` feature in Cargo.toml breaks the build here.
#[test]
fn key_material_types_zeroize_on_drop() {
    use p256::elliptic_curve::zeroize::ZeroizeOnDrop;
    fn wipes<T: ZeroizeOnDrop>() {}
    // Record keys (the `zeroize` features of aes-gcm and chacha20poly1305).
    wipes::<aes_gcm::Aes128Gcm>();
    wipes::<aes_gcm::Aes256Gcm>();
    wipes::<chacha::ChaCha20Poly1305>();
    // Poly1305 (per record, from a one-time key) wipes itself in `Drop` under its `zeroize`
    // feature but has no marker to check; the keyed HMAC state is checked in hash.rs.
    // Ephemeral and long-term private keys.
    wipes::<p256::ecdh::EphemeralSecret>();
    wipes::<p384::ecdh::EphemeralSecret>();
    wipes::<p521::ecdh::EphemeralSecret>();
    wipes::<x25519_dalek::StaticSecret>();
    wipes::<p256::ecdsa::SigningKey>();
    wipes::<p384::ecdsa::SigningKey>();
    wipes::<p521::ecdsa::SigningKey>();
    wipes::<ed25519_dalek::SigningKey>();
    wipes::<rsa::PrivateKey>();
}
