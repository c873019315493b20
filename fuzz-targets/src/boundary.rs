//! The WIT boundary through wasmtime: the real component (the host's blocking API over its
//! async core) driven by arbitrary calls with arbitrary arguments (sizes past `u32`,
//! offsets past the end, many buffers, calls out of order) over a transport that blocks,
//! fails and lies, against a native rustls peer. No call may trap or panic: every failure
//! is an error value, and the connection's bytes stay the peer's.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, OnceLock};

use tlsbox::{Config, Connection, ErrorKind, IoError, Runtime, Transport};

use crate::fixture::{self, Input};

/// Operations per run, at most.
const MAX_OPS: usize = 64;

/// One runtime for the process: its engine and code cache are what every embedder shares.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(Default::default()).expect("runtime"))
}

#[derive(Default)]
struct Net {
    tape: VecDeque<u8>,
    to_peer: Vec<u8>,
    to_component: VecDeque<u8>,
}

#[derive(Clone, Default)]
struct FuzzTransport(Arc<Mutex<Net>>);

impl FuzzTransport {
    fn net(&self) -> std::sync::MutexGuard<'_, Net> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Transport for FuzzTransport {
    fn send(&mut self, data: &[u8]) -> Result<usize, IoError> {
        let mut net = self.net();
        match net.tape.pop_front().map(|d| d % 8) {
            Some(0) => Err(IoError::WouldBlock),
            Some(1) => {
                let n = data
                    .len()
                    .min(usize::from(net.tape.pop_front().unwrap_or(1)));
                net.to_peer.extend_from_slice(&data[..n]);
                Ok(n)
            }
            Some(2) => Err(IoError::Other("transient".into())),
            Some(3) => Ok(data.len() + 7), // a lie
            _ => {
                net.to_peer.extend_from_slice(data);
                Ok(data.len())
            }
        }
    }

    fn recv(&mut self, max: usize) -> Result<Vec<u8>, IoError> {
        let mut net = self.net();
        match net.tape.pop_front().map(|d| d % 8) {
            Some(0) => Err(IoError::WouldBlock),
            Some(1) => Err(IoError::Closed),
            Some(2) => Ok(vec![0; max.saturating_add(1).min(1 << 20)]), // a lie
            Some(3) => Err(IoError::Other("transient".into())),
            _ => {
                let n = max.min(net.to_component.len());
                if n == 0 {
                    return Err(IoError::WouldBlock);
                }
                Ok(net.to_component.drain(..n).collect())
            }
        }
    }
}

/// Input: a mode byte (bit 0: the component is the server), the operations' length (u16),
/// the operations, then the transport's tape.
pub fn run(data: &[u8]) {
    let mut input = Input(data);
    let mode = input.u8();
    let ops_len = usize::from(input.u16());
    let mut ops = Input(input.bytes(ops_len));
    let id = fixture::identity();
    let server = mode & 1 != 0;
    let config = if server {
        Config::server(id.cert_pem.as_bytes(), id.key_pem.as_bytes())
    } else {
        Config::client("localhost").trust(id.ca_pem.as_bytes())
    }
    .recv_multi_record(mode & 2 != 0)
    .recv_buffering(mode & 4 != 0);
    let transport = FuzzTransport::default();
    transport.net().tape = input.0.iter().copied().collect();
    let conn = Connection::new(runtime(), &config, transport.clone()).expect("connection");
    let mut peer = fixture::native_peer(server);
    let mut peer_failed = false;
    for _ in 0..MAX_OPS {
        if ops.is_empty() {
            break;
        }
        let len = usize::from(ops.u16());
        let outcome = match ops.u8() % 16 {
            0 => conn.negotiate().err(),
            1 => conn.send(&vec![0x61; len]).err(),
            2 => {
                let bufs: Vec<Vec<u8>> = (0..ops.u8() % 40).map(|i| vec![i; len % 97]).collect();
                let refs: Vec<&[u8]> = bufs.iter().map(Vec::as_slice).collect();
                let offset = u64::from(ops.u16()) * u64::from(ops.u16());
                conn.sendv_with_offset(&refs, offset).err()
            }
            // Sizes a native caller may pass: up to usize::MAX, past what WIT's u32 holds.
            3 => conn.recv(len).err(),
            4 => conn.recv(usize::MAX - len).err(),
            5 => conn.peek().err(),
            6 => conn.flush().err(),
            7 => conn.request_key_update().err(),
            8 => conn.shutdown_send().err(),
            9 => conn.shutdown().err(),
            10 => conn.send_early_data(&vec![0x62; len]).err(),
            11 => conn.recv_early_data(len).err(),
            12 => conn.reject_early_data().err(),
            13 => conn.session_info().err(),
            14 => {
                let _ = peer.writer().write_all(&vec![0x63; len % 20_000]);
                None
            }
            _ => {
                let _ = peer.refresh_traffic_keys();
                None
            }
        };
        if let Some(e) = outcome {
            assert_ne!(e.kind, ErrorKind::Internal, "{e}");
        }
        // The peer reads what the component wrote: it may get an alert, nothing worse.
        let out = std::mem::take(&mut transport.net().to_peer);
        let mut rest = &out[..];
        while !rest.is_empty() && !peer_failed {
            // Ok(0): the peer takes no more (it has seen close_notify).
            if !matches!(peer.read_tls(&mut rest), Ok(1..)) {
                break;
            }
            match peer.process_new_packets() {
                Ok(_) => {}
                Err(rustls::Error::AlertReceived(_)) => peer_failed = true,
                Err(e) => panic!("the peer failed on the component's bytes: {e}"),
            }
            let mut sink = vec![0; 1 << 16];
            while let Ok(1..) = peer.reader().read(&mut sink) {}
        }
        let mut back = Vec::new();
        while peer.wants_write() && peer.write_tls(&mut back).is_ok() {}
        transport.net().to_component.extend(back);
    }
}
