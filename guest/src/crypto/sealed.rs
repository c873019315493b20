//! Sealing values that leave the guest, under a key that only their lookup id gives.
//!
//! A server taking early data keeps its sessions in the host's session store, each under a
//! random 32-byte id that only the client learns (inside the encrypted NewSessionTicket) and
//! presents to resume. Here a value is sealed with ChaCha20-Poly1305 under a key derived
//! from its id and filed under a hash of the id, so the store holds nothing that opens its
//! values: a stored value alone reveals no session secret, and a value that was altered or
//! moved to another id fails authentication and reads as "no such session".

use super::chacha::ChaCha20Poly1305;
use aes_gcm::aead::{AeadInOut, KeyInit};
use hmac::Hmac;
use hmac::digest::{Digest, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Domain separation: the sealing key and the filing key are different functions of the id.
const KEY_LABEL: &[u8] = b"tlsbox sealed session key v1";
const FILING_LABEL: &[u8] = b"tlsbox sealed session id v1";

/// Where the value for `id` is filed: SHA-256 over a label and the id.
pub fn filing_key(id: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update(FILING_LABEL)
        .chain_update(id)
        .finalize()
        .to_vec()
}

/// `value` sealed under the key `id` derives: `nonce || ciphertext || tag`. `None` only if
/// the system has no randomness for the nonce.
pub fn seal(id: &[u8], value: &[u8]) -> Option<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).ok()?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + value.len() + TAG_LEN);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(value);
    let tag = cipher(id)
        .encrypt_inout_detached(
            &nonce.into(),
            KEY_LABEL,
            sealed[NONCE_LEN..].as_mut().into(),
        )
        .ok()?;
    sealed.extend_from_slice(&tag);
    Some(sealed)
}

/// The value sealed under `id`'s key, if `sealed` is authentic for that id.
pub fn open(id: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (nonce, rest) = sealed.split_at_checked(NONCE_LEN)?;
    let (body, tag) = rest.split_at_checked(rest.len().checked_sub(TAG_LEN)?)?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let tag: [u8; TAG_LEN] = tag.try_into().ok()?;
    let mut value = Zeroizing::new(body.to_vec());
    cipher(id)
        .decrypt_inout_detached(
            &nonce.into(),
            KEY_LABEL,
            value.as_mut_slice().into(),
            &tag.into(),
        )
        .ok()?;
    Some(std::mem::take(&mut *value))
}

/// ChaCha20-Poly1305 under HMAC-SHA-256(id, label); the derived key is wiped after use.
fn cipher(id: &[u8]) -> ChaCha20Poly1305 {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(id).expect("HMAC takes any key");
    mac.update(KEY_LABEL);
    let key = Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
    ChaCha20Poly1305::new(&(*key).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: [u8; 32] = [7; 32];

    #[test]
    fn a_sealed_value_opens_under_its_id_only() {
        let value = b"resumption secret and session state".to_vec();
        let sealed = seal(&ID, &value).unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + value.len() + TAG_LEN);
        assert_eq!(open(&ID, &sealed).as_deref(), Some(&value[..]));
        assert_eq!(open(&[8; 32], &sealed), None, "another id's key");
    }

    #[test]
    fn a_sealed_value_shows_nothing_of_the_value() {
        let value: Vec<u8> = (0..=255).collect();
        let sealed = seal(&ID, &value).unwrap();
        // No 4-byte window of the value survives into what the host keeps.
        for window in value.windows(4) {
            assert!(!sealed.windows(4).any(|w| w == window), "{window:?} leaked");
        }
        assert!(!sealed.windows(ID.len()).any(|w| w == ID));
        // Two seals of one value differ (random nonces), so equal sessions are unlinkable.
        assert_ne!(seal(&ID, &value).unwrap(), sealed);
    }

    #[test]
    fn any_tampering_is_refused() {
        let sealed = seal(&ID, b"session").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(open(&ID, &bad), None, "byte {i} flipped");
        }
        assert_eq!(open(&ID, &sealed[..sealed.len() - 1]), None, "truncated");
        assert_eq!(open(&ID, &[]), None, "empty");
        assert_eq!(open(&ID, &[0; NONCE_LEN + TAG_LEN - 1]), None, "too short");
    }

    #[test]
    fn the_filing_key_is_not_the_id() {
        let key = filing_key(&ID);
        assert_eq!(key.len(), 32);
        assert_ne!(key, ID.to_vec());
        assert_ne!(filing_key(&[8; 32]), key);
    }
}
