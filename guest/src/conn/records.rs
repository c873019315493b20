//! Reading records off the transport the way s2n does: exactly the 5-byte header, then
//! exactly the rest of the record (R7). Partial records persist across calls (R47).

use crate::io::{Socket, Wire};
use crate::types::{Error, ErrorKind};

/// Record header length.
pub const HEADER_LEN: usize = 5;
/// The largest record body any TLS version allows on the wire (2^14 + 2048).
const MAX_BODY_LEN: usize = 16384 + 2048;

/// A record being assembled from transport reads.
#[derive(Default)]
pub struct RecordReader {
    buf: Vec<u8>,
}

impl RecordReader {
    /// Whether part of a record has been read but not yet completed.
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Reads until one whole record is buffered and returns it, header included. On a
    /// transport error the bytes read so far stay buffered for the next call.
    pub fn read<S: Socket>(&mut self, wire: &mut Wire<S>) -> Result<Vec<u8>, Error> {
        while self.buf.len() < HEADER_LEN {
            let chunk = wire.recv(HEADER_LEN - self.buf.len())?;
            self.buf.extend_from_slice(&chunk);
        }
        let total = HEADER_LEN + check_header(&self.buf[..HEADER_LEN])?;
        while self.buf.len() < total {
            let chunk = wire.recv(total - self.buf.len())?;
            self.buf.extend_from_slice(&chunk);
        }
        Ok(std::mem::take(&mut self.buf))
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
