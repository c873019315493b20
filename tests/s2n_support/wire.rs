//! The in-memory transport behind both s2n connections of an [`super::S2nPair`], and the
//! C callbacks s2n calls into it.
//!
//! During the handshake every byte moves freely between client and server. Once the pair is
//! switched to scripted mode the client's callbacks follow a `Step` script and record every
//! call exactly like `tlsbox_test_support::ScriptedTransport`, so one scenario can drive both
//! implementations and compare the recorded calls.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::{c_int, c_void};

use tlsbox::IoError;
use tlsbox_test_support::scripted::{Call, Direction, Step};

/// Byte value a lying recv callback fills its invented bytes with (the same as tlsbox's
/// `ScriptedTransport`).
const LIE_BYTE: u8 = 0x17;

/// Everything the four callbacks share. Lives in a `Box<RefCell<_>>` owned by the pair,
/// whose address s2n holds as the callbacks' context.
#[derive(Default)]
pub(super) struct Wire {
    /// False during the handshake: the client's callbacks then move everything and record
    /// nothing.
    pub scripted: bool,
    /// Steps for the client's send callback; `All` once empty.
    pub send_script: VecDeque<Step>,
    /// Steps for the client's recv callback; `All` once empty.
    pub recv_script: VecDeque<Step>,
    /// Every client callback call made in scripted mode.
    pub calls: Vec<Call>,
    /// What the client's send callback accepted since the last `take_wire_out`.
    pub wire_out: Vec<u8>,
    /// What the client sent and the server has not read yet.
    pub to_server: VecDeque<u8>,
    /// What the server sent (or the test pushed) and the client has not read yet.
    pub to_client: VecDeque<u8>,
    /// The client's send callback reported EPIPE once; s2n latches this (R9) and never calls
    /// the send callback again, so the harness must remember it to name the error.
    pub send_broken: bool,
    /// Records the server's send callback took in scripted mode: the server's next write
    /// sequence number, as long as its keys have not been updated.
    pub server_records: u64,
    /// NSS key-log lines s2n reported for the server (see `server_key_log_cb`).
    pub key_log: Vec<String>,
}

/// What a recv callback delivers: bytes to copy into s2n's buffer, and the count it returns
/// (larger than the copied bytes only for `Step::Lie`).
struct Delivery {
    bytes: Vec<u8>,
    claimed: usize,
}

impl Wire {
    /// The client's send callback: `Ok(bytes accepted)` or `Err(errno)`.
    fn client_send(&mut self, data: &[u8]) -> Result<usize, c_int> {
        if !self.scripted {
            self.to_server.extend(data);
            return Ok(data.len());
        }
        let step = self.send_script.pop_front().unwrap_or(Step::All);
        let (outcome, errno) = match step {
            Step::All => (Ok(data.len()), 0),
            Step::Allow(n) => (Ok(n.min(data.len())), 0),
            Step::Lie(n) => (Ok(n), 0),
            Step::WouldBlock => (Err(IoError::WouldBlock), libc::EAGAIN),
            Step::BrokenPipe => (Err(IoError::BrokenPipe), libc::EPIPE),
            Step::Other(message) => (Err(IoError::Other(message)), libc::ECONNRESET),
            // s2n has no "closed" for writes; EPIPE is what a closed socket reports.
            Step::Eof => (Err(IoError::Closed), libc::EPIPE),
        };
        if let Ok(n) = outcome {
            let taken = &data[..n.min(data.len())];
            self.wire_out.extend_from_slice(taken);
            self.to_server.extend(taken);
        }
        if errno == libc::EPIPE {
            self.send_broken = true;
        }
        self.calls.push(Call {
            direction: Direction::Send,
            requested: data.len(),
            outcome: outcome.clone(),
        });
        outcome.map_err(|_| errno)
    }

    /// The client's recv callback. `Ok` with no bytes and a zero claim is end of stream.
    fn client_recv(&mut self, max: usize) -> Result<Delivery, c_int> {
        if !self.scripted {
            let bytes = take(&mut self.to_client, max);
            if bytes.is_empty() {
                return Err(libc::EAGAIN);
            }
            let claimed = bytes.len();
            return Ok(Delivery { bytes, claimed });
        }
        let step = self.recv_script.pop_front().unwrap_or(Step::All);
        let result = match step {
            Step::All => Ok(take(&mut self.to_client, max)),
            Step::Allow(n) => Ok(take(&mut self.to_client, n.min(max))),
            Step::Lie(n) => Ok(vec![LIE_BYTE; n]),
            Step::WouldBlock => Err((IoError::WouldBlock, libc::EAGAIN)),
            Step::BrokenPipe => Err((IoError::BrokenPipe, libc::EPIPE)),
            Step::Other(message) => Err((IoError::Other(message), libc::ECONNRESET)),
            Step::Eof => Err((IoError::Closed, 0)),
        };
        // As in tlsbox, nothing available reads as would-block (never as EOF).
        let result = match result {
            Ok(bytes) if bytes.is_empty() => Err((IoError::WouldBlock, libc::EAGAIN)),
            other => other,
        };
        self.calls.push(Call {
            direction: Direction::Recv,
            requested: max,
            outcome: result.as_ref().map(Vec::len).map_err(|(e, _)| e.clone()),
        });
        match result {
            Ok(mut bytes) => {
                let claimed = bytes.len();
                // Never write past s2n's buffer, even when lying about the count.
                bytes.truncate(max);
                Ok(Delivery { bytes, claimed })
            }
            // s2n's end of stream is a recv callback returning 0.
            Err((IoError::Closed, _)) => Ok(Delivery {
                bytes: Vec::new(),
                claimed: 0,
            }),
            Err((_, errno)) => Err(errno),
        }
    }

    /// The server's send callback: always takes everything, for the client to read.
    fn server_send(&mut self, data: &[u8]) -> Result<usize, c_int> {
        if self.scripted {
            // The server's transport takes whole flushes, so `data` holds whole records.
            self.server_records += super::record_lengths(data).len() as u64;
        }
        self.to_client.extend(data);
        Ok(data.len())
    }

    /// The server's recv callback: whatever the client sent, or would-block.
    fn server_recv(&mut self, max: usize) -> Result<Delivery, c_int> {
        let bytes = take(&mut self.to_server, max);
        if bytes.is_empty() {
            return Err(libc::EAGAIN);
        }
        let claimed = bytes.len();
        Ok(Delivery { bytes, claimed })
    }
}

fn take(queue: &mut VecDeque<u8>, max: usize) -> Vec<u8> {
    let n = max.min(queue.len());
    queue.drain(..n).collect()
}

/// Sets the calling thread's `errno`, which s2n reads after a callback returns −1.
fn set_errno(code: c_int) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe {
        *libc::__errno_location() = code;
    }
    #[cfg(target_vendor = "apple")]
    // SAFETY: __error returns a valid pointer to this thread's errno.
    unsafe {
        *libc::__error() = code;
    }
}

/// Converts a callback result into s2n's convention (count, or −1 with errno set).
fn to_c(result: Result<usize, c_int>) -> c_int {
    match result {
        Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
        Err(errno) => {
            set_errno(errno);
            -1
        }
    }
}

/// Borrows the shared transport state behind a callback context, or `None` if it is
/// already borrowed (which would mean a callback re-entered another; report EIO).
///
/// # Safety
/// `ctx` must be the address of the pair's `RefCell<Wire>`, alive for the call.
unsafe fn wire_from<'a>(ctx: *mut c_void) -> Option<std::cell::RefMut<'a, Wire>> {
    // SAFETY: guaranteed by the caller; only shared references to the RefCell are created.
    let cell = unsafe { &*(ctx as *const RefCell<Wire>) };
    cell.try_borrow_mut().ok()
}

/// Runs a send-side callback body over s2n's buffer.
///
/// # Safety
/// As [`wire_from`]; `buf` must be valid for reads of `len` bytes (s2n's contract).
unsafe fn send_with(
    ctx: *mut c_void,
    buf: *const u8,
    len: u32,
    body: fn(&mut Wire, &[u8]) -> Result<usize, c_int>,
) -> c_int {
    // SAFETY: forwarded from the caller.
    let Some(mut wire) = (unsafe { wire_from(ctx) }) else {
        return to_c(Err(libc::EIO));
    };
    let data: &[u8] = if len == 0 {
        &[]
    } else {
        // SAFETY: s2n passes `len` initialised bytes of its output buffer at `buf`.
        unsafe { std::slice::from_raw_parts(buf, len as usize) }
    };
    to_c(body(&mut wire, data))
}

/// Runs a recv-side callback body and copies what it delivers into s2n's buffer.
///
/// # Safety
/// As [`wire_from`]; `buf` must be valid for writes of `len` bytes (s2n's contract).
unsafe fn recv_with(
    ctx: *mut c_void,
    buf: *mut u8,
    len: u32,
    body: fn(&mut Wire, usize) -> Result<Delivery, c_int>,
) -> c_int {
    // SAFETY: forwarded from the caller.
    let Some(mut wire) = (unsafe { wire_from(ctx) }) else {
        return to_c(Err(libc::EIO));
    };
    match body(&mut wire, len as usize) {
        Ok(delivery) => {
            let n = delivery.bytes.len().min(len as usize);
            // SAFETY: `buf` has room for `len` bytes and `n <= len`; the Vec does not
            // overlap s2n's buffer. Copying (rather than making a slice) avoids reading
            // s2n's possibly uninitialised memory.
            unsafe { std::ptr::copy_nonoverlapping(delivery.bytes.as_ptr(), buf, n) };
            to_c(Ok(delivery.claimed))
        }
        Err(errno) => to_c(Err(errno)),
    }
}

/// s2n send callback of the client connection.
pub(super) unsafe extern "C" fn client_send_cb(
    ctx: *mut c_void,
    buf: *const u8,
    len: u32,
) -> c_int {
    // SAFETY: the pair registers this callback with its Wire as context and s2n passes a
    // readable buffer of `len` bytes.
    unsafe { send_with(ctx, buf, len, Wire::client_send) }
}

/// s2n recv callback of the client connection.
pub(super) unsafe extern "C" fn client_recv_cb(ctx: *mut c_void, buf: *mut u8, len: u32) -> c_int {
    // SAFETY: the pair registers this callback with its Wire as context and s2n passes a
    // writable buffer of `len` bytes.
    unsafe { recv_with(ctx, buf, len, Wire::client_recv) }
}

/// s2n send callback of the server connection.
pub(super) unsafe extern "C" fn server_send_cb(
    ctx: *mut c_void,
    buf: *const u8,
    len: u32,
) -> c_int {
    // SAFETY: as for client_send_cb.
    unsafe { send_with(ctx, buf, len, Wire::server_send) }
}

/// s2n recv callback of the server connection.
pub(super) unsafe extern "C" fn server_recv_cb(ctx: *mut c_void, buf: *mut u8, len: u32) -> c_int {
    // SAFETY: as for client_recv_cb.
    unsafe { recv_with(ctx, buf, len, Wire::server_recv) }
}

/// s2n key-log callback of the server config: stores each NSS key-log line, so the tests
/// can build records under the server's keys (e.g. a fatal alert s2n itself never sends).
pub(super) unsafe extern "C" fn server_key_log_cb(
    ctx: *mut c_void,
    _conn: *mut s2n_tls_sys::s2n_connection,
    line: *mut u8,
    len: usize,
) -> c_int {
    // SAFETY: the pair registers this callback with its Wire as context; key logging runs
    // inside s2n_negotiate, never inside another callback, so the cell is free.
    let Some(mut wire) = (unsafe { wire_from(ctx) }) else {
        return -1;
    };
    // SAFETY: s2n passes `len` initialised bytes at `line`, valid for the call.
    let bytes = unsafe { std::slice::from_raw_parts(line, len) };
    wire.key_log
        .push(String::from_utf8_lossy(bytes).trim().to_owned());
    0
}
