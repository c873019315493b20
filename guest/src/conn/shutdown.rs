//! s2n_shutdown_send and s2n_shutdown: our closing alert out, then the peer's close_notify
//! in (R58-R62).

use super::{Connection, ReadClosed};
use crate::io::Socket;
use crate::types::{Error, ProtocolVersion};

impl<S: Socket> Connection<S> {
    /// Closes the write side (s2n_shutdown_send, R58).
    ///
    /// The write side closes at once, so a later `send` fails `closed` even if this call
    /// blocks; records already queued still go out, before the close_notify (R59). After a
    /// local fatal error the alert the engine queued for it goes instead. Idempotent. Before
    /// TLS 1.3 this closes the read side too (R60). While a blinding delay runs it fails
    /// `shutdown-paused` (R81).
    pub fn shutdown_send(&mut self) -> Result<(), Error> {
        self.write_closed = true;
        self.blinding.check_shutdown()?;
        self.flush_out()?;
        if !self.close_sent {
            if !self.failed {
                self.session.send_close_notify();
            }
            self.close_sent = true;
        }
        self.flush_out()?;
        if self.session.version() != Some(ProtocolVersion::Tls13) {
            self.read_closed.get_or_insert(ReadClosed::Abruptly);
        }
        Ok(())
    }

    /// Closes the connection (s2n_shutdown, R61-R62): `shutdown_send`, then reads and
    /// discards records until the peer's close_notify.
    ///
    /// A peer KeyUpdate met while draining is applied, so a graceful close succeeds (a
    /// deliberate departure from s2n). No close_notify is awaited after a fatal error or
    /// before the handshake finished. Once it succeeds, later calls succeed at once.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        self.shutdown_send()?;
        if self.failed || self.session.is_handshaking() {
            return Ok(());
        }
        loop {
            if self.session.peer_closed() {
                self.read_closed = Some(ReadClosed::CloseNotify);
                return Ok(());
            }
            // After EOF the read is tried again, as s2n does; the transport repeats it.
            let limits = self.record_limits();
            let record = match self.reader.read(&mut self.wire, limits) {
                Ok(record) => record,
                Err(e) => return Err(self.read_failed(e)),
            };
            self.feed(&record)?;
            // Application data met while draining is discarded, as in s2n.
            self.session.discard_plaintext();
        }
    }
}
