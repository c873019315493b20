//! s2n_shutdown: send our closing alert, then wait for the peer's close_notify (R58-R62).

use super::{Connection, ReadClosed};
use crate::io::Socket;
use crate::types::{Blocked, Error};

impl<S: Socket> Connection<S> {
    /// Closes the connection (s2n_shutdown).
    ///
    /// Closes the write side at once, flushes queued records, sends close_notify (or, after
    /// a local fatal error, the alert the engine queued for it), then reads and discards
    /// records until the peer's close_notify. A peer KeyUpdate met while draining is applied,
    /// so a graceful close succeeds (a deliberate departure from s2n). Blocked calls are
    /// retried by calling again; once it succeeds, later calls succeed at once.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        self.write_closed = true;
        if !self.close_sent {
            if !self.failed {
                self.session.send_close_notify();
            }
            self.close_sent = true;
        }
        self.flush_out()?;
        // No close_notify is coming after a fatal error or before the handshake finished.
        if self.failed || self.session.is_handshaking() {
            self.read_closed.get_or_insert(ReadClosed::Abruptly);
            return Ok(());
        }
        loop {
            match self.read_closed {
                Some(ReadClosed::CloseNotify) => return Ok(()),
                Some(ReadClosed::Abruptly) => {
                    return Err(Error::closed("the peer closed without close_notify")
                        .with_blocked(Blocked::OnRead));
                }
                None => {}
            }
            // Application data met while draining is discarded, as in s2n.
            self.recv(16384)?;
        }
    }
}
