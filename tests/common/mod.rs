//! Shared test support: certificates, native rustls peers (ring provider), and a driver
//! that pumps ciphertext between a component connection and a native peer in memory.
#![allow(dead_code)] // each test binary uses a different part

pub mod peers;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};

use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tlsbox::{Config, Connection, Runtime};
use tlsbox_test_support::ScriptedTransport;
use tlsbox_test_support::pki::Pki;

/// The process-wide runtime (the component is compiled once per test binary).
pub fn runtime() -> Runtime {
    Runtime::shared().expect("the component compiles")
}

/// ECDSA P-256 certificates for localhost and 127.0.0.1, made once per test binary.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::generate(&["localhost", "127.0.0.1"]).expect("rcgen works"))
}

/// The contract's fixture (docs/contract.md): a TLS 1.3 AES-256-GCM
/// client handshaken against a native server, with the server's session ticket consumed
/// (the contract's fixture has tickets off) and the call log cleared. `config` is a client
/// config; its cipher suites are replaced, and it announces failures s2n's way
/// (`AlertPolicy::S2n`), as the differential suites compare against s2n.
pub fn contract_pair(config: Config) -> MemPair {
    let config = config
        .cipher_suites(&[tlsbox::CipherSuite::Tls13Aes256GcmSha384])
        .alert_policy(tlsbox::AlertPolicy::S2n);
    let mut pair = MemPair::client(&config, native_server(pki(), ring_provider(None)));
    pair.handshake().unwrap();
    pair.pump().unwrap();
    // A record with no application data (the ticket) blocks.
    let err = pair.conn.recv(1).unwrap_err();
    assert_eq!(
        (err.kind, err.blocked),
        (tlsbox::ErrorKind::Blocked, tlsbox::Blocked::OnRead),
        "ticket consumed"
    );
    pair.wire.clear_calls();
    pair
}

/// A component client config trusting `pki`'s CA.
pub fn client_config(pki: &Pki) -> Config {
    Config::client("localhost").trust(pki.ca_pem.as_bytes())
}

/// A component server config with `pki`'s server identity.
pub fn server_config(pki: &Pki) -> Config {
    Config::server(
        pki.server_cert_pem.as_bytes(),
        pki.server_key_pem.as_bytes(),
    )
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("valid PEM")
}

fn key(pem: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("valid key PEM")
}

/// ring's provider, optionally restricted to one suite.
pub fn ring_provider(suite: Option<rustls::CipherSuite>) -> Arc<CryptoProvider> {
    let mut provider = ring::default_provider();
    if let Some(suite) = suite {
        provider.cipher_suites.retain(|s| s.suite() == suite);
    }
    Arc::new(provider)
}

/// A native rustls server with `pki`'s identity.
pub fn native_server(pki: &Pki, provider: Arc<CryptoProvider>) -> Arc<ServerConfig> {
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(certs(&pki.server_cert_pem), key(&pki.server_key_pem))
        .expect("server identity");
    Arc::new(config)
}

/// A native rustls client trusting `pki`'s CA.
pub fn native_client(pki: &Pki, provider: Arc<CryptoProvider>) -> Arc<ClientConfig> {
    Arc::new(native_client_builder(pki, provider).with_no_client_auth())
}

/// A native rustls client trusting `pki`'s CA and presenting the certificate chain
/// `cert_pem` with `key_pem`.
pub fn native_client_with_identity(
    pki: &Pki,
    provider: Arc<CryptoProvider>,
    cert_pem: &str,
    key_pem: &str,
) -> Arc<ClientConfig> {
    let config = native_client_builder(pki, provider)
        .with_client_auth_cert(certs(cert_pem), key(key_pem))
        .expect("client identity");
    Arc::new(config)
}

fn native_client_builder(
    pki: &Pki,
    provider: Arc<CryptoProvider>,
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    let mut roots = RootCertStore::empty();
    for cert in certs(&pki.ca_pem) {
        roots.add(cert).expect("CA");
    }
    ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("versions")
        .with_root_certificates(roots)
}

/// A native client's certificate verifier that accepts any certificate and signature and
/// asks for exactly the schemes it holds: for tests about something other than verification,
/// or about which schemes a client offers.
#[derive(Debug)]
pub struct AnyCert(pub Vec<rustls::SignatureScheme>);

impl AnyCert {
    /// Asking for every scheme ring verifies.
    pub fn all_schemes() -> Self {
        AnyCert(
            ring_provider(None)
                .signature_verification_algorithms
                .supported_schemes(),
        )
    }
}

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.clone()
    }
}

/// The TLS records in a byte stream, each with its header, as their headers delimit them
/// (a truncated last record is left out).
pub fn records(mut stream: &[u8]) -> Vec<&[u8]> {
    let mut records = Vec::new();
    while stream.len() >= 5 {
        let len = 5 + usize::from(u16::from_be_bytes([stream[3], stream[4]]));
        let Some((record, rest)) = stream.split_at_checked(len) else {
            break;
        };
        records.push(record);
        stream = rest;
    }
    records
}

/// A component connection and a native peer joined by a scripted in-memory wire.
pub struct MemPair {
    /// The component side.
    pub conn: Connection,
    /// The component's transport (scripts, call log).
    pub wire: ScriptedTransport,
    /// The native rustls side.
    pub peer: rustls::Connection,
    /// Plaintext the peer has received and not yet handed out.
    inbox: Vec<u8>,
}

impl MemPair {
    /// Component client against a native server.
    pub fn client(config: &Config, peer: Arc<ServerConfig>) -> Self {
        let wire = ScriptedTransport::new();
        let conn = Connection::new(&runtime(), config, wire.clone()).expect("connection");
        MemPair::from_parts(conn, wire, peer)
    }

    /// Component server against a native client connecting to "localhost".
    pub fn server(config: &Config, peer: Arc<ClientConfig>) -> Self {
        let wire = ScriptedTransport::new();
        let conn = Connection::new(&runtime(), config, wire.clone()).expect("connection");
        MemPair::server_from_parts(conn, wire, peer)
    }

    /// A component server connection already made against a native client connecting to
    /// "localhost".
    pub fn server_from_parts(
        conn: Connection,
        wire: ScriptedTransport,
        peer: Arc<ClientConfig>,
    ) -> Self {
        let name = ServerName::try_from("localhost").expect("name");
        let peer = rustls::ClientConnection::new(peer, name).expect("native client");
        MemPair::join(conn, wire, peer.into())
    }

    /// A component client connection already made (e.g. from a shared endpoint) against a
    /// native server.
    pub fn from_parts(conn: Connection, wire: ScriptedTransport, peer: Arc<ServerConfig>) -> Self {
        let peer = rustls::ServerConnection::new(peer).expect("native server");
        MemPair::join(conn, wire, peer.into())
    }

    /// Joins the two sides; the peer buffers without limit so tests can queue freely.
    fn join(conn: Connection, wire: ScriptedTransport, mut peer: rustls::Connection) -> Self {
        peer.set_buffer_limit(None);
        MemPair {
            conn,
            wire,
            peer,
            inbox: Vec::new(),
        }
    }

    /// Moves the component's output into the peer and the peer's output to the component.
    pub fn pump(&mut self) -> Result<(), rustls::Error> {
        let out = self.wire.take_outbound();
        let mut rest = &out[..];
        while !rest.is_empty() {
            self.peer.read_tls(&mut rest).expect("in-memory read");
            self.peer.process_new_packets()?;
            // Drain plaintext as it comes so rustls's receive buffer never fills.
            let mut buf = [0u8; 16384];
            while let Ok(n @ 1..) = self.peer.reader().read(&mut buf) {
                self.inbox.extend_from_slice(&buf[..n]);
            }
        }
        let mut back = Vec::new();
        while self.peer.wants_write() {
            self.peer.write_tls(&mut back).expect("in-memory write");
        }
        self.wire.push_inbound(&back);
        Ok(())
    }

    /// Runs the handshake to completion on both sides.
    pub fn handshake(&mut self) -> Result<(), String> {
        for _ in 0..64 {
            match self.conn.negotiate() {
                Ok(()) => {
                    self.pump().map_err(|e| format!("peer: {e}"))?;
                    if !self.peer.is_handshaking() {
                        return Ok(());
                    }
                }
                Err(e) if e.is_blocked() => self.pump().map_err(|e| format!("peer: {e}"))?,
                Err(e) => return Err(format!("component: {e}")),
            }
        }
        Err("handshake did not finish".into())
    }

    /// The peer sends `data`.
    pub fn peer_send(&mut self, data: &[u8]) {
        self.peer.writer().write_all(data).expect("peer write");
        self.pump().expect("pump");
    }

    /// The records the peer writes for `data`, not delivered: hand them to the component
    /// with `wire.push_inbound`, whole, split or altered.
    pub fn peer_records(&mut self, data: &[u8]) -> Vec<u8> {
        self.peer.writer().write_all(data).expect("peer write");
        self.peer_output()
    }

    /// Everything the peer has queued to write (records, alerts), not delivered.
    pub fn peer_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.peer.wants_write() {
            self.peer.write_tls(&mut out).expect("in-memory write");
        }
        out
    }

    /// Feeds the component's output to the peer and keeps the plaintext, without sending
    /// the peer's answers back (they stay queued: see [`Self::peer_output`]). Returns whether
    /// the peer has received close_notify.
    pub fn peer_absorb(&mut self) -> Result<bool, rustls::Error> {
        let out = self.wire.take_outbound();
        let mut rest = &out[..];
        while !rest.is_empty() {
            self.peer.read_tls(&mut rest).expect("in-memory read");
            self.peer.process_new_packets()?;
            if self.drain_peer() {
                return Ok(true);
            }
        }
        Ok(self.drain_peer())
    }

    /// Moves the peer's plaintext into the inbox; true once it has seen close_notify.
    fn drain_peer(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        loop {
            match self.peer.reader().read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => self.inbox.extend_from_slice(&buf[..n]),
                Err(_) => return false,
            }
        }
    }

    /// Plaintext the peer received through [`Self::peer_absorb`], taken.
    pub fn take_peer_inbox(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.inbox)
    }

    /// Everything the peer has received so far.
    pub fn peer_received(&mut self) -> Vec<u8> {
        self.pump().expect("pump");
        std::mem::take(&mut self.inbox)
    }

    /// Receives exactly `n` bytes on the component side, pumping as needed.
    pub fn recv_exact(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.conn.recv(n - out.len()) {
                Ok(r) => {
                    assert!(!r.data.is_empty(), "unexpected close_notify");
                    out.extend_from_slice(&r.data);
                }
                Err(e) if e.is_blocked() => self.pump().expect("pump"),
                Err(e) => panic!("recv failed: {e}"),
            }
        }
        out
    }
}

/// A pseudo-random payload (xorshift), so corrupted or reordered bytes are detected.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A native rustls echo server on loopback for one connection; returns its address and a
/// handle yielding the bytes it echoed.
pub fn native_echo_server(config: Arc<ServerConfig>) -> (String, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("addr").to_string();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let conn = rustls::ServerConnection::new(config).expect("server");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut echoed = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match tls.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    tls.write_all(&buf[..n]).expect("echo");
                    echoed.extend_from_slice(&buf[..n]);
                }
                Err(_) => break,
            }
        }
        tls.conn.send_close_notify();
        let _ = tls.flush();
        echoed
    });
    (addr, handle)
}

/// Connects a native rustls client to `addr`, sends `data`, reads the same amount back,
/// then closes; returns what it read.
pub fn native_client_exchange(config: Arc<ClientConfig>, addr: &str, data: &[u8]) -> Vec<u8> {
    let tcp = TcpStream::connect(addr).expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(config, name).expect("client");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let writer_data = data.to_vec();
    tls.write_all(&writer_data).expect("write");
    let mut back = vec![0u8; data.len()];
    tls.read_exact(&mut back).expect("read echo");
    tls.conn.send_close_notify();
    let _ = tls.flush();
    back
}

/// `openssl req -x509` for localhost into `dir` (`cert.pem`, `key.pem`), with the key
/// options `newkey` (e.g. `["-newkey", "rsa:4096"]`): a self-signed CA:TRUE certificate,
/// as people make them for testing.
pub fn openssl_req_x509(dir: &std::path::Path, newkey: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509"])
        .args(newkey)
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-keyout", "key.pem", "-out", "cert.pem"])
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
