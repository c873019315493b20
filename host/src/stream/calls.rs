//! The guest-call slot under a [`TlsStream`]: the one instance, the call in flight, and
//! the outcomes parked for the side (reader, writer, control) that started each call.
//!
//! A guest call in flight owns the instance; whoever polls the stream next drives it to
//! its end and parks its outcome for its owner, so dropping a caller's future never drops
//! a guest call halfway.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use wasmtime::component::ResourceAny;

use super::TlsStream;
use crate::bindings::{ErrorKind, Progress, Received};
use crate::core::Instance;
use crate::error::Error;

/// A guest call: it owns the instance and hands it back with its outcome.
pub(super) type Op = Pin<Box<dyn Future<Output = (Box<Instance>, Outcome)> + Send>>;

/// A guest call in flight; the flag says whether a `blocked` outcome may be waited on
/// (see [`Instance::can_wait`]).
type Running = Pin<Box<dyn Future<Output = (Box<Instance>, Outcome, bool)> + Send>>;

/// What a guest call produced, parked for the side that started it.
pub(super) enum Outcome {
    Recv(Result<Received, Error>),
    /// A send's own copy of its bytes comes back with the result (the retry needs them).
    Send(Vec<u8>, Result<Progress, Error>),
    Flush(Result<(), Error>),
    ShutdownSend(Result<(), Error>),
    Control(Box<dyn Any + Send>),
}

/// Who started a guest call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Side {
    Read = 0,
    Write = 1,
    Control = 2,
}

pub(super) enum Slot {
    Idle(Box<Instance>),
    Busy(Side, Running),
    /// Only while an op is being started.
    Empty,
}

/// Builds an [`Op`] from a call on the instance: `op!(|inst, h| inst.recv(h, max) => Recv)`.
macro_rules! op {
    (|$inst:ident, $h:ident| $call:expr => $outcome:ident) => {
        move |mut $inst: Box<$crate::core::Instance>,
              $h: wasmtime::component::ResourceAny|
              -> $crate::stream::calls::Op {
            Box::pin(async move {
                let result = $call.await;
                ($inst, $crate::stream::calls::Outcome::$outcome(result))
            })
        }
    };
}
pub(super) use op;

/// A guest send of `data`; the bytes come back with the result (a retry needs them).
pub(super) fn send_op(data: Vec<u8>) -> impl FnOnce(Box<Instance>, ResourceAny) -> Op {
    move |mut inst: Box<Instance>, h: ResourceAny| -> Op {
        Box::pin(async move {
            let result = inst.send(h, &data).await;
            (inst, Outcome::Send(data, result))
        })
    }
}

/// Whether a send error leaves the connection usable (the transport's `other` error:
/// retry the same bytes).
pub(super) fn transient(e: &Error) -> bool {
    e.kind == ErrorKind::Io && e.name == "io"
}

/// The instance and the guest calls' bookkeeping.
pub(super) struct Core {
    pub(super) slot: Slot,
    pub(super) handle: ResourceAny,
    pub(super) socket: u32,
    pub(super) parked: [Option<(Outcome, bool)>; 3],
    pub(super) wakers: [Option<Waker>; 3],
}

impl Core {
    /// Drives the guest call in flight, whoever started it, until the instance is idle;
    /// parks the outcome for its owner and wakes the owner if that is another side.
    pub(super) fn poll_idle(&mut self, cx: &mut Context<'_>, me: Side) -> Poll<()> {
        match &self.wakers[me as usize] {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.wakers[me as usize] = Some(cx.waker().clone()),
        }
        loop {
            let Slot::Busy(owner, op) = &mut self.slot else {
                return Poll::Ready(());
            };
            let owner = *owner;
            let (instance, outcome, wait) = ready!(op.as_mut().poll(cx));
            self.slot = Slot::Idle(instance);
            self.parked[owner as usize] = Some((outcome, wait));
            if owner != me
                && let Some(waker) = &self.wakers[owner as usize]
            {
                waker.wake_by_ref();
            }
        }
    }

    /// Starts a guest call for `side`; the instance must be idle.
    pub(super) fn start(&mut self, side: Side, op: impl FnOnce(Box<Instance>, ResourceAny) -> Op) {
        let Slot::Idle(mut instance) = mem::replace(&mut self.slot, Slot::Empty) else {
            unreachable!("a guest call is started only on an idle instance");
        };
        let socket = self.socket;
        instance.clear_woken(socket);
        let call = op(instance, self.handle);
        self.slot = Slot::Busy(
            side,
            Box::pin(async move {
                let (mut instance, outcome) = call.await;
                let wait = instance.can_wait(socket);
                (instance, outcome, wait)
            }),
        );
    }

    /// The outcome parked for `side`, and whether a `blocked` one may be waited on.
    pub(super) fn take(&mut self, side: Side) -> Option<(Outcome, bool)> {
        self.parked[side as usize].take()
    }

    /// The idle instance (after `poll_idle` returned ready).
    pub(super) fn instance(&mut self) -> &mut Instance {
        match &mut self.slot {
            Slot::Idle(instance) => instance,
            _ => unreachable!("the instance is idle after poll_idle"),
        }
    }
}

/// Waits after a blocked guest call: for the byte stream, which registered this task's
/// waker when it blocked, or, if a wake-up came in the meantime, just for a turn.
pub(super) async fn wait_for_io(instance: &mut Instance, socket: u32) {
    if instance.can_wait(socket) {
        pending_once().await
    } else {
        yield_once().await
    }
}

/// Pending once after waking the task: a retry that lets other tasks run first.
async fn yield_once() {
    let mut first = true;
    poll_fn(|cx| {
        if mem::take(&mut first) {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

/// Pending once, for a task whose waker is already registered with the byte stream.
async fn pending_once() {
    let mut first = true;
    poll_fn(|_| {
        if mem::take(&mut first) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

impl<S> TlsStream<S> {
    /// Runs one guest call for the caller of an s2n method, to completion.
    pub(super) async fn control<T: Send + 'static>(
        &mut self,
        call: impl FnOnce(Box<Instance>, ResourceAny) -> Op,
    ) -> Result<T, Error> {
        let mut call = Some(call);
        poll_fn(|cx| {
            loop {
                ready!(self.core.poll_idle(cx, Side::Control));
                if call.is_none() {
                    if let Some((Outcome::Control(out), _)) = self.core.take(Side::Control) {
                        let out = out
                            .downcast::<Result<T, Error>>()
                            .expect("a control call's outcome has its caller's type");
                        return Poll::Ready(*out);
                    }
                    unreachable!("a finished control call parks its outcome");
                }
                // An outcome left by a control call whose caller went away is stale.
                self.core.take(Side::Control);
                let call = call.take().expect("checked above");
                self.core.start(Side::Control, call);
            }
        })
        .await
    }
}

macro_rules! control {
    ($self:ident, |$inst:ident, $h:ident| $call:expr) => {
        $self
            .control(
                move |mut $inst: Box<$crate::core::Instance>,
                      $h: wasmtime::component::ResourceAny|
                      -> $crate::stream::calls::Op {
                    Box::pin(async move {
                        let result = $call.await;
                        (
                            $inst,
                            $crate::stream::calls::Outcome::Control(Box::new(result)),
                        )
                    })
                },
            )
            .await
    };
}
pub(super) use control;
