//! A read of the one ClientHello fact rustls keeps to itself: whether the client offered
//! 0-RTT early data. A server that does not take it must skip the client's early records
//! (RFC 8446 §4.2.10), and only then; rustls's own skipping counts each skipped record twice
//! when records are fed one at a time.

/// The early_data extension (RFC 8446 §4.2.10).
const EARLY_DATA: u16 = 42;
/// The ClientHello handshake message type.
const CLIENT_HELLO: u8 = 1;

/// Whether `hello` — the handshake bytes of a complete ClientHello message, header included —
/// carries the early_data extension. Malformed input is simply "no": rustls judges it.
pub fn offers_early_data(hello: &[u8]) -> bool {
    extension_types(hello).is_some_and(|types| types.contains(&EARLY_DATA))
}

/// How many handshake bytes make up the ClientHello that starts `hello`, once its 4-byte
/// header is there.
pub fn message_len(hello: &[u8]) -> Option<usize> {
    let header = hello.get(..4)?;
    let body = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    (header[0] == CLIENT_HELLO).then_some(4 + body)
}

fn extension_types(hello: &[u8]) -> Option<Vec<u16>> {
    let mut r = Reader(hello);
    if r.u8()? != CLIENT_HELLO {
        return None;
    }
    let len = r.u24()?;
    let body = r.take(len)?;
    let mut r = Reader(body);
    r.take(2 + 32)?; // legacy_version, random
    let session_id = usize::from(r.u8()?);
    r.take(session_id)?;
    let suites = r.u16()?;
    r.take(usize::from(suites))?;
    let compression = usize::from(r.u8()?);
    r.take(compression)?;
    let extensions = r.u16()?;
    let mut r = Reader(r.take(usize::from(extensions))?);
    let mut types = Vec::new();
    while !r.0.is_empty() {
        types.push(r.u16()?);
        let len = r.u16()?;
        r.take(usize::from(len))?;
    }
    Some(types)
}

/// Big-endian reads that fail on short input.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello with the given extension types (empty bodies).
    fn hello(extensions: &[u16]) -> Vec<u8> {
        let mut ext = Vec::new();
        for t in extensions {
            ext.extend_from_slice(&t.to_be_bytes());
            ext.extend_from_slice(&[0, 0]);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut msg = vec![CLIENT_HELLO, 0, 0, body.len() as u8];
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn finds_the_early_data_extension() {
        assert!(offers_early_data(&hello(&[0, 43, 42, 41])));
        assert!(!offers_early_data(&hello(&[0, 43, 41])));
        assert_eq!(message_len(&hello(&[42])), Some(hello(&[42]).len()));
    }

    #[test]
    fn malformed_input_is_no() {
        let full = hello(&[42]);
        for cut in 0..full.len() {
            assert!(!offers_early_data(&full[..cut]), "cut at {cut}");
        }
        assert!(!offers_early_data(&[2, 0, 0, 0]));
    }
}
