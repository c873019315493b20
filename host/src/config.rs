//! [`Config`]: a host-side builder for the guest's `config-options`.

use std::fmt;

use zeroize::Zeroize;

use crate::bindings::{
    AlertPolicy, CipherSuite, ClientAuth, ConfigOptions, KxGroup, ProtocolVersion, RecordSizing,
    Role,
};
use crate::error::Error;
use crate::trust::TrustStore;

/// Settings for an endpoint. Certificates and keys are PEM or DER bytes; the guest parses
/// and validates them when an endpoint is created. `Debug` never shows the private key.
///
/// Trust, for clients: the system's store ([`TrustStore::system`]) unless anchors are given
/// with [`trust`](Self::trust), which then are the only ones (as curl's `--cacert`); add
/// [`trust_system_store`](Self::trust_system_store) to keep both, or give any store with
/// [`trust_store`](Self::trust_store).
#[derive(Clone)]
pub struct Config {
    pub(crate) options: ConfigOptions,
    store: StoreChoice,
}

/// Which host trust store a client uses.
#[derive(Clone, Debug)]
enum StoreChoice {
    /// The system's, unless the config has anchors of its own.
    Default,
    /// The system's, besides the config's anchors.
    System,
    /// This one, besides the config's anchors.
    Store(TrustStore),
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        f.debug_struct("Config")
            .field("role", &o.role)
            .field("server_name", &o.server_name)
            .field("trust_anchors", &o.trust_anchors.len())
            .field("trust_store", &self.store)
            .field("certificate_chain", &o.certificate_chain.len())
            .field(
                "private_key",
                &o.private_key
                    .as_ref()
                    .map(|key| format!("<redacted {} bytes>", key.len())),
            )
            .field("alpn", &o.alpn)
            .field("versions", &o.versions)
            .field("cipher_suites", &o.cipher_suites)
            .field("kx_groups", &o.kx_groups)
            .field("client_auth", &o.client_auth)
            .field("record_sizing", &o.record_sizing)
            .field("max_fragment_length", &o.max_fragment_length)
            .field("send_buffer_size", &o.send_buffer_size)
            .field("recv_multi_record", &o.recv_multi_record)
            .field("recv_buffering", &o.recv_buffering)
            .field("session_tickets", &o.session_tickets)
            .field(
                "ticket_keys",
                &format!("<{} redacted>", o.ticket_keys.len()),
            )
            .field("max_early_data", &o.max_early_data)
            .field("early_data", &o.early_data)
            .field("alert_policy", &o.alert_policy)
            .field("max_blinding_delay_secs", &o.max_blinding_delay_secs)
            .finish()
    }
}

/// The private key and ticket keys are wiped when a `Config` (or a clone) is dropped.
impl Drop for Config {
    fn drop(&mut self) {
        if let Some(key) = &mut self.options.private_key {
            key.zeroize();
        }
        self.options
            .ticket_keys
            .iter_mut()
            .for_each(Zeroize::zeroize);
    }
}

impl Config {
    /// A client that connects to `server_name` (sent as SNI and verified).
    pub fn client(server_name: impl Into<String>) -> Self {
        let mut config = Config::new(Role::Client);
        config.options.server_name = Some(server_name.into());
        config
    }

    /// A server presenting `certificate_chain` (leaf first) and `private_key`.
    pub fn server(certificate_chain: impl Into<Vec<u8>>, private_key: impl Into<Vec<u8>>) -> Self {
        Config::new(Role::Server).identity(certificate_chain, private_key)
    }

    fn new(role: Role) -> Self {
        Config {
            options: ConfigOptions {
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
                session_tickets: None,
                ticket_keys: Vec::new(),
                max_early_data: 0,
                early_data: false,
                alert_policy: AlertPolicy::Rfc,
                max_blinding_delay_secs: None,
            },
            store: StoreChoice::Default,
        }
    }

    /// The options as the guest gets them, and the trust store its lookups go to: a
    /// client's [`StoreChoice`] resolved (the system store is read on first use).
    pub(crate) fn resolve(&self) -> Result<(ConfigOptions, Option<TrustStore>), Error> {
        let mut options = self.options.clone();
        let store = match (&self.store, options.role) {
            (_, Role::Server) => None,
            (StoreChoice::Default, _) if !options.trust_anchors.is_empty() => None,
            (StoreChoice::Default | StoreChoice::System, _) => Some(TrustStore::system()?),
            (StoreChoice::Store(store), _) => Some(store.clone()),
        };
        if store.as_ref().is_some_and(TrustStore::is_empty) && options.trust_anchors.is_empty() {
            return Err(Error::host(
                crate::bindings::ErrorKind::Usage,
                "missing-trust-anchors",
                "a client config needs trust anchors: its trust store is empty",
            ));
        }
        options.host_trust_store = store.is_some();
        Ok((options, store))
    }

    /// A server config whose connections each get an instance of their own, given one random
    /// ticket key if it has none, so that every connection opens the tickets of the others.
    /// Unchanged when tickets are off, keys are set, or early data keeps sessions in the
    /// session store; if the system has no entropy to give, each instance keeps its own key.
    pub(crate) fn with_shared_ticket_key(mut self) -> Self {
        let o = &mut self.options;
        if o.role == Role::Server
            && o.ticket_keys.is_empty()
            && o.max_early_data == 0
            && o.session_tickets != Some(0)
        {
            let mut key = vec![0; 32];
            if getrandom::fill(&mut key).is_ok() {
                o.ticket_keys.push(key);
            } else {
                key.zeroize();
            }
        }
        self
    }

    /// Adds trust anchors: a PEM bundle or one DER certificate. A self-signed certificate
    /// given here is also accepted as the peer's own (pinned). For a client, anchors given
    /// here replace the system store unless [`trust_system_store`](Self::trust_system_store)
    /// or [`trust_store`](Self::trust_store) adds a store back.
    pub fn trust(mut self, certificates: impl Into<Vec<u8>>) -> Self {
        self.options.trust_anchors.push(certificates.into());
        self
    }

    /// Clients: trust the system's store ([`TrustStore::system`]) besides any anchors given
    /// with [`trust`](Self::trust).
    pub fn trust_system_store(mut self) -> Self {
        self.store = StoreChoice::System;
        self
    }

    /// Clients: trust `store` (instead of the system's), besides any anchors given with
    /// [`trust`](Self::trust). Parsed once, shared by every connection.
    pub fn trust_store(mut self, store: TrustStore) -> Self {
        self.store = StoreChoice::Store(store);
        self
    }

    /// Sets our certificate chain and key (a client's enables client authentication).
    pub fn identity(
        mut self,
        certificate_chain: impl Into<Vec<u8>>,
        private_key: impl Into<Vec<u8>>,
    ) -> Self {
        self.options.certificate_chain = vec![certificate_chain.into()];
        self.options.private_key = Some(private_key.into());
        self
    }

    /// ALPN protocols in preference order.
    pub fn alpn<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Enabled protocol versions.
    pub fn versions(mut self, versions: &[ProtocolVersion]) -> Self {
        self.options.versions = versions.to_vec();
        self
    }

    /// Cipher suites in preference order.
    pub fn cipher_suites(mut self, suites: &[CipherSuite]) -> Self {
        self.options.cipher_suites = suites.to_vec();
        self
    }

    /// Key-exchange groups in preference order.
    pub fn kx_groups(mut self, groups: &[KxGroup]) -> Self {
        self.options.kx_groups = groups.to_vec();
        self
    }

    /// Servers: the client-certificate policy (verified against the trust anchors).
    pub fn client_auth(mut self, policy: ClientAuth) -> Self {
        self.options.client_auth = policy;
        self
    }

    /// Outgoing record size.
    pub fn record_sizing(mut self, sizing: RecordSizing) -> Self {
        self.options.record_sizing = sizing;
        self
    }

    /// Caps outgoing fragments (512..=16384), below what `record_sizing` allows.
    pub fn max_fragment_length(mut self, length: u32) -> Self {
        self.options.max_fragment_length = Some(length);
        self
    }

    /// Enables multi-record sends through a buffer of `size` bytes (at least 1034).
    pub fn send_buffer_size(mut self, size: u32) -> Self {
        self.options.send_buffer_size = Some(size);
        self
    }

    /// Multi-record reads: `recv` fills the request from several records.
    pub fn recv_multi_record(mut self, enabled: bool) -> Self {
        self.options.recv_multi_record = enabled;
        self
    }

    /// Receive buffering: `recv` reads ahead up to 16 KiB per transport call.
    pub fn recv_buffering(mut self, enabled: bool) -> Self {
        self.options.recv_buffering = enabled;
        self
    }

    /// Servers: TLS 1.3 session tickets sent after each full handshake (default 1; 0 turns
    /// resumption off).
    pub fn session_tickets(mut self, count: u8) -> Self {
        self.options.session_tickets = Some(count);
        self
    }

    /// Servers: 32-byte ticket keys, newest first (the first seals, all open). Endpoints and
    /// processes given the same keys resume each other's sessions; rotate by prepending.
    /// Without keys each endpoint seals under a random key of its own, kept in its instance,
    /// and a [`TlsAcceptor`](crate::TlsAcceptor) makes one random key for all its
    /// connections (each has an instance of its own).
    pub fn ticket_keys<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<Vec<u8>>,
    {
        self.options.ticket_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Servers: accept up to `bytes` of 0-RTT early data per connection (0, the default,
    /// refuses it). Sessions then become single-use state inside the endpoint, so a replayed
    /// 0-RTT flight has its early data rejected; see the README's early-data section.
    pub fn max_early_data(mut self, bytes: u32) -> Self {
        self.options.max_early_data = bytes;
        self
    }

    /// Clients: offer 0-RTT early data when resuming a session that allows it.
    pub fn early_data(mut self, enabled: bool) -> Self {
        self.options.early_data = enabled;
        self
    }

    /// How a failure is announced to the peer: the RFC's alert at once (the default), or
    /// s2n's close_notify at shutdown after a blinding delay.
    pub fn alert_policy(mut self, policy: AlertPolicy) -> Self {
        self.options.alert_policy = policy;
        self
    }

    /// Under [`AlertPolicy::S2n`]: upper bound of the blinding delay after a failure (0
    /// disables it; default 30 s).
    pub fn max_blinding_delay_secs(mut self, secs: u32) -> Self {
        self.options.max_blinding_delay_secs = Some(secs);
        self
    }

    /// The largest plaintext per outgoing record under these settings (dynamic record
    /// sizing aside).
    pub(crate) fn record_payload(&self) -> usize {
        let mut payload = match self.options.record_sizing {
            RecordSizing::Default => 8087,
            RecordSizing::PreferThroughput => 16384,
            RecordSizing::PreferLowLatency => 1435,
        };
        if let Some(limit) = self.options.max_fragment_length {
            payload = payload.min(limit as usize);
        }
        if let Some(buffer) = self.options.send_buffer_size {
            payload = payload.min((buffer as usize).saturating_sub(1029));
        }
        payload.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_private_key() {
        let key = b"-----BEGIN PRIVATE KEY-----\nU2VjcmV0S2V5Qnl0ZXM=\n-----END PRIVATE KEY-----\n";
        let shown = format!("{:?}", Config::server(&b"cert"[..], &key[..]));
        assert!(!shown.contains("U2VjcmV0S2V5Qnl0ZXM"), "{shown}");
        assert!(!shown.contains(&format!("{:?}", &key[..8])), "{shown}");
        assert!(
            shown.contains(&format!("<redacted {} bytes>", key.len())),
            "{shown}"
        );
    }
}
