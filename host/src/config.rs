//! [`Config`]: a host-side builder for the guest's `config-options`.

use crate::bindings::{
    CipherSuite, ClientAuth, ConfigOptions, KxGroup, ProtocolVersion, RecordSizing, Role,
};

/// Settings for an endpoint. Certificates and keys are PEM or DER bytes; the guest parses
/// and validates them when an endpoint is created.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) options: ConfigOptions,
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
                max_blinding_delay_secs: None,
            },
        }
    }

    /// Adds trust anchors: a PEM bundle or one DER certificate.
    pub fn trust(mut self, certificates: impl Into<Vec<u8>>) -> Self {
        self.options.trust_anchors.push(certificates.into());
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

    /// Upper bound of the blinding delay after a failure (0 disables it; default 30 s).
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
