//! The transport adapter: tlsbox's imported `transport`, `session-store` and `trust-store`
//! implemented over WASI 0.2 (`wasi:sockets` TCP streams, plain memory, and the Mozilla CA
//! set compiled in), plus `tlsbox:wasi/tcp` to open a connection and `tlsbox:wasi/pipe` for
//! sockets in memory. Composed with the endpoint (see the root build script) it makes a
//! component that imports only WASI and runs on any stock WASI host.
//!
//! TCP sockets block: `send` waits until the output stream takes bytes and `recv` until at
//! least one byte arrives. A stock WASI 0.2 host offers no way for an application on the far
//! side of the endpoint to wait for readiness, so a non-blocking socket would leave it
//! spinning; a blocking one gives the plain "call until done" flow of s2n over blocking
//! sockets. Pipe sockets never wait: their owner moves the bytes (`memory`).
// The adapter is wasm code only (as the guest's WIT glue): natively the crate is empty, so
// `cargo build --workspace` does not try to link its component exports into a host library.
#![cfg(target_arch = "wasm32")]
// The generated items carry the WIT's docs, but not on every item rustdoc counts.
#![allow(missing_docs)]

use std::cell::RefCell;
use std::collections::HashMap;

wit_bindgen::generate!({
    world: "tlsbox:wasi/transport-adapter",
    path: ["../../wit", "../wit"],
    generate_all,
});

use exports::tlsbox::tls::session_store;
use exports::tlsbox::tls::transport;
use exports::tlsbox::tls::trust_store;
use exports::tlsbox::tls::types::IoError;
use exports::tlsbox::wasi::{pipe, tcp};
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::tcp::TcpSocket;

mod memory;
mod sockets;

struct Adapter;

export!(Adapter);

/// A tlsbox transport: a connected TCP stream, or one end of an in-memory pipe.
pub enum Socket {
    Tcp(TcpStream),
    Pipe(memory::PipeEnd),
}

/// A connected TCP stream. Field order is drop order: the streams are children of the socket
/// and must go first.
pub struct TcpStream {
    input: InputStream,
    output: OutputStream,
    _tcp: TcpSocket,
}

impl transport::Guest for Adapter {
    type Socket = Socket;
}

impl transport::GuestSocket for Socket {
    fn send(&self, data: Vec<u8>) -> Result<u32, IoError> {
        match self {
            Socket::Tcp(tcp) => tcp.send(data),
            Socket::Pipe(end) => end.send(&data),
        }
    }

    fn recv(&self, max: u32) -> Result<Vec<u8>, IoError> {
        match self {
            Socket::Tcp(tcp) => tcp.recv(max),
            Socket::Pipe(end) => end.recv(max),
        }
    }
}

impl TcpStream {
    fn send(&self, data: Vec<u8>) -> Result<u32, IoError> {
        if data.is_empty() {
            return Ok(0);
        }
        let room = loop {
            match self.output.check_write() {
                Ok(0) => self.output.subscribe().block(),
                Ok(room) => break room,
                Err(e) => return Err(stream_error(e)),
            }
        };
        // A WIT list is at most u32::MAX bytes long, so `take` fits the result.
        let take = data.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        self.output.write(&data[..take]).map_err(stream_error)?;
        // Start pushing the bytes out now; the next `check_write` waits for it.
        self.output.flush().map_err(stream_error)?;
        Ok(u32::try_from(take).unwrap_or(u32::MAX))
    }

    fn recv(&self, max: u32) -> Result<Vec<u8>, IoError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.input
            .blocking_read(u64::from(max))
            .map_err(stream_error)
    }
}

/// Stream failures in the transport's vocabulary: EOF is `closed`; a failed operation (a
/// reset, an unreachable peer) keeps its description, and the stream reports `closed` after.
fn stream_error(error: StreamError) -> IoError {
    match error {
        StreamError::Closed => IoError::Closed,
        StreamError::LastOperationFailed(e) => IoError::Other(e.to_debug_string()),
    }
}

impl tcp::Guest for Adapter {
    fn connect(host: String, port: u16) -> Result<transport::Socket, String> {
        let (input, output, tcp) = sockets::connect(&host, port)?;
        Ok(transport::Socket::new(Socket::Tcp(TcpStream {
            input,
            output,
            _tcp: tcp,
        })))
    }
}

impl pipe::Guest for Adapter {
    type Pipe = memory::Pipe;
}

thread_local! {
    /// Server sessions of this composed instance: single-use entries under random tickets
    /// (see `tlsbox:tls/session-store`). Memory only; the store lives as long as the instance.
    static SESSIONS: RefCell<HashMap<Vec<u8>, Vec<u8>>> = RefCell::new(HashMap::new());
}

/// Entries the store keeps at most; `put` refuses more, so a flood of handshakes cannot grow
/// the instance without bound (a refused session only means no resumption).
const MAX_SESSIONS: usize = 4096;

impl session_store::Guest for Adapter {
    fn put(key: Vec<u8>, value: Vec<u8>) -> bool {
        SESSIONS.with_borrow_mut(|sessions| {
            if sessions.len() >= MAX_SESSIONS && !sessions.contains_key(&key) {
                return false;
            }
            sessions.insert(key, value);
            true
        })
    }

    fn get(key: Vec<u8>) -> Option<Vec<u8>> {
        SESSIONS.with_borrow(|sessions| sessions.get(&key).cloned())
    }

    fn take(key: Vec<u8>) -> Option<Vec<u8>> {
        SESSIONS.with_borrow_mut(|sessions| sessions.remove(&key))
    }
}

/// The Mozilla CA set (webpki-roots, as rustls and wasmtime-wasi-tls ship it): what a client
/// of the composition trusts when its config asks for the host's store, since a component
/// has no system store to read.
impl trust_store::Guest for Adapter {
    fn anchors_for(subjects: Vec<Vec<u8>>) -> Vec<trust_store::TrustAnchor> {
        webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .filter(|anchor| subjects.iter().any(|s| s[..] == anchor.subject[..]))
            .map(|anchor| trust_store::TrustAnchor {
                subject: anchor.subject.to_vec(),
                subject_public_key_info: anchor.subject_public_key_info.to_vec(),
                name_constraints: anchor.name_constraints.as_ref().map(|n| n.to_vec()),
            })
            .collect()
    }
}
