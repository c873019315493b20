//! What the engine checks in a protected record's plaintext before rustls parses it: the
//! cases where RFC 8446 names a different alert from the one rustls would send.
//!
//! - A Handshake or Alert record with no content is `unexpected_message` (§5.1: such
//!   fragments must not be sent; §5.4 treats content without a type the same way); rustls
//!   calls it `decode_error`.
//! - A Finished message whose length is not the suite's hash length is malformed,
//!   `decode_error` (§4.4.4, §6.2); rustls compares it as a MAC and sends `decrypt_error`.
//!
//! The check follows handshake message framing across records, so it needs the messages'
//! headers only and never copies a body.

use rustls::{ContentType, Error, InvalidMessage, PeerMisbehaved};

/// The Finished handshake message type.
const FINISHED: u8 = 20;
/// Length of a handshake message header: type and 24-bit length.
const HEADER_LEN: usize = 4;

/// Handshake framing of one read protection's records.
#[derive(Debug)]
pub struct PlaintextCheck {
    /// The length a Finished message must have under these keys.
    finished_len: usize,
    /// The header of the next message, as far as it has arrived.
    header: [u8; HEADER_LEN],
    header_have: usize,
    /// Body bytes of the current message still to come.
    body_left: usize,
}

impl PlaintextCheck {
    /// Framing from the first record of a new read protection; `finished_len` is the hash
    /// length in TLS 1.3 and 12 (the verify_data length) in TLS 1.2.
    pub fn new(finished_len: usize) -> Self {
        PlaintextCheck {
            finished_len,
            header: [0; HEADER_LEN],
            header_have: 0,
            body_left: 0,
        }
    }

    /// Checks one record's plaintext; the error is one rustls turns into the right alert,
    /// or (for empty content) one the engine does.
    pub fn check(&mut self, typ: ContentType, payload: &[u8]) -> Result<(), Error> {
        match typ {
            ContentType::Handshake | ContentType::Alert if payload.is_empty() => Err(
                Error::PeerMisbehaved(PeerMisbehaved::IllegalTlsInnerPlaintext),
            ),
            ContentType::Handshake => self.frame(payload),
            _ => Ok(()),
        }
    }

    /// Walks the message headers in `payload`, continuing the framing of earlier records.
    fn frame(&mut self, mut payload: &[u8]) -> Result<(), Error> {
        while !payload.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(payload.len());
                self.body_left -= n;
                payload = &payload[n..];
                continue;
            }
            let n = (HEADER_LEN - self.header_have).min(payload.len());
            self.header[self.header_have..self.header_have + n].copy_from_slice(&payload[..n]);
            self.header_have += n;
            payload = &payload[n..];
            if self.header_have < HEADER_LEN {
                break;
            }
            self.header_have = 0;
            let [typ, a, b, c] = self.header;
            self.body_left = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            if typ == FINISHED && self.body_left != self.finished_len {
                return Err(Error::InvalidMessage(
                    if self.body_left < self.finished_len {
                        InvalidMessage::MessageTooShort
                    } else {
                        InvalidMessage::TrailingData("Finished")
                    },
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(len: usize) -> Vec<u8> {
        let mut msg = vec![FINISHED, 0, 0, len as u8];
        msg.extend(std::iter::repeat_n(0xab, len));
        msg
    }

    fn check(records: &[&[u8]]) -> Result<(), Error> {
        let mut c = PlaintextCheck::new(32);
        records
            .iter()
            .try_for_each(|r| c.check(ContentType::Handshake, r))
    }

    #[test]
    fn finished_of_the_hash_length_passes_however_it_is_split() {
        let mut flight = vec![8, 0, 0, 2, 0, 0]; // EncryptedExtensions, empty
        flight.extend(finished(32));
        for cut in 1..flight.len() {
            let (a, b) = flight.split_at(cut);
            assert_eq!(check(&[a, b]), Ok(()), "cut at {cut}");
        }
    }

    #[test]
    fn finished_of_another_length_is_malformed_wherever_its_header_ends() {
        for len in [0, 12, 31, 33, 48] {
            let mut flight = vec![8, 0, 0, 2, 0, 0];
            flight.extend(finished(len));
            for cut in 1..flight.len() {
                let (a, b) = flight.split_at(cut);
                assert!(
                    matches!(check(&[a, b]), Err(Error::InvalidMessage(_))),
                    "length {len}, cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn a_body_that_looks_like_finished_is_not_a_header() {
        // A certificate body full of 20s: only headers are judged.
        let mut msg = vec![11, 0, 0, 40];
        msg.extend([FINISHED; 40]);
        assert_eq!(check(&[&msg]), Ok(()));
    }

    #[test]
    fn empty_handshake_and_alert_records_are_unexpected() {
        let mut c = PlaintextCheck::new(32);
        for typ in [ContentType::Handshake, ContentType::Alert] {
            assert_eq!(
                c.check(typ, &[]),
                Err(Error::PeerMisbehaved(
                    PeerMisbehaved::IllegalTlsInnerPlaintext
                ))
            );
        }
        assert_eq!(c.check(ContentType::ApplicationData, &[]), Ok(()));
    }
}
