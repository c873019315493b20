//! Server session-ticket encryption, since rustls's own ticketers need ring or aws-lc-rs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::chacha::ChaCha20Poly1305;
use aes_gcm::aead::{AeadInOut, KeyInit};
use rustls::Error;
use rustls::crypto::GetRandomFailed;
use rustls::server::ProducesTickets;
use rustls::ticketer::TicketRotator;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// How long one ticket key issues tickets, in seconds; rustls accepts a ticket for at most twice
/// this. Matches rustls's ring and aws-lc-rs ticketers.
const ROTATION_SECS: u32 = 6 * 60 * 60;
/// Ticket lifetime advertised to clients, in seconds (also as rustls's ticketers).
const TICKET_LIFETIME_SECS: u32 = 12 * 60 * 60;

const KEY_NAME_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A session-ticket encrypter for `ServerConfig::ticketer`: ChaCha20-Poly1305 under a random
/// key that rotates every six hours, the key before the current one still decrypting.
///
/// Keys live only in this instance's memory: tickets cannot be opened by another instance.
pub fn ticketer() -> Result<Arc<dyn ProducesTickets>, Error> {
    Ok(Arc::new(TicketRotator::new(ROTATION_SECS, make_ticketer)?))
}

fn make_ticketer() -> Result<Box<dyn ProducesTickets>, GetRandomFailed> {
    Ok(Box::new(AeadTicketer::new()?))
}

/// The longest ticket a keyed ticketer opens: another instance with the same keys may have
/// issued it, so the length of our own tickets is no bound (a ticket holding a client
/// certificate chain runs to a few KiB).
const MAX_KEYED_TICKET_LEN: usize = 16 * 1024;

/// A session-ticket encrypter under caller-supplied 32-byte keys, newest first: the first
/// seals, every one opens. Instances given the same keys open each other's tickets, across
/// restarts too; the caller rotates by prepending a new key and later dropping the oldest.
pub fn ticketer_with_keys(keys: &[[u8; 32]]) -> Arc<dyn ProducesTickets> {
    Arc::new(KeyedTicketer(
        keys.iter()
            .map(|key| AeadTicketer::from_key(key, MAX_KEYED_TICKET_LEN))
            .collect(),
    ))
}

/// Tickets sealed by the first key, opened by any.
#[derive(Debug)]
struct KeyedTicketer(Vec<AeadTicketer>);

impl ProducesTickets for KeyedTicketer {
    fn enabled(&self) -> bool {
        !self.0.is_empty()
    }

    fn lifetime(&self) -> u32 {
        TICKET_LIFETIME_SECS
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.0.first()?.encrypt(plain)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        self.0.iter().find_map(|t| t.decrypt(ticket))
    }
}

/// Tickets are `key_name || nonce || ciphertext || tag`, the key name bound in as AAD.
struct AeadTicketer {
    cipher: ChaCha20Poly1305,
    key_name: [u8; KEY_NAME_LEN],
    /// Longer tickets than we ever issued are rejected unopened, which blunts partitioning-
    /// oracle attacks (<https://eprint.iacr.org/2020/1491.pdf>), as rustls's ticketers do.
    max_ticket_len: AtomicUsize,
}

impl AeadTicketer {
    /// A ticketer under `key`, named by a hash of it so every holder of the key agrees.
    fn from_key(key: &[u8; 32], max_ticket_len: usize) -> Self {
        let digest = Sha256::new()
            .chain_update(b"tlsbox ticket key name")
            .chain_update(key)
            .finalize();
        let mut key_name = [0u8; KEY_NAME_LEN];
        key_name.copy_from_slice(&digest[..KEY_NAME_LEN]);
        Self {
            cipher: ChaCha20Poly1305::new(&(*key).into()),
            key_name,
            max_ticket_len: AtomicUsize::new(max_ticket_len),
        }
    }

    fn new() -> Result<Self, GetRandomFailed> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice()).map_err(|_| GetRandomFailed)?;
        let mut key_name = [0u8; KEY_NAME_LEN];
        getrandom::fill(&mut key_name).map_err(|_| GetRandomFailed)?;
        Ok(Self {
            cipher: ChaCha20Poly1305::new(&(*key).into()),
            key_name,
            max_ticket_len: AtomicUsize::new(0),
        })
    }
}

impl core::fmt::Debug for AeadTicketer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AeadTicketer").finish_non_exhaustive()
    }
}

impl ProducesTickets for AeadTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        TICKET_LIFETIME_SECS
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        // A random nonce, not a counter: a counter would let observers link tickets.
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).ok()?;

        let header = KEY_NAME_LEN + NONCE_LEN;
        let mut ticket = Vec::with_capacity(header + plain.len() + TAG_LEN);
        ticket.extend_from_slice(&self.key_name);
        ticket.extend_from_slice(&nonce);
        ticket.extend_from_slice(plain);
        let body = ticket.get_mut(header..)?;
        let tag = self
            .cipher
            .encrypt_inout_detached(&nonce.into(), &self.key_name, body.into())
            .ok()?;
        ticket.extend_from_slice(&tag);

        self.max_ticket_len
            .fetch_max(ticket.len(), Ordering::Relaxed);
        Some(ticket)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        if ticket.len() > self.max_ticket_len.load(Ordering::Relaxed) {
            return None;
        }
        let (key_name, rest) = ticket.split_at_checked(KEY_NAME_LEN)?;
        // Quick rejection of another key's tickets (the rotator tries each key in turn).
        if key_name != self.key_name {
            return None;
        }
        let (nonce, rest) = rest.split_at_checked(NONCE_LEN)?;
        let body_len = rest.len().checked_sub(TAG_LEN)?;
        let (body, tag) = rest.split_at(body_len);

        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let tag: [u8; TAG_LEN] = tag.try_into().ok()?;
        let mut plain = body.to_vec();
        self.cipher
            .decrypt_inout_detached(
                &nonce.into(),
                &self.key_name,
                plain.as_mut_slice().into(),
                &tag.into(),
            )
            .ok()?;
        Some(plain)
    }
}
