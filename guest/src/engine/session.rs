//! One TLS session: rustls's buffered connection, fed exactly one record at a time.

use std::io::{BufRead, Read, Write};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, HandshakeKind, ServerConnection};

use super::client_hello::{self, Signing};
use super::config::EngineConfig;
use super::errors::from_rustls;
use super::names::{group_from_rustls, suite_from_rustls, version_from_rustls};
use super::protection::Protection;
use super::tickets;
use crate::types::{AlertPolicy, CipherSuite, Error, ErrorKind, ProtocolVersion, SessionInfo};

/// Alert level byte of a fatal alert.
const FATAL: u8 = 2;
/// bad_record_mac.
const BAD_RECORD_MAC: u8 = 20;
/// unexpected_message.
const UNEXPECTED_MESSAGE: u8 = 10;
/// handshake_failure.
const HANDSHAKE_FAILURE: u8 = 40;
/// illegal_parameter: a field out of range or inconsistent with another.
const ILLEGAL_PARAMETER: u8 = 47;
/// missing_extension: a message without an extension it must carry.
const MISSING_EXTENSION: u8 = 109;
/// Record content types.
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
/// Length of a record header.
const RECORD_HEADER: usize = 5;
/// The longest ClientHello examined for early data.
const MAX_HELLO: usize = 1 << 16;
/// internal_error: the alert for a failure nothing more specific describes.
const INTERNAL_ERROR: u8 = 80;

/// The TLS state machine. Callers hand it whole records and take whole records back; it
/// never touches a transport.
pub struct Session {
    conn: Connection,
    /// The SNI name a client sent (rustls exposes it only on servers).
    client_server_name: Option<String>,
    /// Unread plaintext of the record fed last.
    plaintext: usize,
    /// A close_notify has been processed.
    peer_closed: bool,
    /// TLS 1.3 KeyUpdates: (sent, received), saturating like s2n's u8 counters.
    key_updates: (u8, u8),
    /// The record keys rustls installs for this session.
    protection: Protection,
    /// Alert records the engine sealed itself, sent after rustls's own output.
    own_records: Vec<u8>,
    /// A KeyUpdate of ours is queued in rustls and not yet drained.
    own_update_queued: bool,
    /// Server: what it signs with, to judge the ClientHello's signature schemes.
    signing: Option<Signing>,
    /// Server: the ClientHello's handshake bytes while it arrives.
    hello: Vec<u8>,
    /// Server: whether the ClientHello offered early data, once it is complete.
    early_offered: Option<bool>,
    /// Server: bytes of rejected early data that may still be skipped (RFC 8446 §4.2.10);
    /// `None` once skipping is over: a record opened under the handshake keys (the client's
    /// second flight has begun), or a second ClientHello came (after a HelloRetryRequest
    /// rustls skips the early data itself, and the client sends none after the retry).
    skip_left: Option<usize>,
}

/// Overhead of a TLS 1.3 record over its payload: the inner content type and the AEAD tag.
const TLS13_RECORD_OVERHEAD: usize = 1 + 16;
/// Skip allowance of a server that does not take early data at all (one full record, as
/// rustls allows).
const DEFAULT_SKIP: usize = 16384;

impl Session {
    /// Starts a session; a client queues its ClientHello at once. Under
    /// [`AlertPolicy::S2n`] an encrypted fatal alert goes out as a close_notify (R57).
    pub fn new(config: &EngineConfig, policy: AlertPolicy) -> Result<Self, Error> {
        let protection = Protection::new(policy == AlertPolicy::S2n);
        let skip_left = match config {
            EngineConfig::Server { config, .. } if config.max_early_data_size > 0 => {
                Some(config.max_early_data_size as usize)
            }
            _ => Some(DEFAULT_SKIP),
        };
        let (conn, client_server_name) = protection.scope(|| match config {
            EngineConfig::Client {
                config,
                server_name,
            } => {
                let conn = ClientConnection::new(config.clone(), server_name.clone())
                    .map_err(|e| from_rustls(&e))?;
                Ok((
                    Connection::from(conn),
                    // rustls sends SNI for DNS names only (RFC 6066 §3: never an address).
                    match server_name {
                        ServerName::DnsName(name) => Some(name.as_ref().to_owned()),
                        _ => None,
                    },
                ))
            }
            EngineConfig::Server { config, .. } => {
                let conn = ServerConnection::new(config.clone()).map_err(|e| from_rustls(&e))?;
                Ok((Connection::from(conn), None))
            }
        })?;
        let mut session = Session {
            conn,
            client_server_name,
            plaintext: 0,
            peer_closed: false,
            key_updates: (0, 0),
            protection,
            own_records: Vec::new(),
            own_update_queued: false,
            signing: match config {
                EngineConfig::Server { signing, .. } => Some(signing.clone()),
                EngineConfig::Client { .. } => None,
            },
            hello: Vec::new(),
            early_offered: None,
            skip_left,
        };
        // The connection layer sizes records itself; rustls must never split or hold them.
        session.conn.set_buffer_limit(None);
        Ok(session)
    }

    /// Whether the handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether records other than application data are waiting to go out (handshake,
    /// alerts, tickets, a KeyUpdate answer).
    pub fn wants_write(&mut self) -> bool {
        self.release_key_update();
        self.conn.wants_write() || !self.own_records.is_empty()
    }

    /// Moves a KeyUpdate answer rustls holds back until the next write into its outgoing
    /// records: an empty write releases it without producing a data record.
    fn release_key_update(&mut self) {
        // A failed rustls refuses every write; [`Protection::seal_alert`] sends the answer.
        if self.scoped(|c| c.writer().write(&[])).is_ok() {
            self.protection.answer_released();
        }
    }

    /// KeyUpdates sent and received so far (s2n_connection_get_key_update_counts). A
    /// KeyUpdate answering the peer's request counts as sent when it is received, which is
    /// when rustls switches keys; it goes out with the next send.
    pub fn key_update_counts(&self) -> (u8, u8) {
        self.key_updates
    }

    /// Runs `f` (a rustls call) with this session's keys in scope, counting the TLS 1.3 keys
    /// it installs after the handshake as KeyUpdates.
    fn scoped<T>(&mut self, f: impl FnOnce(&mut Connection) -> T) -> T {
        let after_handshake = !self.conn.is_handshaking();
        let (enc, dec) = self.protection.tls13_installs();
        let conn = &mut self.conn;
        let out = tickets::scope(|| self.protection.scope(|| f(conn)));
        if after_handshake {
            let (enc2, dec2) = self.protection.tls13_installs();
            let add = |count: u8, n: u64| count.saturating_add(u8::try_from(n).unwrap_or(u8::MAX));
            self.key_updates = (
                add(self.key_updates.0, enc2 - enc),
                add(self.key_updates.1, dec2 - dec),
            );
        }
        out
    }

    /// The negotiated cipher suite, once known.
    pub fn suite(&self) -> Option<CipherSuite> {
        suite_from_rustls(self.conn.negotiated_cipher_suite()?.suite())
    }

    /// Appends every record ready to go (handshake, alerts, tickets, KeyUpdate) to `out`.
    pub fn drain_outgoing(&mut self, out: &mut Vec<u8>) {
        self.own_update_queued = false;
        while self.conn.wants_write() {
            // Writing into a Vec cannot fail.
            if self.conn.write_tls(out).is_err() {
                break;
            }
        }
        out.append(&mut self.own_records);
    }

    /// Queues a fatal alert for a failure the engine detected itself (a record rustls never
    /// saw). Sealed under the current write keys, or in plaintext before there are any; under
    /// the s2n policy an encrypted one becomes a close_notify.
    pub fn fail_with_alert(&mut self, description: u8) {
        self.queue_alert([FATAL, description]);
    }

    fn queue_alert(&mut self, payload: [u8; 2]) {
        // rustls switches write keys when it takes a KeyUpdate request but holds the answer
        // back until its next write; the alert is sealed under the new keys, so the answer
        // must reach the peer first (drain_outgoing sends rustls's records before ours).
        // Found by fuzzing (fuzz/regressions/calls/alert-after-a-held-key-update-answer).
        self.release_key_update();
        match self.protection.seal_alert(payload) {
            Some(record) => self.own_records.extend_from_slice(&record),
            None => self
                .own_records
                .extend_from_slice(&[21, 3, 3, 0, 2, payload[0], payload[1]]),
        }
    }

    /// Server: whether the client offered early data (`None` until its ClientHello is in).
    pub fn early_data_offered(&self) -> Option<bool> {
        self.early_offered
    }

    /// Server: notes the ClientHello's bytes as they arrive, to learn whether it offers early
    /// data, and refuses one no TLS 1.3 signature could answer.
    fn note_client_hello(&mut self, typ: u8, body: &[u8]) -> Result<(), Error> {
        if self.is_client() || typ != HANDSHAKE {
            return Ok(());
        }
        if self.early_offered.is_some() {
            // A plaintext handshake record after the whole ClientHello: the second one,
            // after a HelloRetryRequest (or something rustls will refuse). No early data
            // follows it.
            self.skip_left = None;
            return Ok(());
        }
        self.hello.extend_from_slice(body);
        match client_hello::message_len(&self.hello) {
            Some(len) if self.hello.len() >= len => {
                let hello = std::mem::take(&mut self.hello);
                let hello = &hello[..len];
                self.early_offered = Some(client_hello::offers_early_data(hello));
                let tls13 = self.signing.as_ref().is_some_and(Signing::tls13);
                if tls13 && client_hello::lacks_required_extension(hello) {
                    return Err(self.refuse(
                        MISSING_EXTENSION,
                        "peer-misbehaved",
                        "the client offers TLS 1.3 without an extension it requires (RFC 8446 §9.2)",
                    ));
                }
                if tls13 && client_hello::shares_outside_groups(hello) {
                    return Err(self.refuse(
                        ILLEGAL_PARAMETER,
                        "peer-misbehaved",
                        "the client sent a key share for a group it does not list as supported",
                    ));
                }
                if self.signing.as_ref().is_some_and(|s| s.refuses(hello)) {
                    return Err(self.refuse(
                        HANDSHAKE_FAILURE,
                        "handshake-failure",
                        "the client accepts no TLS 1.3 signature scheme the server's key makes",
                    ));
                }
            }
            Some(len) if len <= MAX_HELLO => {}
            // Not a ClientHello, or absurdly long: rustls will judge it.
            _ => {
                self.early_offered = Some(false);
                self.hello = Vec::new();
            }
        }
        Ok(())
    }

    /// Judges a record by its outside where rustls would send another alert:
    ///
    /// - once TLS 1.3 protects the records read, each is application_data outside (RFC 8446
    ///   §5), save a ChangeCipherSpec during the handshake (middlebox compatibility, §D.4) and
    ///   a plaintext alert from a peer that failed before it had keys, which is its alert
    ///   (as OpenSSL takes it); anything else is unexpected_message, where rustls would try
    ///   to open it and send bad_record_mac (R51);
    /// - a Handshake or Alert record with no content is unexpected_message (§5.1), where
    ///   rustls sends decode_error (protected ones are checked once opened).
    fn check_outside(&mut self, typ: u8, body: &[u8]) -> Result<(), Error> {
        if self.protection.reads_tls13() {
            let handshaking = self.conn.is_handshaking();
            return match typ {
                APPLICATION_DATA => Ok(()),
                CHANGE_CIPHER_SPEC if handshaking => Ok(()),
                ALERT if handshaking && body.len() == 2 => Err(Error::new(
                    ErrorKind::Alert,
                    "alert",
                    format!(
                        "received an unprotected alert {} during the handshake",
                        body[1]
                    ),
                )
                .with_alert(body[1])),
                _ => Err(self.refuse(
                    UNEXPECTED_MESSAGE,
                    "bad-message",
                    format!("unprotected record of type {typ} where TLS 1.3 protects every record"),
                )),
            };
        }
        if body.is_empty() && matches!(typ, ALERT | HANDSHAKE) && self.protection.reads_plaintext()
        {
            return Err(self.refuse(
                UNEXPECTED_MESSAGE,
                "unexpected-message",
                format!("empty record of type {typ}"),
            ));
        }
        Ok(())
    }

    /// Queues the fatal `alert` for a record the engine refuses and returns the error.
    fn refuse(&mut self, alert: u8, name: &'static str, message: impl Into<String>) -> Error {
        self.fail_with_alert(alert);
        Error::new(ErrorKind::Protocol, name, message).with_alert(alert)
    }

    /// Server: whether `record` is rejected 0-RTT data to drop unseen by rustls. It is when
    /// the client offered early data, the server did not take it, skipping is not over, and
    /// the record does not open under the client's handshake keys; each counts against the
    /// skip allowance. Such a record past the allowance, or once skipping is over, fails
    /// here as bad_record_mac (rustls, still skipping, would call it interleaved early data).
    fn skips(&mut self, typ: u8, body: &[u8]) -> Result<bool, Error> {
        let candidate = !self.is_client()
            && self.early_offered == Some(true)
            && typ == APPLICATION_DATA
            && self.conn.is_handshaking()
            && !self.early_data_accepted();
        if !candidate {
            return Ok(false);
        }
        match self.protection.opens(body) {
            // No handshake keys yet: rustls judges it.
            None => return Ok(false),
            // The start of the client's second flight: nothing is skipped from here on.
            Some(true) => {
                self.skip_left = None;
                return Ok(false);
            }
            Some(false) => {}
        }
        let payload = body.len().saturating_sub(TLS13_RECORD_OVERHEAD);
        match self.skip_left.and_then(|left| left.checked_sub(payload)) {
            Some(left) => {
                self.skip_left = Some(left);
                Ok(true)
            }
            // More than the allowance, or no more early data: a record that fails
            // authentication.
            None => Err(self.refuse(
                BAD_RECORD_MAC,
                "decrypt",
                "rejected early data beyond the allowance, or a record that does not open",
            )),
        }
    }

    /// Processes one complete record, given as its header and its body (apart, so that a
    /// body read in one piece reaches rustls's buffer without another copy).
    pub fn feed_record(&mut self, header: &[u8; RECORD_HEADER], body: &[u8]) -> Result<(), Error> {
        let typ = header[0];
        self.check_outside(typ, body)?;
        self.note_client_hello(typ, body)?;
        if self.skips(typ, body)? {
            return Ok(());
        }
        let mut rest = header.chain(body);
        loop {
            match self.conn.read_tls(&mut rest) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(Error::new(ErrorKind::Internal, "internal", e.to_string())),
            }
        }
        let queued_before = self.conn.wants_write();
        self.protection.take_last_alert();
        let state = match self.scoped(|c| c.process_new_packets()) {
            Ok(state) => state,
            Err(e) => {
                let mut error = from_rustls(&e);
                if error.kind == ErrorKind::Alert {
                    return Err(error);
                }
                if queued_before || self.conn.wants_write() {
                    // rustls queued its alert; report the one it chose where we saw it.
                    if let Some(sent) = self.protection.take_last_alert() {
                        error.alert = Some(sent);
                    }
                } else {
                    // rustls sends an alert for most failures it detects, not for all (a
                    // zero inner content type, for one): those get the alert our error names.
                    self.fail_with_alert(error.alert.unwrap_or(INTERNAL_ERROR));
                }
                return Err(error);
            }
        };
        self.plaintext = state.plaintext_bytes_to_read();
        self.peer_closed = state.peer_has_closed();
        Ok(())
    }

    /// Encrypts `data` (at most 16384 bytes, so exactly one record) and appends it to `out`.
    pub fn encrypt(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.scoped(|c| c.writer().write_all(data))
            .map_err(|e| Error::new(ErrorKind::Internal, "internal", e.to_string()))?;
        self.drain_outgoing(out);
        Ok(())
    }

    /// Unread plaintext bytes of the current record.
    pub fn plaintext_len(&self) -> usize {
        self.plaintext
    }

    /// Moves up to `max` bytes of plaintext to the end of `out`; returns how many.
    pub fn read_plaintext(&mut self, max: usize, out: &mut Vec<u8>) -> usize {
        self.take_plaintext(max, |chunk| out.extend_from_slice(chunk))
    }

    /// Drops the current record's unread plaintext.
    pub fn discard_plaintext(&mut self) {
        self.take_plaintext(self.plaintext, |_| {});
    }

    /// Hands up to `max` bytes of plaintext to `sink` straight from rustls's buffer, in the
    /// pieces it holds them in.
    fn take_plaintext(&mut self, max: usize, mut sink: impl FnMut(&[u8])) -> usize {
        let limit = max.min(self.plaintext);
        let mut taken = 0;
        let mut reader = self.conn.reader();
        while taken < limit {
            let chunk = match reader.fill_buf() {
                Ok(chunk) if !chunk.is_empty() => chunk,
                _ => break,
            };
            let n = chunk.len().min(limit - taken);
            sink(&chunk[..n]);
            reader.consume(n);
            taken += n;
        }
        self.plaintext -= taken;
        taken
    }

    /// Client: 0-RTT bytes that may still be written (0 when early data is not possible).
    pub fn early_data_left(&mut self) -> usize {
        match &mut self.conn {
            Connection::Client(c) => c.early_data().map_or(0, |e| e.bytes_left()),
            Connection::Server(_) => 0,
        }
    }

    /// Client: encrypts up to `data.len()` bytes as early data (clamped to the allowance)
    /// and appends the records to `out`; returns how many bytes were taken.
    pub fn write_early_data(&mut self, data: &[u8], out: &mut Vec<u8>) -> usize {
        let taken = self.scoped(|c| match c {
            Connection::Client(c) => c.early_data().map_or(0, |mut e| e.write(data).unwrap_or(0)),
            Connection::Server(_) => 0,
        });
        self.drain_outgoing(out);
        taken
    }

    /// Server: takes up to `max` bytes of accepted early data.
    pub fn read_early_data(&mut self, max: usize) -> Vec<u8> {
        let Connection::Server(server) = &mut self.conn else {
            return Vec::new();
        };
        let Some(mut early) = server.early_data() else {
            return Vec::new();
        };
        let mut buf = vec![0; max];
        let n = early.read(&mut buf).unwrap_or(0);
        buf.truncate(n);
        buf
    }

    /// Whether the server took the client's early data (either side's view).
    pub fn early_data_accepted(&mut self) -> bool {
        match &mut self.conn {
            Connection::Client(c) => c.is_early_data_accepted(),
            Connection::Server(s) => s.early_data().is_some(),
        }
    }

    /// Whether this side is the client.
    pub fn is_client(&self) -> bool {
        matches!(self.conn, Connection::Client(_))
    }

    /// Server: refuses early data on this connection (before the ClientHello is processed).
    pub fn reject_early_data(&mut self) {
        if let Connection::Server(server) = &mut self.conn {
            server.reject_early_data();
        }
    }

    /// Whether the handshake resumed a session.
    pub fn resumed(&self) -> bool {
        self.conn.handshake_kind() == Some(HandshakeKind::Resumed)
    }

    /// Whether the peer's close_notify has been processed.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Queues a KeyUpdate (which also asks the peer to update), unless one is still queued:
    /// like s2n's pending flag, requests before it goes out make one KeyUpdate (R64).
    pub fn refresh_traffic_keys(&mut self) -> Result<(), Error> {
        if self.own_update_queued {
            return Ok(());
        }
        self.scoped(|c| c.refresh_traffic_keys())
            .map_err(|e| from_rustls(&e))?;
        self.own_update_queued = true;
        Ok(())
    }

    /// Queues a close_notify alert.
    pub fn send_close_notify(&mut self) {
        self.scoped(|c| c.send_close_notify());
    }

    /// The negotiated protocol version, once known.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.conn.protocol_version().and_then(version_from_rustls)
    }

    /// What the handshake negotiated, once it is complete.
    pub fn info(&self) -> Option<SessionInfo> {
        if self.conn.is_handshaking() {
            return None;
        }
        let server_name = match &self.conn {
            Connection::Client(_) => self.client_server_name.clone(),
            Connection::Server(server) => server.server_name().map(str::to_owned),
        };
        Some(SessionInfo {
            version: self.version()?,
            cipher_suite: self.suite()?,
            kx_group: self
                .conn
                .negotiated_key_exchange_group()
                .and_then(|g| group_from_rustls(g.name())),
            alpn: self
                .conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            server_name,
            peer_certificates: self
                .conn
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.to_vec()).collect())
                .unwrap_or_default(),
        })
    }
}
