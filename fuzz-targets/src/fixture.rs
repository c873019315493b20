//! What the targets share: one identity, native rustls peers, an in-memory socket, a reader
//! of fuzz input, and TLS 1.3 record protection from logged secrets.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::crypto::CryptoProvider;
use rustls::crypto::cipher::{AeadKey, Iv, MessageEncrypter, OutboundChunks, OutboundPlainMessage};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, ContentType, ProtocolVersion, RootCertStore, ServerConfig};
use tlsbox_guest::conn::Config;
use tlsbox_guest::types::{CipherSuite, ConfigOptions, IoError, KxGroup, Role};

/// A CA and a leaf for "localhost", Ed25519 (the cheapest signatures to verify, so each run
/// spends its time in the code under test).
pub struct Identity {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// The identity every target uses, made once per process.
pub fn identity() -> &'static Identity {
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let alg = &rcgen::PKCS_ED25519;
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca =
            CertifiedIssuer::self_signed(ca, KeyPair::generate_for(alg).expect("key")).expect("CA");
        let key = KeyPair::generate_for(alg).expect("key");
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .expect("params")
            .signed_by(&key, &ca)
            .expect("leaf");
        Identity {
            ca_pem: ca.pem(),
            cert_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
        }
    })
}

/// A component config, built by `make` once per process and `key` (each target keeps to its
/// own keys), as an application builds its configs once: parsing PEM on every run would be
/// most of the run.
pub fn config(key: u16, make: impl FnOnce() -> ConfigOptions) -> Config {
    static CONFIGS: OnceLock<Mutex<HashMap<u16, Config>>> = OnceLock::new();
    let mut configs = CONFIGS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    configs
        .entry(key)
        .or_insert_with(|| Config::new(&make()).expect("the fixture's options are valid"))
        .clone()
}

/// Component options for `role` with the fixture identity; TLS 1.3 with AES-256-GCM and
/// X25519 unless `any` (then everything the component offers).
pub fn options(role: Role, any: bool) -> ConfigOptions {
    let id = identity();
    let mut options = ConfigOptions::new(role);
    match role {
        Role::Client => {
            options.server_name = Some("localhost".to_owned());
            options.trust_anchors = vec![id.ca_pem.as_bytes().to_vec()];
        }
        Role::Server => {
            options.certificate_chain = vec![id.cert_pem.as_bytes().to_vec()];
            options.private_key = Some(id.key_pem.as_bytes().to_vec());
        }
    }
    if !any {
        options.cipher_suites = vec![CipherSuite::Tls13Aes256GcmSha384];
        options.kx_groups = vec![KxGroup::X25519];
    }
    options
}

fn ring() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A native server with the fixture identity, logging its secrets into `log`.
pub fn native_server(log: Option<Arc<Logged>>) -> Arc<ServerConfig> {
    static BASE: OnceLock<Arc<ServerConfig>> = OnceLock::new();
    let base = BASE.get_or_init(build_native_server);
    match log {
        None => base.clone(),
        Some(log) => {
            let mut config = (**base).clone();
            config.key_log = log;
            Arc::new(config)
        }
    }
}

fn build_native_server() -> Arc<ServerConfig> {
    let id = identity();
    let chain = CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("chain");
    let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).expect("key");
    let mut config = ServerConfig::builder_with_provider(ring())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    config.enable_secret_extraction = true;
    Arc::new(config)
}

/// A native client trusting the fixture CA, logging its secrets into `log`.
pub fn native_client(log: Option<Arc<Logged>>) -> Arc<ClientConfig> {
    static BASE: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let base = BASE.get_or_init(build_native_client);
    match log {
        None => base.clone(),
        Some(log) => {
            let mut config = (**base).clone();
            config.key_log = log;
            Arc::new(config)
        }
    }
}

fn build_native_client() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(identity().ca_pem.as_bytes()) {
        roots.add(cert.expect("CA")).expect("CA");
    }
    let mut config = ClientConfig::builder_with_provider(ring())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.enable_secret_extraction = true;
    Arc::new(config)
}

/// The native peer of a component in the other role: a client of the fixture CA naming
/// "localhost" for a component server (`component_is_server`), else a server with the
/// fixture identity.
pub fn native_peer(component_is_server: bool) -> rustls::Connection {
    if component_is_server {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        rustls::ClientConnection::new(native_client(None), name)
            .expect("client")
            .into()
    } else {
        rustls::ServerConnection::new(native_server(None))
            .expect("server")
            .into()
    }
}

/// Reads fuzz input front to back; past the end every read is zero.
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// Both directions of an in-memory transport, as the component's socket sees them.
#[derive(Default)]
pub struct Link {
    /// Bytes waiting for the component.
    pub inbound: VecDeque<u8>,
    /// Bytes the component sent.
    pub outbound: Vec<u8>,
    /// No more inbound bytes will come: recv reports end of stream.
    pub eof: bool,
}

/// The component's end of a [`Link`].
#[derive(Clone, Default)]
pub struct MemSocket(pub Rc<RefCell<Link>>);

impl tlsbox_guest::io::Socket for MemSocket {
    fn send(&mut self, data: &[u8]) -> Result<u32, IoError> {
        self.0.borrow_mut().outbound.extend_from_slice(data);
        Ok(data.len() as u32)
    }

    fn recv(&mut self, max: u32) -> Result<Vec<u8>, IoError> {
        let mut link = self.0.borrow_mut();
        if link.inbound.is_empty() {
            return Err(if link.eof {
                IoError::Closed
            } else {
                IoError::WouldBlock
            });
        }
        let n = (max as usize).min(link.inbound.len());
        Ok(link.inbound.drain(..n).collect())
    }
}

impl MemSocket {
    pub fn push(&self, data: &[u8]) {
        self.0.borrow_mut().inbound.extend(data);
    }

    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.borrow_mut().outbound)
    }
}

/// Moves everything queued between the component's socket and a native peer until neither
/// side has more to say; false if the peer failed.
pub fn exchange<C>(
    conn: &mut tlsbox_guest::conn::Connection<MemSocket>,
    socket: &MemSocket,
    peer: &mut rustls::ConnectionCommon<C>,
) -> bool {
    for _ in 0..16 {
        let _ = conn.negotiate();
        let out = socket.take();
        let mut rest = &out[..];
        while !rest.is_empty() {
            if !matches!(peer.read_tls(&mut rest), Ok(1..)) || peer.process_new_packets().is_err() {
                return false;
            }
        }
        let mut back = Vec::new();
        while peer.wants_write() {
            if peer.write_tls(&mut back).is_err() {
                return false;
            }
        }
        if back.is_empty() && out.is_empty() {
            return true;
        }
        socket.push(&back);
    }
    true
}

/// The secrets a native peer logs, by their SSLKEYLOGFILE labels.
#[derive(Debug, Default)]
pub struct Logged(Mutex<HashMap<String, Vec<u8>>>);

impl rustls::KeyLog for Logged {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(label.to_owned(), secret.to_vec());
    }
}

impl Logged {
    pub fn get(&self, label: &str) -> Option<Vec<u8>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(label).cloned()
    }
}

/// One direction of TLS 1.3 record protection (AES-256-GCM-SHA384).
pub struct Sealer {
    encrypter: Box<dyn MessageEncrypter>,
    seq: u64,
}

fn suite() -> &'static rustls::Tls13CipherSuite {
    rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384
        .tls13()
        .expect("TLS 1.3 suite")
}

impl Sealer {
    /// Protection from a traffic secret (RFC 8446 §7.3), from sequence number 0.
    pub fn from_secret(secret: &[u8]) -> Sealer {
        let (key, iv) = traffic_key(secret);
        Sealer {
            encrypter: suite().aead_alg.encrypter(key, iv),
            seq: 0,
        }
    }

    /// Protection from a native peer's extracted traffic keys.
    pub fn from_extracted(seq: u64, secrets: rustls::ConnectionTrafficSecrets) -> Option<Sealer> {
        match secrets {
            rustls::ConnectionTrafficSecrets::Aes256Gcm { key, iv } => Some(Sealer {
                encrypter: suite().aead_alg.encrypter(key, iv),
                seq,
            }),
            _ => None,
        }
    }

    /// A record whose inner content type is `typ`.
    pub fn seal(&mut self, typ: u8, payload: &[u8]) -> Vec<u8> {
        let msg = OutboundPlainMessage {
            typ: ContentType::from(typ),
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::Single(payload),
        };
        let record = self.encrypter.encrypt(msg, self.seq).expect("seal");
        self.seq += 1;
        record.encode()
    }
}

/// The AEAD key and IV of a TLS 1.3 traffic secret.
fn traffic_key(secret: &[u8]) -> (AeadKey, Iv) {
    let expander = suite()
        .hkdf_provider
        .expander_for_okm(&rustls::crypto::tls13::OkmBlock::new(secret));
    let label = |label: &[u8], out: &mut [u8]| {
        let len = (out.len() as u16).to_be_bytes();
        let info: [&[u8]; 5] = [&len, &[6 + label.len() as u8], b"tls13 ", label, &[0]];
        expander.expand_slice(&info, out).expect("expand");
    };
    let (mut key, mut iv) = ([0u8; 32], [0u8; 12]);
    label(b"key", &mut key);
    label(b"iv", &mut iv);
    (AeadKey::from(key), Iv::new(iv))
}
