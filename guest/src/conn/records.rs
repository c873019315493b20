//! Reading records off the transport the way s2n does (R7, R47): without receive buffering,
//! exactly the 5-byte header, then exactly the rest of the record; with it, as much as the
//! 16 KiB buffer holds, keeping what follows the current record for later calls. Partial
//! records persist across calls.

use crate::io::{Socket, Wire};
use crate::types::{Error, ErrorKind, ProtocolVersion};

/// Record header length.
pub const HEADER_LEN: usize = 5;
/// The largest plaintext fragment (2^14, RFC 8446 section 5.1, RFC 5246 section 6.2.1).
const MAX_FRAGMENT: usize = 1 << 14;
/// TLS 1.3 protection adds at most 256 bytes (RFC 8446 section 5.2).
const TLS13_MAX_CIPHERTEXT: usize = MAX_FRAGMENT + 256;
/// TLS 1.2 ciphertext may be 2048 bytes longer (RFC 5246 section 6.2.3).
const TLS12_MAX_CIPHERTEXT: usize = MAX_FRAGMENT + 2048;
/// record_overflow.
const RECORD_OVERFLOW: u8 = 22;
/// unexpected_message: an unknown record type (RFC 8446 section 5).
const UNEXPECTED_MESSAGE: u8 = 10;
/// decode_error.
const DECODE_ERROR: u8 = 50;
/// The application_data content type.
const APPLICATION_DATA: u8 = 23;

/// The longest record body accepted, checked on the header before the body is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordLimits {
    /// application_data records (protected, or early data).
    pub protected: usize,
    /// Every other content type.
    pub other: usize,
}

impl RecordLimits {
    /// The limits once `version` is known: until then every record is plaintext (2^14);
    /// in TLS 1.3 only application_data is protected; in TLS 1.2 after the handshake any
    /// record may be, and the ciphers check their exact bound before decrypting.
    pub fn for_version(version: Option<ProtocolVersion>, handshaking: bool) -> Self {
        match version {
            None => RecordLimits {
                protected: TLS13_MAX_CIPHERTEXT,
                other: MAX_FRAGMENT,
            },
            Some(ProtocolVersion::Tls13) => RecordLimits {
                protected: TLS13_MAX_CIPHERTEXT,
                other: MAX_FRAGMENT,
            },
            Some(ProtocolVersion::Tls12) => RecordLimits {
                protected: TLS12_MAX_CIPHERTEXT,
                // The TLS 1.2 Finished is protected but far below 2^14.
                other: if handshaking {
                    MAX_FRAGMENT
                } else {
                    TLS12_MAX_CIPHERTEXT
                },
            },
        }
    }

    fn body(self, content_type: u8) -> usize {
        if content_type == APPLICATION_DATA {
            self.protected
        } else {
            self.other
        }
    }
}
/// One whole record, header and body.
pub struct Record {
    header: [u8; HEADER_LEN],
    /// The body, from `body_start` on: a body read in one piece is kept as the transport
    /// delivered it instead of being copied behind its header.
    data: Vec<u8>,
    body_start: usize,
}

impl Record {
    /// The 5-byte record header.
    pub fn header(&self) -> &[u8; HEADER_LEN] {
        &self.header
    }

    /// The record's body (protected or plaintext fragment).
    pub fn body(&self) -> &[u8] {
        &self.data[self.body_start..]
    }

    /// A record held whole in `data`, header first.
    fn whole(data: Vec<u8>) -> Self {
        let mut header = [0; HEADER_LEN];
        header.copy_from_slice(&data[..HEADER_LEN]);
        Record {
            header,
            data,
            body_start: HEADER_LEN,
        }
    }
}

/// s2n's receive buffer size when buffering (it grows to fit a larger record).
const BUFFER_LEN: usize = 16384;

/// Records being assembled from transport reads.
#[derive(Default)]
pub struct RecordReader {
    buf: Vec<u8>,
    buffering: bool,
}

impl RecordReader {
    /// A reader that reads ahead (`buffering`) or exactly (`!buffering`).
    pub fn new(buffering: bool) -> Self {
        RecordReader {
            buf: Vec::new(),
            buffering,
        }
    }

    /// Whether part of a record is held (s2n's non-empty `conn->in`, R43). With receive
    /// buffering, whole records read ahead do not count: they wait in the buffer, not in
    /// the record being assembled.
    pub fn is_partial(&self) -> bool {
        if self.buf.is_empty() {
            return false;
        }
        // Any limit will do here: an oversized header is partial until it fails.
        !self.buffering
            || self
                .missing(RecordLimits::for_version(None, false))
                .map_or(true, |(missing, _)| missing > 0)
    }

    /// Ciphertext bytes held beyond the records handed out (s2n_peek_buffered).
    pub fn buffered(&self) -> usize {
        if self.buffering { self.buf.len() } else { 0 }
    }

    /// Reads until one whole record is held and returns it. On a transport error the bytes
    /// read so far stay for the next call.
    pub fn read<S: Socket>(
        &mut self,
        wire: &mut Wire<S>,
        limits: RecordLimits,
    ) -> Result<Record, Error> {
        loop {
            let (missing, record_len) = self.missing(limits)?;
            if missing == 0 {
                let rest = self.buf.split_off(record_len);
                return Ok(Record::whole(std::mem::replace(&mut self.buf, rest)));
            }
            let request = if self.buffering {
                missing.max(BUFFER_LEN.max(record_len).saturating_sub(self.buf.len()))
            } else {
                missing
            };
            let chunk = wire.recv(request)?;
            if !self.buffering && self.buf.len() == HEADER_LEN && chunk.len() == missing {
                // The usual case: the whole body in one read, kept where it landed.
                let mut header = [0; HEADER_LEN];
                header.copy_from_slice(&self.buf);
                self.buf.clear();
                return Ok(Record {
                    header,
                    data: chunk,
                    body_start: 0,
                });
            }
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Bytes still missing from the current record, and its total length once known.
    fn missing(&self, limits: RecordLimits) -> Result<(usize, usize), Error> {
        if self.buf.len() < HEADER_LEN {
            return Ok((HEADER_LEN - self.buf.len(), HEADER_LEN));
        }
        let total = HEADER_LEN + check_header(&self.buf[..HEADER_LEN], limits)?;
        Ok((total.saturating_sub(self.buf.len()), total))
    }
}

/// Validates a record header against `limits` and returns the body length.
fn check_header(header: &[u8], limits: RecordLimits) -> Result<usize, Error> {
    let content_type = header[0];
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let bad = |alert: u8, what: String| {
        Err(Error::new(ErrorKind::Protocol, "bad-message", what).with_alert(alert))
    };
    if !(20..=23).contains(&content_type) {
        return bad(
            UNEXPECTED_MESSAGE,
            format!("unknown record content type {content_type}"),
        );
    }
    if header[1] != 3 {
        return bad(
            DECODE_ERROR,
            format!(
                "not a TLS record version: {:02x} {:02x}",
                header[1], header[2]
            ),
        );
    }
    let limit = limits.body(content_type);
    if length > limit {
        return Err(Error::new(
            ErrorKind::Protocol,
            "record-too-large",
            format!("record of {length} bytes exceeds {limit}"),
        )
        .with_alert(RECORD_OVERFLOW));
    }
    Ok(length)
}
