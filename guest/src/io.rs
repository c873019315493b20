//! The transport as the s2n layer sees it: the host's socket behind a checked wrapper that
//! counts wire bytes, latches a broken pipe, and turns every transport reply into either
//! bytes or an s2n-style error.

use crate::types::{Blocked, Error, ErrorKind, IoError};

/// A byte stream supplied by the host (the WIT `socket` resource, or a test double).
pub trait Socket {
    /// Offers `data`; returns how many leading bytes were taken.
    fn send(&mut self, data: &[u8]) -> Result<u32, IoError>;
    /// Reads at most `max` bytes.
    fn recv(&mut self, max: u32) -> Result<Vec<u8>, IoError>;
}

/// The socket plus the bookkeeping s2n keeps per direction.
pub struct Wire<S> {
    socket: S,
    /// Bytes the transport accepted (R11).
    pub bytes_out: u64,
    /// Bytes the transport delivered (R11).
    pub bytes_in: u64,
    /// Set by a broken-pipe reply; no send is attempted afterwards (R9).
    broken_pipe: bool,
}

impl<S: Socket> Wire<S> {
    /// Wraps `socket` with zeroed counters.
    pub fn new(socket: S) -> Self {
        Wire {
            socket,
            bytes_out: 0,
            bytes_in: 0,
            broken_pipe: false,
        }
    }

    /// Offers `data` once. `Ok(n)` with `1 <= n <= data.len()`; a reply of 0 bytes or an
    /// empty `data` is would-block (no busy loop across the boundary).
    pub fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        if self.broken_pipe {
            return Err(io_error(
                "broken-pipe",
                "the transport's write side is broken",
            ));
        }
        let offered = u32::try_from(data.len()).unwrap_or(u32::MAX);
        match self.socket.send(&data[..offered as usize]) {
            Ok(0) => Err(Error::blocked(Blocked::OnWrite)),
            Ok(n) if n > offered => Err(io_error(
                "transport-overclaim",
                format!("the transport claimed {n} bytes of {offered} offered"),
            )),
            Ok(n) => {
                self.bytes_out += u64::from(n);
                Ok(n as usize)
            }
            Err(IoError::WouldBlock) => Err(Error::blocked(Blocked::OnWrite)),
            Err(IoError::BrokenPipe) | Err(IoError::Closed) => {
                self.broken_pipe = true;
                Err(io_error(
                    "broken-pipe",
                    "the transport's write side is broken",
                ))
            }
            Err(IoError::Other(message)) => Err(io_error("io", message)),
        }
    }

    /// Reads at most `max` (> 0) bytes. An empty reply is would-block; EOF is `closed`.
    pub fn recv(&mut self, max: usize) -> Result<Vec<u8>, Error> {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        match self.socket.recv(max) {
            Ok(data) if data.is_empty() => Err(Error::blocked(Blocked::OnRead)),
            Ok(data) if data.len() > max as usize => Err(io_error(
                "transport-overclaim",
                format!(
                    "the transport returned {} bytes of {max} requested",
                    data.len()
                ),
            )),
            Ok(data) => {
                self.bytes_in += data.len() as u64;
                Ok(data)
            }
            Err(IoError::WouldBlock) => Err(Error::blocked(Blocked::OnRead)),
            Err(IoError::Closed) => Err(Error::closed("the transport reached end of stream")),
            Err(IoError::BrokenPipe) => Err(io_error("broken-pipe", "the transport is broken")),
            Err(IoError::Other(message)) => Err(io_error("io", message)),
        }
    }
}

fn io_error(name: &'static str, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Io, name, message)
}
