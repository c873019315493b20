//! s2n_send and s2n_sendv_with_offset: record-granular acknowledgement and the retry
//! contract (R13-R31), with record sizes and flush points from [`super::sizing`].

use std::borrow::Cow;

use super::Connection;
use super::sizing::Limits;
use crate::io::Socket;
use crate::types::{Blocked, Error, ErrorKind, Progress};

impl<S: Socket> Connection<S> {
    /// Encrypts and sends `data` (s2n_send ≡ sendv with one buffer and offset 0, R13).
    pub fn send(&mut self, data: &[u8]) -> Result<Progress, Error> {
        self.sendv_with_offset(&[data], 0)
    }

    /// Encrypts and sends the bytes of `bufs` after the first `offset` (s2n_sendv_with_offset).
    ///
    /// `Ok` with every byte and `NotBlocked` when all went out (R18); `Ok` with fewer bytes
    /// and `OnWrite` when the transport blocked after at least one record of this call was
    /// handed over in full (R20, R21); `Err(io-blocked)` when it blocked before that. Bytes
    /// already encrypted stay queued: the retry must present them again (R23).
    pub fn sendv_with_offset(&mut self, bufs: &[&[u8]], offset: u64) -> Result<Progress, Error> {
        // Every outcome but full success reports on-write (R14).
        self.sendv_inner(bufs, offset)
            .map_err(|e| e.with_blocked(Blocked::OnWrite))
    }

    fn sendv_inner(&mut self, bufs: &[&[u8]], offset: u64) -> Result<Progress, Error> {
        if self.failed {
            return Err(self.closed_after_failure());
        }
        if self.write_closed {
            return Err(Error::closed("the connection is closed for writing"));
        }
        // A record queued by an earlier call goes out before anything else, even before
        // the arguments are checked (R16).
        self.flush_queued()?;
        let mut acknowledged = self.consumed;
        let total = total_size(bufs, offset)?;
        if self.consumed > total {
            return Err(Error::usage(
                "send-size",
                format!(
                    "the retry presents {total} bytes but {} were already encrypted",
                    self.consumed
                ),
            ));
        }
        self.sizing.start_send();
        let limits = Limits::new(self.session.version(), self.session.suite());
        let mut input = Gather::new(bufs, offset + self.consumed as u64);
        while self.consumed < total {
            if self.session.is_handshaking() {
                // Application data never goes out without traffic keys (R29).
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "encrypt",
                    "the handshake is not complete",
                ));
            }
            if self.session.wants_write() {
                // Post-handshake messages go out alone, ahead of the next record (R19,
                // R41). A block here is reported as a block even after earlier records
                // went out; their bytes are reported by the retry (R22).
                self.flush_queued()?;
                self.session.drain_outgoing(&mut self.out);
                self.flush_queued()?;
            }
            let n = self.sizing.next_payload(total - self.consumed, &limits);
            self.session.encrypt(&input.take(n), &mut self.out)?;
            self.consumed += n;
            self.sizing.record_written(n);
            let queued = self.out.len() - self.out_pos;
            if !self
                .sizing
                .should_flush(queued, total - self.consumed, &limits)
            {
                continue;
            }
            match self.flush_queued() {
                Ok(()) => acknowledged = self.consumed,
                Err(e) if e.is_blocked() && acknowledged > 0 => {
                    // Report whole flushed records only; the rest stays queued (R20, R21).
                    self.consumed -= acknowledged;
                    return Ok(Progress {
                        bytes: acknowledged,
                        blocked: Blocked::OnWrite,
                    });
                }
                // Other errors keep the count: a retry with the same data re-flushes the
                // queued records and carries on from there (R26).
                Err(e) => return Err(e),
            }
        }
        self.consumed = 0;
        Ok(Progress {
            bytes: total,
            blocked: Blocked::NotBlocked,
        })
    }
}

/// `Σ len − offset`, validated as s2n does (R17).
fn total_size(bufs: &[&[u8]], offset: u64) -> Result<usize, Error> {
    let sum = bufs
        .iter()
        .try_fold(0u64, |acc, b| acc.checked_add(b.len() as u64));
    match sum.and_then(|sum| sum.checked_sub(offset)) {
        Some(total) if total <= u64::from(u32::MAX) => Ok(total as usize),
        _ => Err(Error::usage(
            "invalid-argument",
            format!("offset {offset} is past the end of the buffers"),
        )),
    }
}

/// Reads consecutive bytes across a list of buffers.
struct Gather<'a> {
    bufs: &'a [&'a [u8]],
    index: usize,
    pos: usize,
}

impl<'a> Gather<'a> {
    /// Positioned `skip` bytes in (the caller has checked `skip` is in range).
    fn new(bufs: &'a [&'a [u8]], mut skip: u64) -> Self {
        let mut index = 0;
        while index < bufs.len() && skip >= bufs[index].len() as u64 {
            skip -= bufs[index].len() as u64;
            index += 1;
        }
        Gather {
            bufs,
            index,
            pos: skip as usize,
        }
    }

    /// The next `n` bytes: borrowed when they sit in one buffer, gathered otherwise.
    fn take(&mut self, n: usize) -> Cow<'a, [u8]> {
        self.skip_empty();
        if let Some(buf) = self.bufs.get(self.index)
            && buf.len() - self.pos >= n
        {
            let slice = &buf[self.pos..self.pos + n];
            self.pos += n;
            return Cow::Borrowed(slice);
        }
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            self.skip_empty();
            let Some(buf) = self.bufs.get(self.index) else {
                break;
            };
            let k = (n - out.len()).min(buf.len() - self.pos);
            out.extend_from_slice(&buf[self.pos..self.pos + k]);
            self.pos += k;
        }
        Cow::Owned(out)
    }

    fn skip_empty(&mut self) {
        while self.index < self.bufs.len() && self.pos >= self.bufs[self.index].len() {
            self.index += 1;
            self.pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_size_follows_t16() {
        // R17, T16: iov lengths {0,1,2,0,14,0,3,0}, Σ = 20.
        let data = [0u8; 14];
        let bufs: [&[u8]; 8] = [
            &data[..0],
            &data[..1],
            &data[..2],
            &data[..0],
            &data[..14],
            &data[..0],
            &data[..3],
            &data[..0],
        ];
        assert_eq!(total_size(&bufs, 0).unwrap(), 20);
        assert_eq!(total_size(&bufs, 10).unwrap(), 10);
        assert_eq!(total_size(&bufs, 20).unwrap(), 0);
        assert_eq!(total_size(&bufs, 21).unwrap_err().name, "invalid-argument");
        assert_eq!(total_size(&[], 1).unwrap_err().name, "invalid-argument");
        assert_eq!(total_size(&[], 0).unwrap(), 0);
    }

    #[test]
    fn gather_crosses_buffers_and_skips_empty_ones() {
        let bufs: [&[u8]; 5] = [b"ab", b"", b"cde", b"", b"f"];
        let mut g = Gather::new(&bufs, 1);
        assert_eq!(&*g.take(1), b"b");
        assert!(matches!(g.take(2), Cow::Borrowed(b"cd")));
        assert_eq!(&*g.take(2), b"ef");
        let mut g = Gather::new(&bufs, 2);
        assert_eq!(&*g.take(4), b"cdef");
    }
}
