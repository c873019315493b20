//! Building rustls configurations from [`ConfigOptions`]: parsed once per config and shared
//! by every connection made from it.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{
    NoServerSessionStorage, ProducesTickets, ServerSessionMemoryCache, StoresServerSessions,
    WebPkiClientVerifier,
};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::client_hello::Signing;
use super::names::{rustls_group, rustls_suite};
use super::pinned::{PinningClientVerifier, PinningVerifier};
use super::protection;
use super::tickets::KeepResumedTickets;
use super::trust::{AnchorSource, ServerVerifier};
use zeroize::Zeroizing;

use crate::crypto;
use crate::types::{ClientAuth, ConfigOptions, Error, ErrorKind, ProtocolVersion, Role};

/// A validated rustls configuration for one role.
#[derive(Clone, Debug)]
pub enum EngineConfig {
    /// Client settings and the name to send and verify.
    Client {
        /// Shared rustls client config.
        config: Arc<ClientConfig>,
        /// SNI and verification name.
        server_name: ServerName<'static>,
    },
    /// Server settings.
    Server {
        /// Shared rustls server config.
        config: Arc<ServerConfig>,
        /// What the server can sign with, to refuse a ClientHello before rustls answers it.
        signing: Signing,
    },
}

/// Where a server keeps the sessions it resumes with early data: storage that outlives the
/// instance (the host's `session-store` in the component).
pub trait SessionStore: Send + Sync {
    /// Keeps `value` under `key`; false if not kept.
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool;
    /// The value under `key`, kept.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// The value under `key`, removed.
    fn take(&self, key: &[u8]) -> Option<Vec<u8>>;
}

/// What the host lends a config beyond its options.
#[derive(Clone, Default)]
pub struct HostStores {
    /// Where a server taking early data keeps its sessions (else in the config's own memory).
    pub sessions: Option<Arc<dyn SessionStore>>,
    /// The host's trust anchors, for a client whose options set `host_trust_store`.
    pub anchors: Option<Arc<dyn AnchorSource>>,
}

/// A [`SessionStore`] as rustls's server session storage.
struct Sessions(Arc<dyn SessionStore>);

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions")
    }
}

/// Values leave the guest sealed under a key derived from their session id, which only the
/// client holds, and are filed under a hash of it (see [`crypto::sealed`]): the store sees
/// neither the id nor anything that opens a value, and an altered value reads as no session.
impl StoresServerSessions for Sessions {
    fn put(&self, id: Vec<u8>, value: Vec<u8>) -> bool {
        let value = Zeroizing::new(value);
        match crypto::sealed::seal(&id, &value) {
            Some(sealed) => self.0.put(crypto::sealed::filing_key(&id), sealed),
            None => false,
        }
    }

    fn get(&self, id: &[u8]) -> Option<Vec<u8>> {
        crypto::sealed::open(id, &self.0.get(&crypto::sealed::filing_key(id))?)
    }

    fn take(&self, id: &[u8]) -> Option<Vec<u8>> {
        crypto::sealed::open(id, &self.0.take(&crypto::sealed::filing_key(id))?)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

impl EngineConfig {
    /// Validates `options` and builds the rustls configuration, with what `host` lends.
    pub fn build(options: &ConfigOptions, host: &HostStores) -> Result<Self, Error> {
        let provider = Arc::new(provider_for(options)?);
        let versions = versions_for(options);
        match options.role {
            Role::Client => build_client(options, provider, &versions, host.anchors.clone()),
            Role::Server => build_server(options, provider, &versions, host.sessions.clone()),
        }
    }
}

/// The crate's provider restricted and ordered by the caller's suite and group lists.
fn provider_for(options: &ConfigOptions) -> Result<CryptoProvider, Error> {
    let mut provider = crypto::provider();
    // The same suites, wrapped so each session sees the record keys rustls installs.
    provider.cipher_suites = protection::cipher_suites().to_vec();
    if !options.cipher_suites.is_empty() {
        let all = std::mem::take(&mut provider.cipher_suites);
        for wanted in &options.cipher_suites {
            let id = rustls_suite(*wanted);
            if let Some(suite) = all.iter().find(|s| s.suite() == id) {
                provider.cipher_suites.push(*suite);
            }
        }
    }
    if !options.kx_groups.is_empty() {
        let all = std::mem::take(&mut provider.kx_groups);
        for wanted in &options.kx_groups {
            let id = rustls_group(*wanted);
            if let Some(group) = all.iter().find(|g| g.name() == id) {
                provider.kx_groups.push(*group);
            }
        }
    }
    Ok(provider)
}

fn versions_for(options: &ConfigOptions) -> Vec<&'static SupportedProtocolVersion> {
    let wanted = if options.versions.is_empty() {
        &[ProtocolVersion::Tls13, ProtocolVersion::Tls12][..]
    } else {
        &options.versions[..]
    };
    let mut versions = Vec::new();
    for version in wanted {
        let v = match version {
            ProtocolVersion::Tls13 => &rustls::version::TLS13,
            ProtocolVersion::Tls12 => &rustls::version::TLS12,
        };
        if !versions
            .iter()
            .any(|x: &&SupportedProtocolVersion| x.version == v.version)
        {
            versions.push(v);
        }
    }
    versions
}

fn build_client(
    options: &ConfigOptions,
    provider: Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    host_anchors: Option<Arc<dyn AnchorSource>>,
) -> Result<EngineConfig, Error> {
    let name = options.server_name.as_deref().ok_or_else(|| {
        Error::usage("missing-server-name", "a client config needs a server name")
    })?;
    let server_name = ServerName::try_from(name.to_owned()).map_err(|_| {
        Error::usage(
            "invalid-argument",
            format!("{name:?} is not a DNS name or IP address"),
        )
    })?;
    let anchors = certificates(&options.trust_anchors)?;
    let roots = root_store(&anchors)?;
    let host_anchors = host_anchors.filter(|_| options.host_trust_store);
    if roots.is_empty() && host_anchors.is_none() {
        return Err(Error::usage(
            "missing-trust-anchors",
            "a client config needs trust anchors or the host's trust store",
        ));
    }
    let algorithms = provider.signature_verification_algorithms;
    let verifier = ServerVerifier::new(roots, host_anchors, algorithms);
    let verifier = PinningVerifier::new(Arc::new(verifier), anchors, algorithms);
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| Error::usage("invalid-argument", e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = if options.certificate_chain.is_empty() {
        builder.with_no_client_auth()
    } else {
        let (chain, key) = identity(options)?;
        builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| internal("bad-private-key", e))?
    };
    config.alpn_protocols = alpn(options)?;
    config.enable_early_data = options.early_data;
    Ok(EngineConfig::Client {
        config: Arc::new(config),
        server_name,
    })
}

fn build_server(
    options: &ConfigOptions,
    provider: Arc<CryptoProvider>,
    versions: &[&'static SupportedProtocolVersion],
    sessions: Option<Arc<dyn SessionStore>>,
) -> Result<EngineConfig, Error> {
    if options.certificate_chain.is_empty() {
        return Err(Error::usage(
            "missing-certificate",
            "a server config needs a certificate chain and private key",
        ));
    }
    let (chain, key) = identity(options)?;
    let identity = Arc::new(
        CertifiedKey::from_der(chain, key, &provider)
            .map_err(|e| internal("bad-private-key", e))?,
    );
    let signing = Signing::new(
        identity.key.clone(),
        versions.contains(&&rustls::version::TLS13),
    );
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| Error::usage("invalid-argument", e.to_string()))?;
    let builder = match options.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        policy => {
            let anchors = certificates(&options.trust_anchors)?;
            let roots = root_store(&anchors)?;
            if roots.is_empty() {
                return Err(Error::usage(
                    "missing-trust-anchors",
                    "client authentication needs trust anchors for client certificates",
                ));
            }
            let algorithms = provider.signature_verification_algorithms;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if policy == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| internal("bad-certificate-data", e))?;
            builder.with_client_cert_verifier(Arc::new(PinningClientVerifier::new(
                verifier, anchors, algorithms,
            )))
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(identity)));
    config.alpn_protocols = alpn(options)?;
    // s2n sends one NewSessionTicket by default (R68); rustls would send two.
    config.send_tls13_tickets = usize::from(options.session_tickets);
    // Stateful sessions (TLS 1.2 session IDs, and TLS 1.3 tickets when they name a stored
    // session) live in the host's store when there is one, sealed, so every instance sharing
    // it resumes them; tickets off turns session IDs off too.
    config.session_storage = match (options.session_tickets, sessions) {
        (0, _) => Arc::new(NoServerSessionStorage {}),
        (_, Some(store)) => Arc::new(Sessions(store)),
        (_, None) => ServerSessionMemoryCache::new(SESSION_CACHE_SIZE),
    };
    if options.max_early_data > 0 {
        // rustls takes early data only with single-use, stateful resumption (RFC 8446 §8.1):
        // tickets name sessions in the store, taken on first use, so a replayed ClientHello
        // finds nothing and gets a full handshake without early data.
        config.max_early_data_size = options.max_early_data;
    } else if options.session_tickets > 0 {
        // Stateless tickets sealed under the caller's keys, so instances and restarts with
        // the same keys resume each other's sessions (TLS 1.3, and TLS 1.2 clients that ask).
        config.ticketer = Arc::new(KeepResumedTickets(ticketer(&options.ticket_keys)?));
    }
    // Our order decides (as in s2n): ChaCha20-Poly1305 first is what keeps a wasm server fast.
    config.ignore_client_order = true;
    Ok(EngineConfig::Server {
        config: Arc::new(config),
        signing,
    })
}

/// Sessions a server config remembers for stateful resumption.
const SESSION_CACHE_SIZE: usize = 1024;

/// The caller's ticket keys (each exactly 32 bytes), or a random instance-private key.
fn ticketer(keys: &[Vec<u8>]) -> Result<Arc<dyn ProducesTickets>, Error> {
    if keys.is_empty() {
        return crypto::ticketer().map_err(|e| internal("internal", e));
    }
    let keys = keys
        .iter()
        .map(|key| <[u8; 32]>::try_from(key.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map(Zeroizing::new)
        .map_err(|_| Error::usage("invalid-argument", "ticket keys must be 32 bytes each"))?;
    Ok(crypto::ticketer_with_keys(&keys))
}

/// The ALPN names as rustls takes them. Each is 1 to 255 bytes on the wire (RFC 7301
/// §3.1), and the list at most 2^16 - 1 (rustls only debug-asserts this and would encode
/// an empty name; found by fuzzing).
fn alpn(options: &ConfigOptions) -> Result<Vec<Vec<u8>>, Error> {
    let names: Vec<Vec<u8>> = options.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    if let Some(bad) = names.iter().find(|n| n.is_empty() || n.len() > 255) {
        return Err(Error::usage(
            "invalid-argument",
            format!("an ALPN protocol name is 1 to 255 bytes, not {}", bad.len()),
        ));
    }
    if names.iter().map(|n| 1 + n.len()).sum::<usize>() > usize::from(u16::MAX) {
        return Err(Error::usage(
            "invalid-argument",
            "the ALPN list is longer than 65,535 bytes",
        ));
    }
    Ok(names)
}

/// Our certificate chain and key.
fn identity(
    options: &ConfigOptions,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let chain = certificates(&options.certificate_chain)?;
    let key = options.private_key.as_deref().ok_or_else(|| {
        Error::usage(
            "missing-private-key",
            "a certificate chain needs its private key",
        )
    })?;
    Ok((chain, private_key(key)?))
}

fn root_store(anchors: &[CertificateDer<'static>]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in anchors.iter().cloned() {
        roots
            .add(cert)
            .map_err(|e| internal("bad-certificate-data", e))?;
    }
    Ok(roots)
}

/// Certificates from entries that are each a PEM bundle or one DER certificate.
fn certificates(entries: &[Vec<u8>]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut out = Vec::new();
    for entry in entries {
        if is_pem(entry) {
            let before = out.len();
            for cert in CertificateDer::pem_slice_iter(entry) {
                out.push(cert.map_err(|e| internal("bad-certificate-data", e))?);
            }
            if out.len() == before {
                return Err(internal(
                    "bad-certificate-data",
                    "PEM data holds no CERTIFICATE block",
                ));
            }
        } else {
            out.push(CertificateDer::from(entry.clone()));
        }
    }
    Ok(out)
}

fn private_key(data: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    if is_pem(data) {
        PrivateKeyDer::from_pem_slice(data).map_err(|e| internal("bad-private-key", e))
    } else {
        PrivateKeyDer::try_from(data.to_vec()).map_err(|e| internal("bad-private-key", e))
    }
}

fn is_pem(data: &[u8]) -> bool {
    data.windows(10).any(|w| w == b"-----BEGIN")
}

fn internal(name: &'static str, error: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Internal, name, error.to_string())
}
