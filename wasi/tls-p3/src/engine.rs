//! Every call into the tlsbox endpoint and its pipe: one client connection whose ciphertext
//! sits in the adapter's in-memory queues, and tlsbox's results in the connector's terms.

use crate::client_config;
use crate::tlsbox::tls::tls::Connection;
use crate::tlsbox::tls::types::{Blocked, Error, ErrorKind};
use crate::tlsbox::wasi::pipe::Pipe;

/// A failure, worded as tlsbox's errors are: `kind/name (alert N): message`.
pub struct Failure(pub String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(client_config::error_text(&e))
    }
}

/// Where a call that moves the connection forward left it.
pub enum Step {
    /// The call completed.
    Done,
    /// It needs ciphertext the pipe does not hold yet.
    Read,
    /// The pipe's outgoing queue is full: move it on, then call again.
    Write,
    /// It failed; any alert is in the pipe's outgoing queue.
    Failed(Failure),
}

impl From<Result<(), Error>> for Step {
    fn from(result: Result<(), Error>) -> Self {
        match result {
            Ok(()) => Step::Done,
            Err(e) if e.kind == ErrorKind::Blocked && e.blocked == Blocked::OnWrite => Step::Write,
            Err(e) if e.kind == ErrorKind::Blocked => Step::Read,
            Err(e) => Step::Failed(e.into()),
        }
    }
}

/// One client connection over a pipe.
pub struct Engine {
    // Field order is drop order: the connection owns the pipe's socket.
    connection: Connection,
    pipe: Pipe,
}

/// The environment variable naming a PEM bundle to trust besides the Mozilla set (the name
/// OpenSSL and most TLS stacks read).
const CA_FILE_VAR: &str = "SSL_CERT_FILE";

impl Engine {
    /// A client for `server_name` (SNI and the name the certificate must carry), trusting the
    /// adapter's Mozilla CA set and the bundle `SSL_CERT_FILE` names, if set.
    pub fn client(server_name: &str) -> Result<Engine, Failure> {
        let trust_anchors = match std::env::var(CA_FILE_VAR) {
            Ok(path) if !path.is_empty() => vec![std::fs::read(&path).map_err(|e| {
                Failure(format!("usage/bad-trust-file: {CA_FILE_VAR}={path}: {e}"))
            })?],
            _ => Vec::new(),
        };
        let config =
            client_config::config(server_name.to_owned(), trust_anchors, true, Vec::new())?;
        let pipe = Pipe::new();
        let socket = pipe.socket().expect("a new pipe's socket");
        let connection = Connection::new(&config, socket)?;
        Ok(Engine { connection, pipe })
    }

    /// One step of the handshake.
    pub fn negotiate(&self) -> Step {
        self.connection.negotiate().into()
    }

    /// Encrypts a prefix of `data` into the pipe; how many bytes were taken (0 when the pipe
    /// is full).
    pub fn send(&self, data: &[u8]) -> Result<usize, Failure> {
        match self.connection.send(data) {
            Ok(progress) => Ok(progress.bytes as usize),
            Err(e) if e.kind == ErrorKind::Blocked => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Plaintext from what the pipe holds: `Some` data, `Some` empty at close_notify, `None`
    /// when more ciphertext is needed.
    pub fn recv(&self, max: usize) -> Result<Option<Vec<u8>>, Failure> {
        match self.connection.recv(max as u32) {
            Ok(received) => Ok(Some(received.data)),
            Err(e) if e.kind == ErrorKind::Blocked => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Queues close_notify.
    pub fn shutdown_send(&self) -> Step {
        self.connection.shutdown_send().into()
    }

    /// Ciphertext the connection has written since the last call.
    pub fn take_output(&self) -> Vec<u8> {
        self.pipe.take()
    }

    /// Ciphertext from the network for the connection to read.
    pub fn push_input(&self, data: Vec<u8>) {
        self.pipe.push(&data);
    }

    /// The network's ciphertext has ended: reads past what is queued see end of stream.
    pub fn end_input(&self) {
        self.pipe.close();
    }
}
