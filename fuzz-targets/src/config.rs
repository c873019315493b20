//! Configuration inputs: certificate chains, keys and trust anchors as PEM or DER, names,
//! ALPN lists, versions, suites, groups and sizes. A config is built or refused with an
//! error value; one that is built makes a connection that writes its first flight.

use tlsbox_guest::conn::{Config, Connection};
use tlsbox_guest::types::{
    AlertPolicy, CipherSuite, ClientAuth, ConfigOptions, ErrorKind, KxGroup, ProtocolVersion,
    RecordSizing, Role,
};

use crate::fixture::{self, Input, MemSocket};

const SUITES: [CipherSuite; 9] = [
    CipherSuite::Tls13Chacha20Poly1305Sha256,
    CipherSuite::Tls13Aes128GcmSha256,
    CipherSuite::Tls13Aes256GcmSha384,
    CipherSuite::TlsEcdheEcdsaWithChacha20Poly1305Sha256,
    CipherSuite::TlsEcdheRsaWithChacha20Poly1305Sha256,
    CipherSuite::TlsEcdheEcdsaWithAes128GcmSha256,
    CipherSuite::TlsEcdheRsaWithAes128GcmSha256,
    CipherSuite::TlsEcdheEcdsaWithAes256GcmSha384,
    CipherSuite::TlsEcdheRsaWithAes256GcmSha384,
];

const GROUPS: [KxGroup; 7] = [
    KxGroup::X25519,
    KxGroup::Secp256r1,
    KxGroup::Secp384r1,
    KxGroup::Secp521r1,
    KxGroup::X25519Mlkem768,
    KxGroup::Secp256r1Mlkem768,
    KxGroup::X448,
];

/// Input: a flags byte, then length-prefixed (u16) fields: server name, trust anchors,
/// certificate chain, private key, ALPN names (split at NUL), ticket key; then one byte each
/// for versions, suites and groups (bit sets), and the sizes. A field of the fixture's own
/// PEM is swapped in where the flags say, so valid configs are reachable.
pub fn run(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.u16();
    let role = if flags & 1 != 0 {
        Role::Server
    } else {
        Role::Client
    };
    let id = fixture::identity();
    let mut options = ConfigOptions::new(role);
    let field = |input: &mut Input<'_>| {
        let len = usize::from(input.u16());
        input.bytes(len).to_vec()
    };
    let name = field(&mut input);
    if flags & 2 != 0 {
        options.server_name = Some(String::from_utf8_lossy(&name).into_owned());
    }
    let anchors = field(&mut input);
    options.trust_anchors = match flags & 0x0c {
        0 => vec![],
        4 => vec![anchors],
        8 => vec![id.ca_pem.as_bytes().to_vec()],
        _ => vec![id.ca_pem.as_bytes().to_vec(), anchors],
    };
    let chain = field(&mut input);
    options.certificate_chain = match flags & 0x30 {
        0 => vec![],
        0x10 => vec![chain],
        0x20 => vec![id.cert_pem.as_bytes().to_vec()],
        _ => vec![id.cert_pem.as_bytes().to_vec(), chain],
    };
    let key = field(&mut input);
    options.private_key = match flags & 0xc0 {
        0 => None,
        0x40 => Some(key),
        _ => Some(id.key_pem.as_bytes().to_vec()),
    };
    let alpn = field(&mut input);
    options.alpn = alpn
        .split(|b| *b == 0)
        .filter(|_| flags & 0x100 != 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let ticket = field(&mut input);
    if flags & 0x200 != 0 {
        options.ticket_keys = vec![ticket];
    }
    let versions = input.u8();
    options.versions = [ProtocolVersion::Tls13, ProtocolVersion::Tls12]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| versions & (1 << i) != 0)
        .map(|(_, v)| v)
        .collect();
    let suites = input.u16();
    options.cipher_suites = pick(&SUITES, u32::from(suites));
    let groups = input.u8();
    options.kx_groups = pick(&GROUPS, u32::from(groups));
    options.client_auth = match input.u8() % 3 {
        0 => ClientAuth::None,
        1 => ClientAuth::Optional,
        _ => ClientAuth::Required,
    };
    options.record_sizing = match input.u8() % 3 {
        0 => RecordSizing::Default,
        1 => RecordSizing::PreferThroughput,
        _ => RecordSizing::PreferLowLatency,
    };
    if flags & 0x400 != 0 {
        options.max_fragment_length = Some(u32::from(input.u16()));
    }
    if flags & 0x800 != 0 {
        options.send_buffer_size = Some(u32::from(input.u16()));
    }
    options.session_tickets = input.u8();
    options.max_early_data = u32::from(input.u16());
    options.early_data = flags & 0x1000 != 0;
    options.host_trust_store = flags & 0x2000 != 0;
    if flags & 0x4000 != 0 {
        options.alert_policy = AlertPolicy::S2n;
        options.max_blinding_delay_secs = 0;
    }
    let config = match Config::new(&options) {
        Ok(config) => config,
        Err(e) => {
            assert_ne!(e.kind, ErrorKind::Blocked, "{e}");
            assert!(!e.name.is_empty());
            return;
        }
    };
    let socket = MemSocket::default();
    let Ok(mut conn) = Connection::new(&config, socket.clone()) else {
        return;
    };
    // A client writes its ClientHello (names, ALPN, shares encoded); a server waits.
    let result = conn.negotiate();
    assert!(result.is_err(), "no handshake completes without a peer");
    if role == Role::Client {
        assert!(
            !socket.take().is_empty(),
            "a client's first flight goes out"
        );
    }
}

/// The members of `all` whose bit is set in `bits`, in order.
fn pick<T: Copy>(all: &[T], bits: u32) -> Vec<T> {
    all.iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, t)| *t)
        .collect()
}
