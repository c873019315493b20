//! s2n-tls semantics over the engine: the blocked status, record-granular acknowledgement,
//! retry rules and closure rules of the s2n application-data calls (see the contract's
//! rules R1-R82; the rule numbers are cited where they decide something).

mod blinding;
mod early_data;
mod records;
mod recv;
mod send;
mod shutdown;
mod sizing;

use std::time::Duration;

use crate::engine::{EngineConfig, HostStores, Session};
use crate::io::{Socket, Wire};
use crate::types::{
    AlertPolicy, Blocked, ConfigOptions, Error, ErrorKind, ProtocolVersion, SessionInfo,
};
use blinding::Blinding;
use early_data::EarlyData;
use records::{Record, RecordLimits, RecordReader};
use sizing::{MIN_SEND_BUFFER, Sizing};

/// A validated configuration, shared by the connections made from it.
#[derive(Clone, Debug)]
pub struct Config {
    engine: EngineConfig,
    max_fragment: usize,
    send_buffer: Option<usize>,
    recv_multi_record: bool,
    recv_buffering: bool,
    alert_policy: AlertPolicy,
    max_blinding_delay: Duration,
    max_early_data: usize,
}

impl Config {
    /// Validates `options` and builds the engine configuration once.
    pub fn new(options: &ConfigOptions) -> Result<Self, Error> {
        Config::with_host(options, &HostStores::default())
    }

    /// As [`Config::new`], with what the host lends: a session store that outlives this
    /// config (where a server taking early data keeps its sessions) and a trust store.
    pub fn with_host(options: &ConfigOptions, host: &HostStores) -> Result<Self, Error> {
        let mut max_fragment = options.record_sizing.max_fragment();
        if let Some(limit) = options.max_fragment_length {
            if !(512..=16384).contains(&limit) {
                return Err(Error::usage(
                    "invalid-argument",
                    format!("max fragment length {limit} is outside 512..=16384"),
                ));
            }
            max_fragment = max_fragment.min(limit as usize);
        }
        let send_buffer = options.send_buffer_size.map(|size| size as usize);
        if send_buffer.is_some_and(|size| size < MIN_SEND_BUFFER) {
            // R38: a KeyUpdate or alert record must fit unfragmented.
            return Err(Error::usage(
                "invalid-argument",
                format!("send buffer must be at least {MIN_SEND_BUFFER} bytes"),
            ));
        }
        Ok(Config {
            engine: EngineConfig::build(options, host)?,
            max_fragment,
            send_buffer,
            recv_multi_record: options.recv_multi_record,
            recv_buffering: options.recv_buffering,
            alert_policy: options.alert_policy,
            max_early_data: options.max_early_data as usize,
            // Blinding belongs to s2n's policy; with AEAD-only suites and constant-time tag
            // checks the RFC policy has nothing to hide by waiting.
            max_blinding_delay: match options.alert_policy {
                AlertPolicy::Rfc => Duration::ZERO,
                AlertPolicy::S2n => Duration::from_secs(options.max_blinding_delay_secs.into()),
            },
        })
    }
}

/// Why the read side is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadClosed {
    /// The peer's close_notify arrived: reads return 0 bytes (R44, R54).
    CloseNotify,
    /// Transport EOF, a fatal alert, a local fatal error, or a finished shutdown: reads fail
    /// `closed` (R44, R56).
    Abruptly,
}

/// One TLS connection with s2n's application-data contract.
pub struct Connection<S> {
    wire: Wire<S>,
    session: Session,
    sizing: Sizing,
    /// Ciphertext queued for the transport; `out_pos` bytes of it already went out.
    out: Vec<u8>,
    out_pos: usize,
    reader: RecordReader,
    /// Multi-record reads (R46).
    multi_record: bool,
    /// A fatal error met after bytes were copied, reported by the next recv.
    pending_error: Option<Error>,
    blinding: Blinding,
    /// Plaintext bytes encrypted into `out` but not yet acknowledged (R20).
    consumed: usize,
    read_closed: Option<ReadClosed>,
    write_closed: bool,
    /// A fatal error ended the connection (local, or a received alert).
    failed: bool,
    alert_received: Option<u8>,
    /// shutdown has queued our closing alert.
    close_sent: bool,
    alert_policy: AlertPolicy,
    early: EarlyData,
}

impl<S: Socket> Connection<S> {
    /// A connection over `socket`; no I/O happens until the first call.
    pub fn new(config: &Config, socket: S) -> Result<Self, Error> {
        let mut session = Session::new(&config.engine, config.alert_policy)?;
        let early = EarlyData::new(session.early_data_left(), config.max_early_data);
        Ok(Connection {
            wire: Wire::new(socket),
            session,
            sizing: Sizing::new(config.max_fragment, config.send_buffer),
            out: Vec::new(),
            out_pos: 0,
            reader: RecordReader::new(config.recv_buffering),
            multi_record: config.recv_multi_record,
            pending_error: None,
            blinding: Blinding::new(config.max_blinding_delay),
            consumed: 0,
            read_closed: None,
            write_closed: false,
            failed: false,
            alert_received: None,
            close_sent: false,
            alert_policy: config.alert_policy,
            early,
        })
    }

    /// Drives the handshake to completion or until the transport blocks (s2n_negotiate).
    pub fn negotiate(&mut self) -> Result<(), Error> {
        loop {
            if self.failed {
                return Err(self.closed_after_failure());
            }
            self.flush_out()?;
            if !self.session.is_handshaking() {
                return Ok(());
            }
            let limits = self.record_limits();
            let record = match self.reader.read(&mut self.wire, limits) {
                Ok(record) => record,
                Err(e) => return Err(self.read_failed(e)),
            };
            self.feed(&record)?;
        }
    }

    /// Pushes queued ciphertext to the transport (s2n_flush): `blocked`/`on-write` if the
    /// transport stops taking it.
    pub fn flush(&mut self) -> Result<(), Error> {
        // Only records already queued: a pending KeyUpdate waits for the next send (R63,
        // T59) and a failed connection's closing alert for shutdown (R57).
        self.flush_queued()
    }

    /// What the handshake negotiated, once complete.
    pub fn session_info(&self) -> Option<SessionInfo> {
        self.session.info()
    }

    /// Ciphertext bytes the transport accepted.
    pub fn wire_bytes_out(&self) -> u64 {
        self.wire.bytes_out
    }

    /// Ciphertext bytes the transport delivered.
    pub fn wire_bytes_in(&self) -> u64 {
        self.wire.bytes_in
    }

    /// The fatal alert the peer sent, if any.
    pub fn alert_received(&self) -> Option<u8> {
        self.alert_received
    }

    /// TLS 1.3 KeyUpdates (sent, received) so far (s2n_connection_get_key_update_counts).
    pub fn key_update_counts(&self) -> (u8, u8) {
        self.session.key_update_counts()
    }

    /// Blinding delay left after a failure, in nanoseconds (s2n_connection_get_delay).
    pub fn delay(&self) -> u64 {
        u64::try_from(self.blinding.remaining().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Sends a KeyUpdate at the next send, one however often asked before it goes out
    /// (s2n_connection_request_key_update, R64). The engine always asks the peer to update
    /// too (rustls sends `update_requested`).
    pub fn request_key_update(&mut self) -> Result<(), Error> {
        if self.session.version() != Some(ProtocolVersion::Tls13) || self.session.is_handshaking() {
            return Err(Error::usage(
                "invalid-state",
                "a key update needs a completed TLS 1.3 handshake",
            ));
        }
        self.session.refresh_traffic_keys()
    }

    /// s2n_connection_set_dynamic_record_threshold: MTU-sized records until `threshold`
    /// bytes have been sent, and again after `timeout_secs` without a send (R33-R35).
    pub fn set_dynamic_record_threshold(
        &mut self,
        threshold: u32,
        timeout_secs: u16,
    ) -> Result<(), Error> {
        self.sizing.set_dynamic_threshold(threshold, timeout_secs)
    }

    /// Moves the engine's pending records into `out`, then flushes `out`.
    fn flush_out(&mut self) -> Result<(), Error> {
        self.session.drain_outgoing(&mut self.out);
        self.flush_queued()
    }

    /// Hands `out` to the transport until it is empty. Errors carry `on-write`.
    fn flush_queued(&mut self) -> Result<(), Error> {
        while self.out_pos < self.out.len() {
            let n = self
                .wire
                .send(&self.out[self.out_pos..])
                .map_err(|e| e.with_blocked(Blocked::OnWrite))?;
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }

    /// Feeds one record to the engine; a failure ends the connection.
    fn feed(&mut self, record: &Record) -> Result<(), Error> {
        self.session
            .feed_record(record.header(), record.body())
            .map_err(|e| {
                if e.kind == ErrorKind::Alert {
                    self.alert_received = e.alert;
                    self.fail();
                    e.with_blocked(Blocked::OnRead)
                } else {
                    // The engine has queued the alert for this failure.
                    self.failed_with(e)
                }
            })
    }

    /// Ends the connection after a local fatal error whose alert is queued: under the RFC
    /// policy the alert goes out now (if the transport blocks, with the next call, flush or
    /// shutdown); under s2n's it waits for shutdown, behind a blinding delay (R57, R80).
    fn failed_with(&mut self, error: Error) -> Error {
        self.blinding.apply(&error);
        self.fail();
        if self.alert_policy == AlertPolicy::Rfc {
            // The error being reported is the failure; a transport that cannot take the
            // alert now gets it later.
            let _ = self.flush_out();
        }
        error.with_blocked(Blocked::OnRead)
    }

    /// The `closed` error for calls after a failure; a queued alert is offered once more.
    fn closed_after_failure(&mut self) -> Error {
        if self.alert_policy == AlertPolicy::Rfc {
            let _ = self.flush_queued();
        }
        Error::closed("the connection failed earlier")
    }

    /// Size limits for the next record, by what the handshake has settled so far.
    fn record_limits(&self) -> RecordLimits {
        RecordLimits::for_version(self.session.version(), self.session.is_handshaking())
    }

    /// A failed record read: a bad header is fatal; EOF closes the read side (and, before
    /// TLS 1.3, the write side too, R28); would-block and other transport errors are not.
    fn read_failed(&mut self, error: Error) -> Error {
        if error.kind == ErrorKind::Protocol {
            // A malformed or oversized record header ends the connection like any bad
            // record, with the alert the header check names.
            if let Some(alert) = error.alert {
                self.session.fail_with_alert(alert);
            }
            return self.failed_with(error);
        } else if error.kind == ErrorKind::Closed {
            self.read_closed = Some(ReadClosed::Abruptly);
            if self.session.version() != Some(ProtocolVersion::Tls13) {
                self.write_closed = true;
            }
        }
        error.with_blocked(Blocked::OnRead)
    }

    /// Closes both directions after a fatal error (R55, R28).
    fn fail(&mut self) {
        self.failed = true;
        self.read_closed = Some(ReadClosed::Abruptly);
        self.write_closed = true;
    }
}
