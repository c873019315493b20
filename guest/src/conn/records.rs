//! Reading records off the transport the way s2n does (R7, R47): without receive buffering,
//! exactly the 5-byte header, then exactly the rest of the record; with it, as much as the
//! 16 KiB buffer holds, keeping what follows the current record for later calls. Partial
//! records persist across calls.

use crate::io::{Socket, Wire};
use crate::types::{Error, ErrorKind};

/// Record header length.
pub const HEADER_LEN: usize = 5;
/// The largest record body any TLS version allows on the wire (2^14 + 2048).
const MAX_BODY_LEN: usize = 16384 + 2048;
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
        !self.buffering || self.missing().map_or(true, |(missing, _)| missing > 0)
    }

    /// Ciphertext bytes held beyond the records handed out (s2n_peek_buffered).
    pub fn buffered(&self) -> usize {
        if self.buffering { self.buf.len() } else { 0 }
    }

    /// Reads until one whole record is held and returns it, header included. On a
    /// transport error the bytes read so far stay for the next call.
    pub fn read<S: Socket>(&mut self, wire: &mut Wire<S>) -> Result<Vec<u8>, Error> {
        loop {
            let (missing, record_len) = self.missing()?;
            if missing == 0 {
                let rest = self.buf.split_off(record_len);
                return Ok(std::mem::replace(&mut self.buf, rest));
            }
            let request = if self.buffering {
                missing.max(BUFFER_LEN.max(record_len).saturating_sub(self.buf.len()))
            } else {
                missing
            };
            let chunk = wire.recv(request)?;
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// Bytes still missing from the current record, and its total length once known.
    fn missing(&self) -> Result<(usize, usize), Error> {
        if self.buf.len() < HEADER_LEN {
            return Ok((HEADER_LEN - self.buf.len(), HEADER_LEN));
        }
        let total = HEADER_LEN + check_header(&self.buf[..HEADER_LEN])?;
        Ok((total.saturating_sub(self.buf.len()), total))
    }
}

/// Validates a record header and returns the body length.
fn check_header(header: &[u8]) -> Result<usize, Error> {
    let content_type = header[0];
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if !(20..=23).contains(&content_type) || header[1] != 3 {
        return Err(Error::new(
            ErrorKind::Protocol,
            "bad-message",
            format!(
                "not a TLS record header: {:02x} {:02x} {:02x}",
                header[0], header[1], header[2]
            ),
        )
        .with_alert(10));
    }
    if length > MAX_BODY_LEN {
        return Err(Error::new(
            ErrorKind::Protocol,
            "record-too-large",
            format!("record of {length} bytes exceeds {MAX_BODY_LEN}"),
        )
        .with_alert(22));
    }
    Ok(length)
}
