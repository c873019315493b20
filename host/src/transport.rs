//! Transports: what the guest's imported `socket` resource is made of on the host.
//!
//! A [`Transport`] moves raw ciphertext for the blocking API. Inside, every transport is
//! driven through [`AsyncTransport`]: the socket import polls it once with the calling
//! task's waker and reports would-block at once when it is not ready, so a guest call
//! never holds its store while waiting for I/O. A blocking [`Transport`] is simply always
//! ready (it blocks inside the poll, which is what the blocking API wants).

use std::any::Any;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::task::{Context, Poll};

use crate::bindings::IoError;

/// A byte stream the guest sends and receives ciphertext through (the blocking API).
///
/// The guest calls it from inside a connection call, so an implementation must never call
/// back into the connection.
pub trait Transport: Send {
    /// Takes a prefix of `data`; returns its length (0 counts as would-block).
    fn send(&mut self, data: &[u8]) -> Result<usize, IoError>;
    /// Returns at most `max` bytes (an empty result counts as would-block; EOF is
    /// [`IoError::Closed`]).
    fn recv(&mut self, max: usize) -> Result<Vec<u8>, IoError>;
}

/// The transport interface of the async core. `Pending` means "not ready, the waker in
/// `cx` is registered"; the socket import turns it into would-block for the guest.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the stream
pub(crate) trait AsyncTransport: Send {
    /// Takes a prefix of `data`.
    fn poll_send(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize, IoError>>;
    /// At most `max` bytes; EOF is [`IoError::Closed`].
    fn poll_recv(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<Result<Vec<u8>, IoError>>;
    /// Pushes out whatever the underlying stream buffers.
    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    /// Closes the underlying stream's write side (after close_notify has gone out).
    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    /// Forgets earlier wake-ups; called before a guest call.
    fn clear_woken(&mut self) {}
    /// Whether the stream woke a waiter since [`clear_woken`](Self::clear_woken). A guest
    /// call that is still running (e.g. suspended at an epoch yield) when the wake-up comes
    /// absorbs it, so its `blocked` result must be retried, not waited on.
    fn woken(&self) -> bool {
        false
    }
    /// The underlying byte stream, for a caller that knows its type.
    fn io(&self) -> Option<&dyn Any> {
        None
    }
    /// The underlying byte stream, mutably.
    fn io_mut(&mut self) -> Option<&mut dyn Any> {
        None
    }
    /// The underlying byte stream, taken out.
    fn into_io(self: Box<Self>) -> Option<Box<dyn Any + Send>> {
        None
    }
}

/// What is left in a socket's slot once its byte stream was taken back: it has ended.
pub(crate) struct Detached;

impl AsyncTransport for Detached {
    fn poll_send(&mut self, _: &mut Context<'_>, _: &[u8]) -> Poll<Result<usize, IoError>> {
        Poll::Ready(Err(IoError::BrokenPipe))
    }

    fn poll_recv(&mut self, _: &mut Context<'_>, _: usize) -> Poll<Result<Vec<u8>, IoError>> {
        Poll::Ready(Err(IoError::Closed))
    }
}

/// A blocking [`Transport`] seen by the async core: always ready.
pub(crate) struct Blocking<T>(pub(crate) T);

impl<T: Transport> AsyncTransport for Blocking<T> {
    fn poll_send(&mut self, _: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize, IoError>> {
        Poll::Ready(self.0.send(data))
    }

    fn poll_recv(&mut self, _: &mut Context<'_>, max: usize) -> Poll<Result<Vec<u8>, IoError>> {
        Poll::Ready(self.0.recv(max))
    }
}

/// The value behind the guest's `socket` handle.
pub struct SocketSlot(pub(crate) Box<dyn AsyncTransport>);

/// A TCP stream, blocking or non-blocking as the stream is set. A read timeout
/// (`set_read_timeout`) surfaces as would-block, which lets one thread poll both ways.
#[derive(Debug)]
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

/// tokio streams as transports: each direction keeps the wakers of every task waiting on
/// it, so the reader and the writer of a split stream never steal each other's wake-up
/// (tokio keeps one waker per direction, and a guest call made for one half may touch
/// the other direction, e.g. during a handshake or shutdown).
#[cfg(feature = "tokio")]
pub(crate) mod tokio_io {
    use std::any::Any;
    use std::io;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Wake, Waker};

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    use super::{AsyncTransport, io_error};
    use crate::bindings::IoError;

    /// Wakes every task that registered since the last wake-up, and notes that it did.
    struct FanOut {
        wakers: Mutex<Vec<Waker>>,
        woken: Arc<AtomicBool>,
    }

    impl FanOut {
        fn register(&self, waker: &Waker) {
            let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
            if !wakers.iter().any(|w| w.will_wake(waker)) {
                wakers.push(waker.clone());
            }
        }
    }

    impl Wake for FanOut {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.woken.store(true, Ordering::SeqCst);
            let wakers =
                std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|p| p.into_inner()));
            wakers.into_iter().for_each(Waker::wake);
        }
    }

    /// One direction's fan-out and the waker handed to the stream for it.
    struct Direction {
        fan: Arc<FanOut>,
        waker: Waker,
    }

    impl Direction {
        fn new(woken: &Arc<AtomicBool>) -> Self {
            let fan = Arc::new(FanOut {
                wakers: Mutex::default(),
                woken: woken.clone(),
            });
            Direction {
                waker: Waker::from(fan.clone()),
                fan,
            }
        }

        /// Registers `cx`'s task and returns the context to poll the stream with.
        fn context(&self, cx: &Context<'_>) -> Context<'_> {
            self.fan.register(cx.waker());
            Context::from_waker(&self.waker)
        }
    }

    /// An `AsyncRead + AsyncWrite` stream under a [`crate::TlsStream`].
    pub(crate) struct TokioTransport<S> {
        io: S,
        read: Direction,
        write: Direction,
        woken: Arc<AtomicBool>,
    }

    impl<S> TokioTransport<S> {
        pub(crate) fn new(io: S) -> Self {
            let woken = Arc::new(AtomicBool::new(false));
            TokioTransport {
                io,
                read: Direction::new(&woken),
                write: Direction::new(&woken),
                woken,
            }
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncTransport for TokioTransport<S> {
        fn poll_send(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<Result<usize, IoError>> {
            let mut cx = self.write.context(cx);
            match Pin::new(&mut self.io).poll_write(&mut cx, data) {
                Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
                Poll::Ready(Err(e)) => Poll::Ready(Err(io_error(e))),
                Poll::Pending => Poll::Pending,
            }
        }

        fn poll_recv(
            &mut self,
            cx: &mut Context<'_>,
            max: usize,
        ) -> Poll<Result<Vec<u8>, IoError>> {
            let mut cx = self.read.context(cx);
            let mut buf = vec![0; max];
            let mut read = ReadBuf::new(&mut buf);
            match Pin::new(&mut self.io).poll_read(&mut cx, &mut read) {
                Poll::Ready(Ok(())) => {
                    let n = read.filled().len();
                    if n == 0 && max > 0 {
                        return Poll::Ready(Err(IoError::Closed));
                    }
                    buf.truncate(n);
                    Poll::Ready(Ok(buf))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(io_error(e))),
                Poll::Pending => Poll::Pending,
            }
        }

        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let mut cx = self.write.context(cx);
            Pin::new(&mut self.io).poll_flush(&mut cx)
        }

        fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let mut cx = self.write.context(cx);
            Pin::new(&mut self.io).poll_shutdown(&mut cx)
        }

        fn clear_woken(&mut self) {
            self.woken.store(false, Ordering::SeqCst);
        }

        fn woken(&self) -> bool {
            self.woken.load(Ordering::SeqCst)
        }

        fn io(&self) -> Option<&dyn Any> {
            Some(&self.io)
        }

        fn io_mut(&mut self) -> Option<&mut dyn Any> {
            Some(&mut self.io)
        }

        fn into_io(self: Box<Self>) -> Option<Box<dyn Any + Send>> {
            Some(Box::new(self.io))
        }
    }
}
