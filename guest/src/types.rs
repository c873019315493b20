//! Native mirrors of the WIT `types` interface, so every layer below the WIT glue is plain
//! Rust that compiles and is tested off wasm.

use std::fmt;

/// s2n's `s2n_blocked_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// Nothing is waiting.
    NotBlocked,
    /// Waiting for the transport to become readable.
    OnRead,
    /// Waiting for the transport to become writable.
    OnWrite,
    /// Waiting on the application (reserved).
    OnApplicationInput,
    /// A server handshake paused at early data (reserved).
    OnEarlyData,
}

/// s2n's `s2n_error_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Transport failure other than would-block.
    Io,
    /// The needed side of the connection is closed.
    Closed,
    /// Would block; retry later.
    Blocked,
    /// The peer sent a fatal alert.
    Alert,
    /// The peer broke the protocol.
    Protocol,
    /// Failure inside tlsbox or in configured material.
    Internal,
    /// The caller broke a usage rule.
    Usage,
}

/// An error value as it crosses the WIT boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// The class of the error.
    pub kind: ErrorKind,
    /// Stable kebab-case identifier (see the README's error table).
    pub name: &'static str,
    /// Human-readable detail.
    pub message: String,
    /// Blocked status that goes with the error.
    pub blocked: Blocked,
    /// Alert description byte, where one applies.
    pub alert: Option<u8>,
}

impl Error {
    /// An error with no blocked status and no alert.
    pub fn new(kind: ErrorKind, name: &'static str, message: impl Into<String>) -> Self {
        Error {
            kind,
            name,
            message: message.into(),
            blocked: Blocked::NotBlocked,
            alert: None,
        }
    }

    /// The would-block error, blocked in `direction`.
    pub fn blocked(direction: Blocked) -> Self {
        Error::new(
            ErrorKind::Blocked,
            "io-blocked",
            "the transport would block",
        )
        .with_blocked(direction)
    }

    /// A `usage` error.
    pub fn usage(name: &'static str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, name, message)
    }

    /// The `closed` error.
    pub fn closed(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Closed, "closed", message)
    }

    /// The same error with `blocked` set (s2n reports the call's direction on every error).
    pub fn with_blocked(mut self, blocked: Blocked) -> Self {
        self.blocked = blocked;
        self
    }

    /// The same error with an alert code.
    pub fn with_alert(mut self, alert: u8) -> Self {
        self.alert = Some(alert);
        self
    }

    /// Whether this is the retryable would-block error.
    pub fn is_blocked(&self) -> bool {
        self.kind == ErrorKind::Blocked
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?}): {}", self.name, self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// How a transport call failed (WIT `io-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoError {
    /// Nothing can move now.
    WouldBlock,
    /// End of stream.
    Closed,
    /// Broken for writing; never send again.
    BrokenPipe,
    /// Anything else; the connection stays usable.
    Other(String),
}

/// Client or server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends the ClientHello.
    Client,
    /// Answers it.
    Server,
}

/// TLS protocol versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// Cipher suites the guest implements, in the default preference order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the names are the IANA names
pub enum CipherSuite {
    Tls13Chacha20Poly1305Sha256,
    Tls13Aes128GcmSha256,
    Tls13Aes256GcmSha384,
    TlsEcdheEcdsaWithChacha20Poly1305Sha256,
    TlsEcdheRsaWithChacha20Poly1305Sha256,
    TlsEcdheEcdsaWithAes128GcmSha256,
    TlsEcdheRsaWithAes128GcmSha256,
    TlsEcdheEcdsaWithAes256GcmSha384,
    TlsEcdheRsaWithAes256GcmSha384,
}

/// Key-exchange groups the guest implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // the names are the IANA names
pub enum KxGroup {
    X25519,
    Secp256r1,
    Secp384r1,
    Secp521r1,
    X25519Mlkem768,
    Secp256r1Mlkem768,
    X448,
}

/// Where 0-RTT early data stands (WIT `early-data-status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarlyDataStatus {
    /// Not decided yet.
    Pending,
    /// Not offered (or nothing to read).
    NotRequested,
    /// Refused by the server.
    Rejected,
    /// Taken by the server; more may arrive.
    Accepted,
    /// Accepted, and over.
    End,
}

/// How a connection announces its own fatal errors (WIT `alert-policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AlertPolicy {
    /// The alert the failure calls for, at once; no blinding.
    #[default]
    Rfc,
    /// s2n's: a close_notify at shutdown, after a blinding delay.
    S2n,
}

/// Whether a server requests client certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Never.
    #[default]
    None,
    /// Requested, not required.
    Optional,
    /// Required.
    Required,
}

/// Outgoing record size preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RecordSizing {
    /// 8087-byte fragments.
    #[default]
    Default,
    /// 16384-byte fragments.
    PreferThroughput,
    /// 1435-byte fragments.
    PreferLowLatency,
}

impl RecordSizing {
    /// The largest plaintext fragment per record (s2n's `max_outgoing_fragment_length`).
    pub fn max_fragment(self) -> usize {
        match self {
            RecordSizing::Default => 8087,
            RecordSizing::PreferThroughput => 16384,
            RecordSizing::PreferLowLatency => 1435,
        }
    }
}

/// Everything a configuration is built from (WIT `config-options`).
///
/// `Debug` shows every field but the private key, which appears only as its length.
#[derive(Clone)]
pub struct ConfigOptions {
    /// Client or server.
    pub role: Role,
    /// Client: SNI and the name to verify.
    pub server_name: Option<String>,
    /// Trust anchors: PEM bundles or DER certificates.
    pub trust_anchors: Vec<Vec<u8>>,
    /// Client: also trust the anchors of the host's trust store.
    pub host_trust_store: bool,
    /// Our chain, leaf first: PEM bundles or DER certificates.
    pub certificate_chain: Vec<Vec<u8>>,
    /// Our private key, PEM or DER.
    pub private_key: Option<Vec<u8>>,
    /// ALPN names in preference order.
    pub alpn: Vec<String>,
    /// Enabled versions; empty means both.
    pub versions: Vec<ProtocolVersion>,
    /// Suites in preference order; empty means all.
    pub cipher_suites: Vec<CipherSuite>,
    /// Groups in preference order; empty means all.
    pub kx_groups: Vec<KxGroup>,
    /// Server: client certificate policy.
    pub client_auth: ClientAuth,
    /// Outgoing record size.
    pub record_sizing: RecordSizing,
    /// A cap on outgoing fragments below `record_sizing` (512..=16384).
    pub max_fragment_length: Option<u32>,
    /// Send buffer for multi-record batching (at least 1034 bytes); `None` flushes every
    /// record on its own.
    pub send_buffer_size: Option<u32>,
    /// recv fills the request from several records (s2n's multi-record mode).
    pub recv_multi_record: bool,
    /// recv reads ahead into a 16 KiB buffer instead of exactly one record.
    pub recv_buffering: bool,
    /// Server: tickets sent after a full handshake (0 disables resumption).
    pub session_tickets: u8,
    /// Server: ticket keys, newest first; empty means a random key.
    pub ticket_keys: Vec<Vec<u8>>,
    /// Server: most early data accepted (0 refuses it).
    pub max_early_data: u32,
    /// Client: offer early data when resuming.
    pub early_data: bool,
    /// How failures are announced.
    pub alert_policy: AlertPolicy,
    /// Upper bound of the blinding delay in seconds under [`AlertPolicy::S2n`] (0 disables it).
    pub max_blinding_delay_secs: u32,
}

// By hand, so the private key never reaches a log: derived `Debug` would print its bytes.
impl fmt::Debug for ConfigOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field fails to compile here until someone decides
        // whether it is secret.
        let Self {
            role,
            server_name,
            trust_anchors,
            host_trust_store,
            certificate_chain,
            private_key,
            alpn,
            versions,
            cipher_suites,
            kx_groups,
            client_auth,
            record_sizing,
            max_fragment_length,
            send_buffer_size,
            recv_multi_record,
            recv_buffering,
            session_tickets,
            ticket_keys,
            max_early_data,
            early_data,
            alert_policy,
            max_blinding_delay_secs,
        } = self;
        let private_key = private_key
            .as_ref()
            .map(|key| format!("<redacted {} bytes>", key.len()));
        f.debug_struct("ConfigOptions")
            .field("role", role)
            .field("server_name", server_name)
            .field("trust_anchors", trust_anchors)
            .field("host_trust_store", host_trust_store)
            .field("certificate_chain", certificate_chain)
            .field("private_key", &private_key)
            .field("alpn", alpn)
            .field("versions", versions)
            .field("cipher_suites", cipher_suites)
            .field("kx_groups", kx_groups)
            .field("client_auth", client_auth)
            .field("record_sizing", record_sizing)
            .field("max_fragment_length", max_fragment_length)
            .field("send_buffer_size", send_buffer_size)
            .field("recv_multi_record", recv_multi_record)
            .field("recv_buffering", recv_buffering)
            .field("session_tickets", session_tickets)
            // Ticket keys are secrets too.
            .field("ticket_keys", &format!("<{} redacted>", ticket_keys.len()))
            .field("max_early_data", max_early_data)
            .field("early_data", early_data)
            .field("alert_policy", alert_policy)
            .field("max_blinding_delay_secs", max_blinding_delay_secs)
            .finish()
    }
}

impl ConfigOptions {
    /// Options with every list empty and defaults elsewhere.
    pub fn new(role: Role) -> Self {
        ConfigOptions {
            role,
            server_name: None,
            trust_anchors: Vec::new(),
            host_trust_store: false,
            certificate_chain: Vec::new(),
            private_key: None,
            alpn: Vec::new(),
            versions: Vec::new(),
            cipher_suites: Vec::new(),
            kx_groups: Vec::new(),
            client_auth: ClientAuth::None,
            record_sizing: RecordSizing::Default,
            max_fragment_length: None,
            send_buffer_size: None,
            recv_multi_record: false,
            recv_buffering: false,
            session_tickets: 1,
            ticket_keys: Vec::new(),
            max_early_data: 0,
            early_data: false,
            alert_policy: AlertPolicy::Rfc,
            max_blinding_delay_secs: 30,
        }
    }
}

/// What the handshake negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Cipher suite.
    pub cipher_suite: CipherSuite,
    /// Key-exchange group, if any.
    pub kx_group: Option<KxGroup>,
    /// Agreed ALPN protocol.
    pub alpn: Option<String>,
    /// SNI name.
    pub server_name: Option<String>,
    /// Peer chain, DER, leaf first.
    pub peer_certificates: Vec<Vec<u8>>,
}

/// Bytes acknowledged by a send, and whether the call stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Acknowledged bytes.
    pub bytes: usize,
    /// `NotBlocked` or `OnWrite`.
    pub blocked: Blocked,
}

/// Plaintext from a recv, and s2n's blocked encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The bytes.
    pub data: Vec<u8>,
    /// `OnRead` if plaintext remains in the current record.
    pub blocked: Blocked,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_options_debug_redacts_the_private_key() {
        let pem = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEIHRsc2JveC1yZWRhY3Rpb24tdGVzdC1rZXktMDE=\n\
                   -----END PRIVATE KEY-----\n";
        let mut opts = ConfigOptions::new(Role::Server);
        opts.private_key = Some(pem.as_bytes().to_vec());
        opts.server_name = Some("example.test".into());
        let shown = format!("{opts:?}");

        let body = "MC4CAQAwBQYDK2VwBCIEIHRsc2JveC1yZWRhY3Rpb24tdGVzdC1rZXktMDE=";
        assert!(!shown.contains(body), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        // Nor as the derived `Debug` of a `Vec<u8>` would print it.
        let bytes = format!("{:?}", pem.as_bytes());
        assert!(!shown.contains(&bytes[1..bytes.len() - 1]), "{shown}");
        assert!(!shown.contains("45, 45, 45, 45, 45, 66"), "{shown}"); // "-----B"
        assert!(
            shown.contains(&format!(
                r#"private_key: Some("<redacted {} bytes>")"#,
                pem.len()
            )),
            "{shown}"
        );
        // Everything else still shows.
        assert!(
            shown.contains(r#"server_name: Some("example.test")"#),
            "{shown}"
        );
        assert!(shown.contains("role: Server"), "{shown}");

        opts.private_key = None;
        assert!(format!("{opts:?}").contains("private_key: None"));
    }
}
