//! One TLS session: rustls's buffered connection, fed exactly one record at a time.

use std::io::{Read, Write};

use rustls::{ClientConnection, Connection, ServerConnection};

use super::config::EngineConfig;
use super::errors::from_rustls;
use super::names::{group_from_rustls, suite_from_rustls, version_from_rustls};
use crate::crypto;
use crate::types::{CipherSuite, Error, ErrorKind, ProtocolVersion, SessionInfo};

/// The TLS state machine. Callers hand it whole records and take whole records back; it
/// never touches a transport.
pub struct Session {
    conn: Connection,
    /// The client's SNI name (rustls exposes it only on servers).
    client_server_name: Option<String>,
    /// Unread plaintext of the record fed last.
    plaintext: usize,
    /// A close_notify has been processed.
    peer_closed: bool,
    /// TLS 1.3 KeyUpdates: (sent, received), saturating like s2n's u8 counters.
    key_updates: (u8, u8),
}

impl Session {
    /// Starts a session; a client queues its ClientHello at once.
    pub fn new(config: &EngineConfig) -> Result<Self, Error> {
        let (conn, client_server_name) = match config {
            EngineConfig::Client {
                config,
                server_name,
            } => {
                let conn = ClientConnection::new(config.clone(), server_name.clone())
                    .map_err(|e| from_rustls(&e))?;
                (
                    Connection::from(conn),
                    Some(server_name.to_str().into_owned()),
                )
            }
            EngineConfig::Server { config } => {
                let conn = ServerConnection::new(config.clone()).map_err(|e| from_rustls(&e))?;
                (Connection::from(conn), None)
            }
        };
        let mut session = Session {
            conn,
            client_server_name,
            plaintext: 0,
            peer_closed: false,
            key_updates: (0, 0),
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
        // rustls holds a KeyUpdate answer back until the next write; an empty write
        // releases it without producing a data record.
        let _ = self.counting_key_updates(|s| s.conn.writer().write(&[]));
        self.conn.wants_write()
    }

    /// KeyUpdates sent and received so far (s2n_connection_get_key_update_counts). A
    /// KeyUpdate answering the peer's request counts as sent when it is received, which is
    /// when rustls switches keys; it goes out with the next send.
    pub fn key_update_counts(&self) -> (u8, u8) {
        self.key_updates
    }

    /// Runs `f`, counting the TLS 1.3 keys it installs after the handshake as KeyUpdates.
    fn counting_key_updates<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let after_handshake = !self.conn.is_handshaking();
        let (enc, dec) = crypto::tls13_key_installs();
        let out = f(self);
        if after_handshake {
            let (enc2, dec2) = crypto::tls13_key_installs();
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

    /// Appends every record rustls has ready (handshake, alerts, tickets, KeyUpdate) to `out`.
    pub fn drain_outgoing(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            // Writing into a Vec cannot fail.
            if self.conn.write_tls(out).is_err() {
                break;
            }
        }
    }

    /// Processes one complete record (header included).
    pub fn feed_record(&mut self, record: &[u8]) -> Result<(), Error> {
        let mut rest = record;
        while !rest.is_empty() {
            match self.conn.read_tls(&mut rest) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(Error::new(ErrorKind::Internal, "internal", e.to_string())),
            }
        }
        let state = self
            .counting_key_updates(|s| {
                crypto::fatal_alerts_as_close_notify(|| s.conn.process_new_packets())
            })
            .map_err(|e| from_rustls(&e))?;
        self.plaintext = state.plaintext_bytes_to_read();
        self.peer_closed = state.peer_has_closed();
        Ok(())
    }

    /// Encrypts `data` (at most 16384 bytes, so exactly one record) and appends it to `out`.
    pub fn encrypt(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.counting_key_updates(|s| s.conn.writer().write_all(data))
            .map_err(|e| Error::new(ErrorKind::Internal, "internal", e.to_string()))?;
        self.drain_outgoing(out);
        Ok(())
    }

    /// Unread plaintext bytes of the current record.
    pub fn plaintext_len(&self) -> usize {
        self.plaintext
    }

    /// Takes up to `max` bytes of plaintext.
    pub fn read_plaintext(&mut self, max: usize) -> Vec<u8> {
        let mut buf = vec![0; max.min(self.plaintext)];
        let n = self.conn.reader().read(&mut buf).unwrap_or(0);
        buf.truncate(n);
        self.plaintext -= n;
        buf
    }

    /// Drops the current record's unread plaintext.
    pub fn discard_plaintext(&mut self) {
        while self.plaintext > 0 {
            if self.read_plaintext(self.plaintext).is_empty() {
                break;
            }
        }
    }

    /// Whether the peer's close_notify has been processed.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Queues a KeyUpdate (which also asks the peer to update).
    pub fn refresh_traffic_keys(&mut self) -> Result<(), Error> {
        self.counting_key_updates(|s| s.conn.refresh_traffic_keys())
            .map_err(|e| from_rustls(&e))
    }

    /// Queues a close_notify alert.
    pub fn send_close_notify(&mut self) {
        self.conn.send_close_notify();
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
