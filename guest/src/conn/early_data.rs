//! s2n_send_early_data, s2n_recv_early_data and the early-data status and sizes (R69-R78),
//! over TLS 1.3 resumption tickets.
//!
//! Where the engine cannot pause as s2n does (rustls finishes the client's handshake as soon
//! as the server's flight arrives, so there is no "blocked on early data" stage on the
//! client), the calls report what rustls did: early data is over once the handshake is.

use super::Connection;
use crate::io::Socket;
use crate::types::{Blocked, EarlyDataStatus, Error, ErrorKind, Progress, Received};

/// Early-data bookkeeping of one connection.
#[derive(Debug, Default)]
pub struct EarlyData {
    /// Client: the allowance of the session offered, fixed at the start (0: not offered).
    offered: usize,
    /// Client: bytes encrypted as early data whose records have not all gone out yet.
    unacknowledged: usize,
    /// Server: early data taken from the engine, not yet handed to the application.
    buffered: Vec<u8>,
    /// Server: early-data bytes received so far.
    received: usize,
    /// Server: the configured maximum.
    server_max: usize,
}

impl EarlyData {
    /// Bookkeeping for a new connection: a client's allowance, a server's maximum.
    pub fn new(client_allowance: usize, server_max: usize) -> Self {
        EarlyData {
            offered: client_allowance,
            server_max,
            ..EarlyData::default()
        }
    }
}

impl<S: Socket> Connection<S> {
    /// Sends 0-RTT data (s2n_send_early_data, R71-R73): at most the remaining allowance,
    /// then drives the handshake as far as the transport allows.
    pub fn send_early_data(&mut self, data: &[u8]) -> Result<Progress, Error> {
        if !self.session.is_client() {
            return Err(Error::usage(
                "invalid-state",
                "send-early-data is for clients (s2n's S2N_ERR_SERVER_MODE)",
            ));
        }
        if self.failed || self.write_closed {
            return Err(Error::closed("the connection is closed for writing"));
        }
        // A retry after a block: the records of the bytes encrypted last time go out first.
        if self.early.unacknowledged > 0 {
            if data.len() < self.early.unacknowledged {
                return Err(Error::usage(
                    "send-size",
                    "the retry presents fewer bytes than were already encrypted",
                ));
            }
            self.flush_queued()
                .map_err(|e| e.with_blocked(Blocked::OnWrite))?;
            let sent = std::mem::take(&mut self.early.unacknowledged);
            return Ok(self.after_early_send(sent));
        }
        let allowance = self.session.early_data_left();
        if allowance == 0 || !self.session.is_handshaking() {
            // R72: nothing left to send is success with no I/O at all.
            return Ok(Progress {
                bytes: 0,
                blocked: Blocked::NotBlocked,
            });
        }
        // The ClientHello first, then the early records behind it.
        self.flush_out()
            .map_err(|e| e.with_blocked(Blocked::OnWrite))?;
        let sent = self
            .session
            .write_early_data(&data[..data.len().min(allowance)], &mut self.out);
        if let Err(e) = self.flush_queued() {
            if e.is_blocked() {
                self.early.unacknowledged = sent;
            }
            return Err(e.with_blocked(Blocked::OnWrite));
        }
        Ok(self.after_early_send(sent))
    }

    /// After early data went out: one step of the handshake, and s2n's report of it (R72).
    fn after_early_send(&mut self, sent: usize) -> Progress {
        let blocked = match self.negotiate() {
            Ok(()) => Blocked::NotBlocked,
            // The server has not answered: more early data may follow.
            Err(e) if e.is_blocked() && self.session.early_data_left() > 0 => e.blocked,
            // Early data can no longer continue; negotiate reports the rest.
            Err(_) => Blocked::NotBlocked,
        };
        Progress {
            bytes: sent,
            blocked,
        }
    }

    /// Reads 0-RTT data (s2n_recv_early_data, R74), driving the handshake up to the
    /// client's Finished. Early data the application leaves unread is not fatal (unlike
    /// s2n's R75): `recv` returns it after the handshake.
    pub fn recv_early_data(&mut self, max: usize) -> Result<Received, Error> {
        if self.session.is_client() {
            return Err(Error::usage(
                "invalid-state",
                "recv-early-data is for servers (s2n's S2N_ERR_CLIENT_MODE)",
            ));
        }
        let mut out = Vec::new();
        loop {
            self.take_early_data();
            let n = (max - out.len()).min(self.early.buffered.len());
            out.extend(self.early.buffered.drain(..n));
            if !self.early.buffered.is_empty() {
                // The caller's buffer is full and more is waiting (S2N_ERR_EARLY_DATA_BLOCKED).
                return Ok(Received {
                    data: out,
                    blocked: Blocked::OnEarlyData,
                });
            }
            if !self.early_data_may_continue() {
                return Ok(Received {
                    data: out,
                    blocked: Blocked::NotBlocked,
                });
            }
            if self.failed {
                return Err(Error::closed("the connection failed earlier"));
            }
            if let Err(e) = self.flush_out() {
                return self.early_blocked(out, e.with_blocked(Blocked::OnWrite));
            }
            let limits = self.record_limits();
            let record = match self.reader.read(&mut self.wire, limits) {
                Ok(record) => record,
                Err(e) => {
                    let e = self.read_failed(e);
                    return self.early_blocked(out, e);
                }
            };
            if let Err(e) = self.feed(&record) {
                return self.early_blocked(out, e);
            }
        }
    }

    /// A block ends the call with the bytes read so far; any other error is returned when
    /// nothing was read, else kept for the next call.
    fn early_blocked(&mut self, data: Vec<u8>, error: Error) -> Result<Received, Error> {
        if error.is_blocked() {
            let blocked = error.blocked;
            return Ok(Received { data, blocked });
        }
        if data.is_empty() {
            return Err(error);
        }
        self.pending_error = Some(error);
        Ok(Received {
            data,
            blocked: Blocked::NotBlocked,
        })
    }

    /// Server: whether early data may still arrive.
    fn early_data_may_continue(&mut self) -> bool {
        matches!(
            self.early_data_status(),
            EarlyDataStatus::Pending | EarlyDataStatus::Accepted
        )
    }

    /// Moves early data the engine decrypted into the connection's buffer.
    pub(super) fn take_early_data(&mut self) {
        loop {
            let chunk = self.session.read_early_data(16384);
            if chunk.is_empty() {
                return;
            }
            self.early.received += chunk.len();
            self.early.buffered.extend_from_slice(&chunk);
        }
    }

    /// Early data a server left unread, for `recv` after the handshake.
    pub(super) fn take_leftover_early_data(&mut self, max: usize) -> Vec<u8> {
        self.take_early_data();
        let n = max.min(self.early.buffered.len());
        self.early.buffered.drain(..n).collect()
    }

    /// Where early data stands (s2n_connection_get_early_data_status).
    pub fn early_data_status(&mut self) -> EarlyDataStatus {
        let handshaking = self.session.is_handshaking();
        if self.session.is_client() {
            if self.early.offered == 0 {
                return EarlyDataStatus::NotRequested;
            }
            return match (self.session.early_data_accepted(), handshaking) {
                (true, true) => EarlyDataStatus::Accepted,
                (true, false) => EarlyDataStatus::End,
                // Still allowed to send: the server has not answered yet.
                (false, true) if self.session.early_data_left() > 0 => EarlyDataStatus::Pending,
                (false, _) => EarlyDataStatus::Rejected,
            };
        }
        match self.session.early_data_offered() {
            None => EarlyDataStatus::Pending,
            Some(false) => EarlyDataStatus::NotRequested,
            Some(true) if !self.session.early_data_accepted() => {
                if self.session.version().is_none() {
                    EarlyDataStatus::Pending
                } else {
                    EarlyDataStatus::Rejected
                }
            }
            Some(true) if handshaking => EarlyDataStatus::Accepted,
            Some(true) => EarlyDataStatus::End,
        }
    }

    /// The early-data limit in force (s2n_connection_get_max_early_data_size, R70).
    pub fn max_early_data_size(&mut self) -> usize {
        if self.session.is_client() {
            self.early.offered
        } else {
            self.early.server_max
        }
    }

    /// Early data that may still be sent or received (R70): 0 once early data is over.
    pub fn remaining_early_data_size(&mut self) -> usize {
        if !self.early_data_may_continue() {
            return 0;
        }
        if self.session.is_client() {
            self.session.early_data_left()
        } else {
            self.take_early_data();
            self.early.server_max.saturating_sub(self.early.received)
        }
    }

    /// Servers: refuse this connection's early data (s2n_early_data_reject).
    pub fn reject_early_data(&mut self) -> Result<(), Error> {
        if self.session.is_client() || self.session.version().is_some() {
            return Err(Error::new(
                ErrorKind::Usage,
                "invalid-state",
                "early data can be rejected only by a server before the ClientHello",
            ));
        }
        self.session.reject_early_data();
        self.early.server_max = 0;
        Ok(())
    }

    /// Whether the handshake resumed a session.
    pub fn session_resumed(&self) -> bool {
        self.session.resumed()
    }
}
