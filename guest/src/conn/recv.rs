//! s2n_recv and s2n_peek: one application record per call, s2n's blocked encoding, and the
//! closure rules (R42-R56).

use super::{Connection, ReadClosed};
use crate::io::Socket;
use crate::types::{Blocked, Error, ProtocolVersion, Received};

impl<S: Socket> Connection<S> {
    /// Reads up to `max` plaintext bytes from at most one application record (s2n_recv).
    ///
    /// Non-application records (tickets, KeyUpdate, empty records) are processed on the way
    /// (R45, R49, R50). An empty result with `NotBlocked` means close_notify (R54), unless
    /// `max` was 0 (R48).
    pub fn recv(&mut self, max: usize) -> Result<Received, Error> {
        self.recv_inner(max)
            .map_err(|e| e.with_blocked(Blocked::OnRead))
    }

    fn recv_inner(&mut self, max: usize) -> Result<Received, Error> {
        match self.read_closed {
            Some(ReadClosed::CloseNotify) => return Ok(self.received(Vec::new())),
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
        loop {
            if self.session.plaintext_len() > 0 {
                let data = self.session.read_plaintext(max);
                return Ok(self.received(data));
            }
            if self.session.peer_closed() {
                self.read_closed = Some(ReadClosed::CloseNotify);
                // Before TLS 1.3 close_notify closes both directions (R28).
                if self.session.version() != Some(ProtocolVersion::Tls13) {
                    self.write_closed = true;
                }
                return Ok(self.received(Vec::new()));
            }
            let record = match self.reader.read(&mut self.wire) {
                Ok(record) => record,
                Err(e) => return Err(self.read_failed(e)),
            };
            self.feed(&record)?;
        }
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
