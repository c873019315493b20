//! Standard names for the negotiated parameters (IANA / OpenSSL spelling), for logs and
//! summaries.

use crate::bindings::{CipherSuite, EarlyDataStatus, ErrorKind, KxGroup, ProtocolVersion};

impl ProtocolVersion {
    /// `TLSv1.2` or `TLSv1.3`, as OpenSSL prints them.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolVersion::Tls12 => "TLSv1.2",
            ProtocolVersion::Tls13 => "TLSv1.3",
        }
    }
}

impl CipherSuite {
    /// The IANA name, e.g. `TLS_CHACHA20_POLY1305_SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            CipherSuite::Tls13Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
            CipherSuite::Tls13Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
            CipherSuite::Tls13Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
            CipherSuite::TlsEcdheEcdsaWithChacha20Poly1305Sha256 => {
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
            }
            CipherSuite::TlsEcdheRsaWithChacha20Poly1305Sha256 => {
                "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
            }
            CipherSuite::TlsEcdheEcdsaWithAes128GcmSha256 => {
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            }
            CipherSuite::TlsEcdheRsaWithAes128GcmSha256 => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            CipherSuite::TlsEcdheEcdsaWithAes256GcmSha384 => {
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
            }
            CipherSuite::TlsEcdheRsaWithAes256GcmSha384 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        }
    }
}

impl KxGroup {
    /// The IANA group name, e.g. `x25519`.
    pub fn name(self) -> &'static str {
        match self {
            KxGroup::X25519 => "x25519",
            KxGroup::Secp256r1 => "secp256r1",
            KxGroup::Secp384r1 => "secp384r1",
            KxGroup::Secp521r1 => "secp521r1",
            KxGroup::X25519mlkem768 => "x25519mlkem768",
            KxGroup::Secp256r1mlkem768 => "secp256r1mlkem768",
            KxGroup::X448 => "x448",
        }
    }
}

impl EarlyDataStatus {
    /// The WIT name: `pending`, `not-requested`, `rejected`, `accepted` or `end`.
    pub fn name(self) -> &'static str {
        match self {
            EarlyDataStatus::Pending => "pending",
            EarlyDataStatus::NotRequested => "not-requested",
            EarlyDataStatus::Rejected => "rejected",
            EarlyDataStatus::Accepted => "accepted",
            EarlyDataStatus::End => "end",
        }
    }
}

impl ErrorKind {
    /// The WIT name: `io`, `closed`, `blocked`, `alert`, `protocol`, `internal` or `usage`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::Closed => "closed",
            ErrorKind::Blocked => "blocked",
            ErrorKind::Alert => "alert",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Internal => "internal",
            ErrorKind::Usage => "usage",
        }
    }
}
