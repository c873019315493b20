//! What the endpoint's WASI clients share (`https-get`, and the wasi:tls provider, which
//! includes this file by path): the client configuration they build — tlsbox's defaults, RFC
//! alerts, and reads that take whatever the socket holds — and how they word an error.

use crate::tlsbox::tls::tls::{Config, ConfigOptions};
use crate::tlsbox::tls::types::{AlertPolicy, ClientAuth, Error, ErrorKind, RecordSizing, Role};

/// A client of `server_name` (SNI and the name its certificate must carry) that trusts
/// `trust_anchors` (PEM bundles or DER certificates) and, with `host_trust_store`, the
/// composition's trust store (the Mozilla set), offering `alpn`.
pub fn config(
    server_name: String,
    trust_anchors: Vec<Vec<u8>>,
    host_trust_store: bool,
    alpn: Vec<String>,
) -> Result<Config, Error> {
    Config::new(&ConfigOptions {
        role: Role::Client,
        server_name: Some(server_name),
        trust_anchors,
        host_trust_store,
        certificate_chain: Vec::new(),
        private_key: None,
        alpn,
        versions: Vec::new(),
        cipher_suites: Vec::new(),
        kx_groups: Vec::new(),
        client_auth: ClientAuth::None,
        record_sizing: RecordSizing::Default,
        max_fragment_length: None,
        send_buffer_size: None,
        recv_multi_record: false,
        // Both sockets return what they have rather than wait for the whole request.
        recv_buffering: true,
        session_tickets: None,
        ticket_keys: Vec::new(),
        max_early_data: 0,
        early_data: false,
        alert_policy: AlertPolicy::Rfc,
        max_blinding_delay_secs: None,
    })
}

/// An error as tlsbox's host words it: `kind/name (alert N): message`.
pub fn error_text(e: &Error) -> String {
    let kind = match e.kind {
        ErrorKind::Io => "io",
        ErrorKind::Closed => "closed",
        ErrorKind::Blocked => "blocked",
        ErrorKind::Alert => "alert",
        ErrorKind::Protocol => "protocol",
        ErrorKind::Internal => "internal",
        ErrorKind::Usage => "usage",
    };
    let alert = e.alert.map(|a| format!(" (alert {a})")).unwrap_or_default();
    format!("{kind}/{}{alert}: {}", e.name, e.message)
}
