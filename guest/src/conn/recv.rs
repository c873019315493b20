//! s2n_recv, s2n_peek and s2n_peek_buffered: one application record per call (or several in
//! multi-record mode), s2n's blocked encoding, and the closure rules (R42-R56).

use super::{Connection, ReadClosed};
use crate::io::Socket;
use crate::types::{Blocked, Error, ErrorKind, ProtocolVersion, Received};

impl<S: Socket> Connection<S> {
    /// Reads up to `max` plaintext bytes (s2n_recv): from at most one application record, or
    /// in multi-record mode until `max` bytes, close_notify, a block or an error.
    ///
    /// Non-application records (tickets, KeyUpdate, empty records) are processed on the way
    /// (R45, R49, R50). An empty result with `NotBlocked` means close_notify (R54), unless
    /// `max` was 0 (R48).
    pub fn recv(&mut self, max: usize) -> Result<Received, Error> {
        self.recv_inner(max)
            .map_err(|e| e.with_blocked(Blocked::OnRead))
    }

    fn recv_inner(&mut self, max: usize) -> Result<Received, Error> {
        // A fatal error met after bytes were copied comes now, after those bytes.
        if let Some(error) = self.pending_error.take() {
            return Err(error);
        }
        match self.read_closed {
            Some(ReadClosed::CloseNotify) => return Ok(self.received(Vec::new())),
            Some(ReadClosed::Abruptly) if self.failed => return Err(self.closed_after_failure()),
            Some(ReadClosed::Abruptly) => {
                return Err(Error::closed("the connection is closed for reading"));
            }
            None => {}
        }
        if self.session.is_handshaking() {
            return Err(Error::usage(
                "handshake-not-complete",
                "recv needs a completed handshake; call negotiate first",
            ));
        }
        if max == 0 {
            return Ok(self.received(Vec::new()));
        }
        // Early data the server application left unread comes first.
        let mut out = self.take_leftover_early_data(max);
        if !out.is_empty() {
            return Ok(self.received(out));
        }
        loop {
            if self.session.plaintext_len() > 0 {
                self.session.read_plaintext(max - out.len(), &mut out);
                // Legacy mode returns after one record (R45); multi-record mode fills the
                // request (R46).
                if !self.multi_record || out.len() == max {
                    return Ok(self.received(out));
                }
                continue;
            }
            if self.session.peer_closed() {
                self.read_closed = Some(ReadClosed::CloseNotify);
                // Before TLS 1.3 close_notify closes both directions (R28).
                if self.session.version() != Some(ProtocolVersion::Tls13) {
                    self.write_closed = true;
                }
                return Ok(self.received(out));
            }
            let limits = self.record_limits();
            let result = match self.reader.read(&mut self.wire, limits) {
                Ok(record) => self.feed(&record),
                Err(e) => Err(self.read_failed(e)),
            };
            if let Err(error) = result {
                if out.is_empty() {
                    return Err(error);
                }
                // Bytes already copied are returned. A block or EOF is reported by the next
                // call on its own (R46, R56); any other error is kept for the next call
                // instead of dropping the bytes (a deliberate departure from s2n).
                if !(error.is_blocked() || error.kind == ErrorKind::Closed) {
                    self.pending_error = Some(error);
                }
                return Ok(self.received(out));
            }
        }
    }

    /// Turns multi-record reads on or off (s2n_config_set_recv_multi_record); takes effect
    /// from the next call.
    pub fn set_recv_multi_record(&mut self, enabled: bool) {
        self.multi_record = enabled;
    }

    /// Ciphertext held beyond the current record, with receive buffering (s2n_peek_buffered).
    pub fn peek_buffered(&self) -> usize {
        self.reader.buffered()
    }

    /// Unread plaintext of the current record (s2n_peek, R52).
    pub fn peek(&self) -> usize {
        self.session.plaintext_len()
    }

    /// s2n's encoding: `OnRead` while plaintext or a partial record remains (R43).
    fn received(&self, data: Vec<u8>) -> Received {
        let blocked = if self.session.plaintext_len() > 0 || self.reader.is_partial() {
            Blocked::OnRead
        } else {
            Blocked::NotBlocked
        };
        Received { data, blocked }
    }
}
