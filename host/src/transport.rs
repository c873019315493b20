//! Transports: what the guest's imported `socket` resource is made of on the host.
//!
//! A [`Transport`] moves raw ciphertext. The guest calls it synchronously from inside a
//! connection call, so an implementation must never call back into the connection.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use crate::bindings::IoError;

/// A byte stream the guest sends and receives ciphertext through.
pub trait Transport: Send {
    /// Takes a prefix of `data`; returns its length (0 counts as would-block).
    fn send(&mut self, data: &[u8]) -> Result<usize, IoError>;
    /// Returns at most `max` bytes (an empty result counts as would-block; EOF is
    /// [`IoError::Closed`]).
    fn recv(&mut self, max: usize) -> Result<Vec<u8>, IoError>;
}

/// The value behind the guest's `socket` handle.
pub struct SocketSlot(pub(crate) Box<dyn Transport>);

/// A TCP stream, blocking or non-blocking as the stream is set. A read timeout
/// (`set_read_timeout`) surfaces as would-block, which lets one thread poll both ways.
pub struct TcpTransport {
    stream: TcpStream,
}

impl TcpTransport {
    /// Wraps a connected stream; its blocking mode and timeouts are kept.
    pub fn new(stream: TcpStream) -> Self {
        TcpTransport { stream }
    }
}

impl Transport for TcpTransport {
    fn send(&mut self, data: &[u8]) -> Result<usize, IoError> {
        loop {
            match self.stream.write(data) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            }
        }
    }

    fn recv(&mut self, max: usize) -> Result<Vec<u8>, IoError> {
        let mut buf = vec![0; max];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(IoError::Closed),
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(buf);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            }
        }
    }
}

/// Maps an OS error to the transport vocabulary (EINTR is retried by the callers, R3).
pub fn io_error(e: io::Error) -> IoError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => IoError::WouldBlock,
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted => IoError::BrokenPipe,
        _ => IoError::Other(e.to_string()),
    }
}
