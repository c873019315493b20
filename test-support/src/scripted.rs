//! A scripted in-memory transport for tests: each callback follows a script (accept n
//! bytes, would-block, broken pipe, other error, EOF), and every call is recorded with the
//! length the guest asked for.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tlsbox::{IoError, Transport};

/// What one callback call does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Move up to this many bytes (limited by the request and, for recv, by what is
    /// available; an empty inbound buffer makes the recv would-block).
    Allow(usize),
    /// Move everything possible.
    All,
    /// Return would-block.
    WouldBlock,
    /// Return broken-pipe.
    BrokenPipe,
    /// Return another error.
    Other(String),
    /// Return end of stream.
    Eof,
    /// Misbehave: claim this many bytes regardless of what was offered (send) or return
    /// this many bytes regardless of `max` (recv).
    Lie(usize),
}

/// Which callback a [`Call`] was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The guest sent.
    Send,
    /// The guest received.
    Recv,
}

/// One recorded callback call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Send or recv.
    pub direction: Direction,
    /// Bytes offered (send) or `max` requested (recv).
    pub requested: usize,
    /// Bytes moved, or the error returned.
    pub outcome: Result<usize, IoError>,
}

#[derive(Default)]
struct State {
    send_script: VecDeque<Step>,
    recv_script: VecDeque<Step>,
    outbound: Vec<u8>,
    inbound: VecDeque<u8>,
    calls: Vec<Call>,
}

/// The transport half handed to a connection. Clone it to keep a handle for the test.
#[derive(Clone, Default)]
pub struct ScriptedTransport {
    state: Arc<Mutex<State>>,
}

impl ScriptedTransport {
    /// A transport that moves everything until scripted otherwise.
    pub fn new() -> Self {
        ScriptedTransport::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends steps for the send callback; once they run out, sends take everything.
    pub fn script_send(&self, steps: impl IntoIterator<Item = Step>) {
        self.state().send_script.extend(steps);
    }

    /// Appends steps for the recv callback; once they run out, recvs deliver what is there.
    pub fn script_recv(&self, steps: impl IntoIterator<Item = Step>) {
        self.state().recv_script.extend(steps);
    }

    /// Makes bytes available to the guest's recv.
    pub fn push_inbound(&self, data: &[u8]) {
        self.state().inbound.extend(data);
    }

    /// Takes every byte the guest has sent so far.
    pub fn take_outbound(&self) -> Vec<u8> {
        std::mem::take(&mut self.state().outbound)
    }

    /// Drops every byte the guest has sent so far and says how many there were, keeping the
    /// buffer: a bench's sink, which should not time the growing of a fresh one.
    pub fn discard_outbound(&self) -> usize {
        let mut state = self.state();
        let sent = state.outbound.len();
        state.outbound.clear();
        sent
    }

    /// Bytes waiting for the guest's recv.
    pub fn inbound_len(&self) -> usize {
        self.state().inbound.len()
    }

    /// Every callback call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Forgets recorded calls.
    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }
}

impl Transport for ScriptedTransport {
    fn send(&mut self, data: &[u8]) -> Result<usize, IoError> {
        let mut state = self.state();
        let step = state.send_script.pop_front().unwrap_or(Step::All);
        let outcome = match step {
            Step::All => Ok(data.len()),
            Step::Allow(n) => Ok(n.min(data.len())),
            Step::Lie(n) => Ok(n),
            Step::WouldBlock => Err(IoError::WouldBlock),
            Step::BrokenPipe => Err(IoError::BrokenPipe),
            Step::Other(message) => Err(IoError::Other(message)),
            Step::Eof => Err(IoError::Closed),
        };
        if let Ok(n) = outcome {
            let taken = n.min(data.len());
            state.outbound.extend_from_slice(&data[..taken]);
        }
        state.calls.push(Call {
            direction: Direction::Send,
            requested: data.len(),
            outcome: outcome.clone(),
        });
        outcome
    }

    fn recv(&mut self, max: usize) -> Result<Vec<u8>, IoError> {
        let mut state = self.state();
        let step = state.recv_script.pop_front().unwrap_or(Step::All);
        let take = |state: &mut State, n: usize| -> Vec<u8> {
            let n = n.min(state.inbound.len());
            // Copied slice by slice: collecting the drained bytes one by one made this
            // transport, not the guest, much of the receive benches' time.
            let (front, back) = state.inbound.as_slices();
            let from_front = n.min(front.len());
            let mut out = Vec::with_capacity(n);
            out.extend_from_slice(&front[..from_front]);
            out.extend_from_slice(&back[..n - from_front]);
            state.inbound.drain(..n);
            out
        };
        let outcome = match step {
            Step::All => Ok(take(&mut state, max)),
            Step::Allow(n) => Ok(take(&mut state, n.min(max))),
            Step::Lie(n) => Ok(vec![0x17; n]),
            Step::WouldBlock => Err(IoError::WouldBlock),
            Step::BrokenPipe => Err(IoError::BrokenPipe),
            Step::Other(message) => Err(IoError::Other(message)),
            Step::Eof => Err(IoError::Closed),
        };
        // Nothing available reads as would-block, exactly as the guest would see it.
        let outcome = match outcome {
            Ok(data) if data.is_empty() => Err(IoError::WouldBlock),
            other => other,
        };
        state.calls.push(Call {
            direction: Direction::Recv,
            requested: max,
            outcome: outcome.as_ref().map(Vec::len).map_err(Clone::clone),
        });
        outcome
    }
}
