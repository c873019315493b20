//! Record protection: AES-GCM and ChaCha20-Poly1305 for TLS 1.3 and TLS 1.2.
//!
//! This is the bulk-data hot path. Outbound plaintext is copied once, into the record buffer
//! (`PrefixedPayload`), and sealed there; inbound records are opened where they lie
//! (`InboundOpaqueMessage`). Tags are detached, so nothing else is copied or reallocated.

use super::chacha::ChaCha20Poly1305;
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{self, AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape, MessageDecrypter,
    MessageEncrypter, NONCE_LEN, Nonce, OutboundOpaqueMessage, OutboundPlainMessage,
    PrefixedPayload, Tls12AeadAlgorithm, Tls13AeadAlgorithm, UnsupportedOperationError,
    make_tls12_aad, make_tls13_aad,
};
use rustls::{ConnectionTrafficSecrets, ContentType, Error, ProtocolVersion};

/// Authentication tag length of all three AEADs.
const TAG_LEN: usize = 16;
/// Largest plaintext fragment TLS allows (2^14); rustls does not export its constant.
const MAX_FRAGMENT_LEN: usize = 16_384;
/// Most a TLS 1.3 record's protection may add to the fragment (RFC 8446 section 5.2).
const TLS13_MAX_EXPANSION: usize = 256;
/// TLS 1.2 AES-GCM: the nonce is a 4-byte implicit salt and an 8-byte explicit part sent on
/// the wire in front of each record (RFC 5288).
const GCM_SALT_LEN: usize = 4;
const GCM_EXPLICIT_NONCE_LEN: usize = 8;

/// An AEAD usable for TLS records: 96-bit nonce, 128-bit tag, in-place detached operation.
pub(crate) trait RecordAead:
    AeadInOut<NonceSize = U12, TagSize = U16> + KeyInit + Send + Sync + 'static
{
}
impl<T> RecordAead for T where
    T: AeadInOut<NonceSize = U12, TagSize = U16> + KeyInit + Send + Sync + 'static
{
}

/// Which AEAD a suite uses; everything length- or variant-dependent is decided from this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

impl Algorithm {
    fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm => 16,
            Self::Aes256Gcm | Self::ChaCha20Poly1305 => 32,
        }
    }

    /// The secrets in the variant matching this algorithm (never one fixed AES variant).
    fn traffic_secrets(self, key: AeadKey, iv: Iv) -> ConnectionTrafficSecrets {
        match self {
            Self::Aes128Gcm => ConnectionTrafficSecrets::Aes128Gcm { key, iv },
            Self::Aes256Gcm => ConnectionTrafficSecrets::Aes256Gcm { key, iv },
            Self::ChaCha20Poly1305 => ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv },
        }
    }
}

/// Seals `buf` in place and returns the detached tag.
fn seal<C: RecordAead>(
    cipher: &C,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<aead::Tag<C>, Error> {
    cipher
        .encrypt_inout_detached(&nonce.into(), aad, buf.into())
        .map_err(|_| Error::EncryptError)
}

/// Opens `buf` in place against the detached `tag`; a short or wrong tag is a decrypt error.
fn open<C: RecordAead>(
    cipher: &C,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), Error> {
    let tag = aead::Tag::<C>::try_from(tag).map_err(|_| Error::DecryptError)?;
    cipher
        .decrypt_inout_detached(&nonce.into(), aad, buf.into(), &tag)
        .map_err(|_| Error::DecryptError)
}

/// Builds the cipher for `key`. rustls always passes `key_len()` bytes; if it ever did not, the
/// record layer fails with an error instead of a panic.
fn cipher<C: RecordAead>(key: &AeadKey) -> Option<C> {
    C::new_from_slice(key.as_ref()).ok()
}

/// Copies a slice of exactly `N` bytes, or fails.
fn exact<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

/// TLS 1.2 AES-GCM starting nonce: implicit salt followed by the explicit part from the key
/// block. Sequence numbers are XORed into it, as for TLS 1.3, so explicit nonces never repeat.
fn gcm_iv(salt: &[u8], explicit: &[u8]) -> Option<Iv> {
    let salt = exact::<GCM_SALT_LEN>(salt)?;
    let explicit = exact::<GCM_EXPLICIT_NONCE_LEN>(explicit)?;
    let mut iv = [0u8; NONCE_LEN];
    iv[..GCM_SALT_LEN].copy_from_slice(&salt);
    iv[GCM_SALT_LEN..].copy_from_slice(&explicit);
    Some(Iv::new(iv))
}

/// Seals `records` TLS 1.3 records of `record_len` plaintext bytes with `suite`'s AEAD under
/// a fixed throwaway key, as [`Tls13Encrypter`] does (inner content type, header AAD,
/// per-record nonce, detached tag); returns the ciphertext bytes produced, or `None` for a
/// suite that is not TLS 1.3. The raw AEAD rate, for benchmarks.
pub fn seal_records(suite: rustls::CipherSuite, record_len: usize, records: u32) -> Option<u64> {
    fn run<C: RecordAead>(record_len: usize, records: u32) -> Option<u64> {
        let cipher = C::new_from_slice(&[0x42; 32][..C::key_size()]).ok()?;
        let iv = Iv::new([0x24; NONCE_LEN]);
        let mut buf = vec![0x5a; record_len + 1];
        let total = buf.len() + TAG_LEN;
        let aad = make_tls13_aad(total);
        let mut out = 0u64;
        for seq in 0..u64::from(records) {
            buf[record_len] = ContentType::ApplicationData.into();
            let tag = seal(&cipher, Nonce::new(&iv, seq).0, &aad, &mut buf).ok()?;
            out += (buf.len() + tag.len()) as u64;
        }
        Some(out)
    }
    use rustls::CipherSuite as Id;
    match suite {
        Id::TLS13_CHACHA20_POLY1305_SHA256 => run::<ChaCha20Poly1305>(record_len, records),
        Id::TLS13_AES_128_GCM_SHA256 => run::<Aes128Gcm>(record_len, records),
        Id::TLS13_AES_256_GCM_SHA384 => run::<Aes256Gcm>(record_len, records),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// TLS 1.3

/// A TLS 1.3 AEAD (RFC 8446 section 5.2) for one of the three supported ciphers.
pub struct Tls13Aead(Algorithm);

/// TLS 1.3 AES-128-GCM.
pub static TLS13_AES_128_GCM: Tls13Aead = Tls13Aead(Algorithm::Aes128Gcm);
/// TLS 1.3 AES-256-GCM.
pub static TLS13_AES_256_GCM: Tls13Aead = Tls13Aead(Algorithm::Aes256Gcm);
/// TLS 1.3 ChaCha20-Poly1305.
pub static TLS13_CHACHA20_POLY1305: Tls13Aead = Tls13Aead(Algorithm::ChaCha20Poly1305);

impl Tls13AeadAlgorithm for Tls13Aead {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        fn make<C: RecordAead>(key: &AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
            match cipher::<C>(key) {
                Some(cipher) => Box::new(Tls13Encrypter { cipher, iv }),
                None => Box::new(Unusable),
            }
        }
        match self.0 {
            Algorithm::Aes128Gcm => make::<Aes128Gcm>(&key, iv),
            Algorithm::Aes256Gcm => make::<Aes256Gcm>(&key, iv),
            Algorithm::ChaCha20Poly1305 => make::<ChaCha20Poly1305>(&key, iv),
        }
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        fn make<C: RecordAead>(key: &AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
            match cipher::<C>(key) {
                Some(cipher) => Box::new(Tls13Decrypter { cipher, iv }),
                None => Box::new(Unusable),
            }
        }
        match self.0 {
            Algorithm::Aes128Gcm => make::<Aes128Gcm>(&key, iv),
            Algorithm::Aes256Gcm => make::<Aes256Gcm>(&key, iv),
            Algorithm::ChaCha20Poly1305 => make::<ChaCha20Poly1305>(&key, iv),
        }
    }

    fn key_len(&self) -> usize {
        self.0.key_len()
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(self.0.traffic_secrets(key, iv))
    }
}

struct Tls13Encrypter<C> {
    cipher: C,
    iv: Iv,
}

impl<C: RecordAead> MessageEncrypter for Tls13Encrypter<C> {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total_len);
        // TLSInnerPlaintext: content, then the real content type; no padding.
        payload.extend_from_chunks(&msg.payload);
        payload.extend_from_slice(&[u8::from(msg.typ)]);

        let nonce = Nonce::new(&self.iv, seq).0;
        let aad = make_tls13_aad(total_len);
        let tag = seal(&self.cipher, nonce, &aad, payload.as_mut())?;
        payload.extend_from_slice(&tag);

        // Every TLS 1.3 protected record is application_data with legacy version 1.2.
        Ok(OutboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            payload,
        ))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG_LEN
    }
}

struct Tls13Decrypter<C> {
    cipher: C,
    iv: Iv,
}

impl<C: RecordAead> MessageDecrypter for Tls13Decrypter<C> {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let payload = &mut msg.payload;
        let total_len = payload.len();
        // RFC 8446 section 5.2: longer ciphertext is record_overflow, decided before any
        // decryption is attempted.
        if total_len > MAX_FRAGMENT_LEN + TLS13_MAX_EXPANSION {
            return Err(Error::PeerSentOversizedRecord);
        }
        let body_len = total_len.checked_sub(TAG_LEN).ok_or(Error::DecryptError)?;

        let nonce = Nonce::new(&self.iv, seq).0;
        let aad = make_tls13_aad(total_len);
        let (body, tag) = payload.split_at_mut(body_len);
        open(&self.cipher, nonce, &aad, body, tag)?;
        payload.truncate(body_len);

        // Strips padding, recovers the inner content type and enforces the size limits.
        msg.into_tls13_unpadded_message()
    }
}

// ---------------------------------------------------------------------------------------------
// TLS 1.2

/// A TLS 1.2 AEAD: AES-GCM per RFC 5288 or ChaCha20-Poly1305 per RFC 7905.
pub struct Tls12Aead(Algorithm);

/// TLS 1.2 AES-128-GCM.
pub static TLS12_AES_128_GCM: Tls12Aead = Tls12Aead(Algorithm::Aes128Gcm);
/// TLS 1.2 AES-256-GCM.
pub static TLS12_AES_256_GCM: Tls12Aead = Tls12Aead(Algorithm::Aes256Gcm);
/// TLS 1.2 ChaCha20-Poly1305.
pub static TLS12_CHACHA20_POLY1305: Tls12Aead = Tls12Aead(Algorithm::ChaCha20Poly1305);

impl Tls12AeadAlgorithm for Tls12Aead {
    fn encrypter(&self, key: AeadKey, iv: &[u8], extra: &[u8]) -> Box<dyn MessageEncrypter> {
        fn gcm<C: RecordAead>(key: &AeadKey, iv: &[u8], extra: &[u8]) -> Box<dyn MessageEncrypter> {
            match (cipher::<C>(key), gcm_iv(iv, extra)) {
                (Some(cipher), Some(iv)) => Box::new(GcmEncrypter { cipher, iv }),
                _ => Box::new(Unusable),
            }
        }
        match self.0 {
            Algorithm::Aes128Gcm => gcm::<Aes128Gcm>(&key, iv, extra),
            Algorithm::Aes256Gcm => gcm::<Aes256Gcm>(&key, iv, extra),
            Algorithm::ChaCha20Poly1305 => {
                match (cipher::<ChaCha20Poly1305>(&key), exact::<NONCE_LEN>(iv)) {
                    (Some(cipher), Some(iv)) => Box::new(ChaChaEncrypter {
                        cipher,
                        iv: Iv::new(iv),
                    }),
                    _ => Box::new(Unusable),
                }
            }
        }
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        fn gcm<C: RecordAead>(key: &AeadKey, salt: &[u8]) -> Box<dyn MessageDecrypter> {
            match (cipher::<C>(key), exact::<GCM_SALT_LEN>(salt)) {
                (Some(cipher), Some(salt)) => Box::new(GcmDecrypter { cipher, salt }),
                _ => Box::new(Unusable),
            }
        }
        match self.0 {
            Algorithm::Aes128Gcm => gcm::<Aes128Gcm>(&key, iv),
            Algorithm::Aes256Gcm => gcm::<Aes256Gcm>(&key, iv),
            Algorithm::ChaCha20Poly1305 => {
                match (cipher::<ChaCha20Poly1305>(&key), exact::<NONCE_LEN>(iv)) {
                    (Some(cipher), Some(iv)) => Box::new(ChaChaDecrypter {
                        cipher,
                        iv: Iv::new(iv),
                    }),
                    _ => Box::new(Unusable),
                }
            }
        }
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        match self.0 {
            Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => KeyBlockShape {
                enc_key_len: self.0.key_len(),
                fixed_iv_len: GCM_SALT_LEN,
                explicit_nonce_len: GCM_EXPLICIT_NONCE_LEN,
            },
            Algorithm::ChaCha20Poly1305 => KeyBlockShape {
                enc_key_len: self.0.key_len(),
                fixed_iv_len: NONCE_LEN,
                explicit_nonce_len: 0,
            },
        }
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        let iv = match self.0 {
            Algorithm::Aes128Gcm | Algorithm::Aes256Gcm => gcm_iv(iv, explicit),
            Algorithm::ChaCha20Poly1305 => exact::<NONCE_LEN>(iv).map(Iv::new),
        }
        .ok_or(UnsupportedOperationError)?;
        Ok(self.0.traffic_secrets(key, iv))
    }
}

/// TLS 1.2 AES-GCM sealing: `explicit_nonce || ciphertext || tag`.
struct GcmEncrypter<C> {
    cipher: C,
    iv: Iv,
}

impl<C: RecordAead> MessageEncrypter for GcmEncrypter<C> {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total_len);

        let nonce = Nonce::new(&self.iv, seq).0;
        let aad = make_tls12_aad(seq, msg.typ, msg.version, msg.payload.len());
        payload.extend_from_slice(&nonce[GCM_SALT_LEN..]);
        payload.extend_from_chunks(&msg.payload);

        let body = payload
            .as_mut()
            .get_mut(GCM_EXPLICIT_NONCE_LEN..)
            .ok_or(Error::EncryptError)?;
        let tag = seal(&self.cipher, nonce, &aad, body)?;
        payload.extend_from_slice(&tag);

        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        GCM_EXPLICIT_NONCE_LEN + payload_len + TAG_LEN
    }
}

/// TLS 1.2 AES-GCM opening; the plaintext is returned where it lies, after the explicit nonce.
struct GcmDecrypter<C> {
    cipher: C,
    salt: [u8; GCM_SALT_LEN],
}

impl<C: RecordAead> MessageDecrypter for GcmDecrypter<C> {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let total_len = msg.payload.len();
        let plain_len = total_len
            .checked_sub(GCM_EXPLICIT_NONCE_LEN + TAG_LEN)
            .ok_or(Error::DecryptError)?;
        // RFC 5246 section 6.2.3: a record that would open to more than 2^14 bytes is
        // record_overflow, decided before any decryption is attempted.
        if plain_len > MAX_FRAGMENT_LEN {
            return Err(Error::PeerSentOversizedRecord);
        }

        let aad = make_tls12_aad(seq, msg.typ, msg.version, plain_len);
        let (explicit, rest) = msg.payload.split_at_mut(GCM_EXPLICIT_NONCE_LEN);
        let (body, tag) = rest.split_at_mut(plain_len);
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..GCM_SALT_LEN].copy_from_slice(&self.salt);
        nonce[GCM_SALT_LEN..].copy_from_slice(explicit);
        open(&self.cipher, nonce, &aad, body, tag)?;

        // In range: plain_len + 24 == total_len was established above.
        Ok(
            msg.into_plain_message_range(
                GCM_EXPLICIT_NONCE_LEN..GCM_EXPLICIT_NONCE_LEN + plain_len,
            ),
        )
    }
}

/// TLS 1.2 ChaCha20-Poly1305 sealing (RFC 7905): `ciphertext || tag`, nonce = IV XOR seq.
struct ChaChaEncrypter {
    cipher: ChaCha20Poly1305,
    iv: Iv,
}

impl MessageEncrypter for ChaChaEncrypter {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total_len);

        let nonce = Nonce::new(&self.iv, seq).0;
        let aad = make_tls12_aad(seq, msg.typ, msg.version, msg.payload.len());
        payload.extend_from_chunks(&msg.payload);
        let tag = seal(&self.cipher, nonce, &aad, payload.as_mut())?;
        payload.extend_from_slice(&tag);

        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + TAG_LEN
    }
}

/// TLS 1.2 ChaCha20-Poly1305 opening.
struct ChaChaDecrypter {
    cipher: ChaCha20Poly1305,
    iv: Iv,
}

impl MessageDecrypter for ChaChaDecrypter {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let payload = &mut msg.payload;
        let plain_len = payload
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(Error::DecryptError)?;
        // As for AES-GCM: oversized is decided before decrypting.
        if plain_len > MAX_FRAGMENT_LEN {
            return Err(Error::PeerSentOversizedRecord);
        }

        let nonce = Nonce::new(&self.iv, seq).0;
        let aad = make_tls12_aad(seq, msg.typ, msg.version, plain_len);
        let (body, tag) = payload.split_at_mut(plain_len);
        open(&self.cipher, nonce, &aad, body, tag)?;

        payload.truncate(plain_len);
        Ok(msg.into_plain_message())
    }
}

/// Stands in for a cipher whose key material was malformed: every record fails cleanly.
struct Unusable;

impl MessageEncrypter for Unusable {
    fn encrypt(
        &mut self,
        _: OutboundPlainMessage<'_>,
        _: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        Err(Error::EncryptError)
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG_LEN
    }
}

impl MessageDecrypter for Unusable {
    fn decrypt<'a>(
        &mut self,
        _: InboundOpaqueMessage<'a>,
        _: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        Err(Error::DecryptError)
    }
}

#[cfg(test)]
pub(crate) mod kat {
    //! Hooks for the known-answer tests: the exact seal/open path the record layer uses.
    use super::*;

    /// Seals `buf` in place with `C`; returns the tag.
    pub(crate) fn seal_with<C: RecordAead>(
        key: &[u8],
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<Vec<u8>, Error> {
        let cipher = C::new_from_slice(key).map_err(|_| Error::EncryptError)?;
        Ok(seal(&cipher, nonce, aad, buf)?.to_vec())
    }

    /// Opens `buf` in place with `C` against `tag`.
    pub(crate) fn open_with<C: RecordAead>(
        key: &[u8],
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        let cipher = C::new_from_slice(key).map_err(|_| Error::DecryptError)?;
        open(&cipher, nonce, aad, buf, tag)
    }
}
