//! Two-way mapping between the WIT enums and rustls's identifiers.

use rustls::{CipherSuite as Id, NamedGroup};

use crate::types::{CipherSuite, KxGroup, ProtocolVersion};

const SUITES: [(CipherSuite, Id); 9] = [
    (
        CipherSuite::Tls13Chacha20Poly1305Sha256,
        Id::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        CipherSuite::Tls13Aes128GcmSha256,
        Id::TLS13_AES_128_GCM_SHA256,
    ),
    (
        CipherSuite::Tls13Aes256GcmSha384,
        Id::TLS13_AES_256_GCM_SHA384,
    ),
    (
        CipherSuite::TlsEcdheEcdsaWithChacha20Poly1305Sha256,
        Id::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        CipherSuite::TlsEcdheRsaWithChacha20Poly1305Sha256,
        Id::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        CipherSuite::TlsEcdheEcdsaWithAes128GcmSha256,
        Id::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        CipherSuite::TlsEcdheRsaWithAes128GcmSha256,
        Id::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        CipherSuite::TlsEcdheEcdsaWithAes256GcmSha384,
        Id::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        CipherSuite::TlsEcdheRsaWithAes256GcmSha384,
        Id::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
];

const GROUPS: [(KxGroup, NamedGroup); 7] = [
    (KxGroup::X25519, NamedGroup::X25519),
    (KxGroup::Secp256r1, NamedGroup::secp256r1),
    (KxGroup::Secp384r1, NamedGroup::secp384r1),
    (KxGroup::Secp521r1, NamedGroup::secp521r1),
    (KxGroup::X25519Mlkem768, NamedGroup::X25519MLKEM768),
    (KxGroup::Secp256r1Mlkem768, NamedGroup::secp256r1MLKEM768),
    (KxGroup::X448, NamedGroup::X448),
];

/// rustls's identifier for a suite.
pub fn rustls_suite(suite: CipherSuite) -> Id {
    SUITES
        .iter()
        .find(|(s, _)| *s == suite)
        .map(|(_, id)| *id)
        .unwrap_or(Id::Unknown(0))
}

/// The WIT suite for a rustls identifier, if the guest implements it.
pub fn suite_from_rustls(id: Id) -> Option<CipherSuite> {
    SUITES.iter().find(|(_, i)| *i == id).map(|(s, _)| *s)
}

/// rustls's identifier for a group.
pub fn rustls_group(group: KxGroup) -> NamedGroup {
    GROUPS
        .iter()
        .find(|(g, _)| *g == group)
        .map(|(_, id)| *id)
        .unwrap_or(NamedGroup::Unknown(0))
}

/// The WIT group for a rustls identifier, if the guest implements it.
pub fn group_from_rustls(id: NamedGroup) -> Option<KxGroup> {
    GROUPS.iter().find(|(_, i)| *i == id).map(|(g, _)| *g)
}

/// The WIT version for a rustls version, if enabled in the guest.
pub fn version_from_rustls(version: rustls::ProtocolVersion) -> Option<ProtocolVersion> {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => Some(ProtocolVersion::Tls13),
        rustls::ProtocolVersion::TLSv1_2 => Some(ProtocolVersion::Tls12),
        _ => None,
    }
}
