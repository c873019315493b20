//! A TLS 1.2 session resumed from a ticket keeps that ticket.
//!
//! rustls's TLS 1.2 server issues a NewSessionTicket whenever the client offers the
//! extension, so each resumption hands out a fresh ticket. RFC 5077 §3.3 lets a server that
//! has already said it will send one send it empty instead, and the client then keeps the
//! ticket it resumed with; OpenSSL's server does this, and clients and scanners (sslyze)
//! expect it. TLS 1.3 tickets are untouched: they are issued after the client's Finished,
//! in a later rustls call than the one that opened the ticket.

use std::cell::Cell;
use std::sync::Arc;

use rustls::server::ProducesTickets;

thread_local! {
    /// Whether a ticket opened during the rustls call running on this thread.
    static OPENED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (one rustls call): a ticket opened in it suppresses any ticket issued in it.
pub fn scope<T>(f: impl FnOnce() -> T) -> T {
    OPENED.set(false);
    let out = f();
    OPENED.set(false);
    out
}

/// `inner`, except that it issues nothing (an empty NewSessionTicket) in the call where it
/// opened a ticket: that is a TLS 1.2 abbreviated handshake, whose ticket is sent in the
/// same flight as the ServerHello.
#[derive(Debug)]
pub struct KeepResumedTickets(pub Arc<dyn ProducesTickets>);

impl ProducesTickets for KeepResumedTickets {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.0.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        if OPENED.get() {
            return None;
        }
        self.0.encrypt(plain)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let plain = self.0.decrypt(ticket)?;
        OPENED.set(true);
        Some(plain)
    }
}
