//! `tlsbox:wasi/pipe`: sockets whose bytes sit in two queues in memory, filled and drained by
//! the pipe's owner between tlsbox calls. Nothing here waits: an empty incoming queue, or a
//! full outgoing one, is `would-block`, so a tlsbox call returns `blocked` and its caller
//! moves bytes before calling again.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use crate::Socket;
use crate::exports::tlsbox::tls::transport;
use crate::exports::tlsbox::tls::types::IoError;
use crate::exports::tlsbox::wasi::pipe::GuestPipe;

/// Outgoing bytes a pipe holds before its socket's `send` would block: a few full records,
/// so a sender is held back until the owner has moved them on.
const OUTGOING_LIMIT: usize = 64 << 10;

#[derive(Default)]
struct Queues {
    incoming: VecDeque<u8>,
    incoming_closed: bool,
    outgoing: Vec<u8>,
}

/// The owner's end of a pipe.
pub struct Pipe {
    queues: Rc<RefCell<Queues>>,
    socket_taken: Cell<bool>,
}

/// The socket's end of a pipe.
pub struct PipeEnd {
    queues: Rc<RefCell<Queues>>,
}

impl GuestPipe for Pipe {
    fn new() -> Self {
        Pipe {
            queues: Rc::default(),
            socket_taken: Cell::new(false),
        }
    }

    fn socket(&self) -> Option<transport::Socket> {
        if self.socket_taken.replace(true) {
            return None;
        }
        Some(transport::Socket::new(Socket::Pipe(PipeEnd {
            queues: self.queues.clone(),
        })))
    }

    fn push(&self, data: Vec<u8>) {
        self.queues.borrow_mut().incoming.extend(data);
    }

    fn close(&self) {
        self.queues.borrow_mut().incoming_closed = true;
    }

    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.queues.borrow_mut().outgoing)
    }
}

impl PipeEnd {
    pub(crate) fn send(&self, data: &[u8]) -> Result<u32, IoError> {
        let mut queues = self.queues.borrow_mut();
        let room = OUTGOING_LIMIT.saturating_sub(queues.outgoing.len());
        let take = data.len().min(room);
        if take == 0 && !data.is_empty() {
            return Err(IoError::WouldBlock);
        }
        queues.outgoing.extend_from_slice(&data[..take]);
        Ok(u32::try_from(take).unwrap_or(u32::MAX))
    }

    pub(crate) fn recv(&self, max: u32) -> Result<Vec<u8>, IoError> {
        let mut queues = self.queues.borrow_mut();
        if queues.incoming.is_empty() {
            return Err(if queues.incoming_closed {
                IoError::Closed
            } else {
                IoError::WouldBlock
            });
        }
        let take = queues
            .incoming
            .len()
            .min(usize::try_from(max).unwrap_or(usize::MAX));
        Ok(queues.incoming.drain(..take).collect())
    }
}
