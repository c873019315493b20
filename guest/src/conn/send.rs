//! s2n_send: record-granular acknowledgement and the retry contract (R13-R29).

use super::Connection;
use crate::io::Socket;
use crate::types::{Blocked, Error, ErrorKind, Progress};

impl<S: Socket> Connection<S> {
    /// Encrypts and sends `data` in records of the configured size (s2n_send).
    ///
    /// `Ok` with `bytes == data.len()` and `NotBlocked` when everything went out; `Ok` with
    /// fewer bytes and `OnWrite` when the transport blocked after at least one whole record
    /// of this call went out (R21); `Err(io-blocked)` when it blocked before that. Bytes
    /// already encrypted stay queued: the retry must present them again (R23).
    pub fn send(&mut self, data: &[u8]) -> Result<Progress, Error> {
        // Every outcome but full success reports on-write (R14).
        self.send_inner(data)
            .map_err(|e| e.with_blocked(Blocked::OnWrite))
    }

    fn send_inner(&mut self, data: &[u8]) -> Result<Progress, Error> {
        if self.write_closed {
            return Err(Error::closed("the connection is closed for writing"));
        }
        if self.session.is_handshaking() {
            // Application data never goes out under handshake keys (R29).
            return Err(Error::new(
                ErrorKind::Protocol,
                "encrypt",
                "the handshake is not complete",
            ));
        }
        // A record queued by an earlier call goes out before anything else (R16).
        self.flush_out()?;
        let mut acknowledged = self.consumed;
        if self.consumed > data.len() {
            return Err(Error::usage(
                "send-size",
                format!(
                    "the retry presents {} bytes but {} were already encrypted",
                    data.len(),
                    self.consumed
                ),
            ));
        }
        let max_fragment = self.sizing.max_fragment();
        while self.consumed < data.len() {
            let end = data.len().min(self.consumed + max_fragment);
            self.session
                .encrypt(&data[self.consumed..end], &mut self.out)?;
            self.consumed = end;
            if let Err(e) = self.flush_out() {
                if acknowledged > 0 && e.is_blocked() {
                    // Report whole records only; the rest stays queued (R20, R21).
                    self.consumed -= acknowledged;
                    return Ok(Progress {
                        bytes: acknowledged,
                        blocked: Blocked::OnWrite,
                    });
                }
                // Other errors keep the count: a retry with the same data re-flushes the
                // queued record and carries on from there (R26).
                return Err(e);
            }
            acknowledged = self.consumed;
        }
        self.consumed = 0;
        Ok(Progress {
            bytes: data.len(),
            blocked: Blocked::NotBlocked,
        })
    }
}
