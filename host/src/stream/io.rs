//! tokio's `AsyncRead` and `AsyncWrite` for [`TlsStream`], and the write side's
//! bookkeeping: bytes handed to the guest stay the stream's until sent, and s2n's retry
//! rule (after a block, the same bytes; after a partial send of n, the rest) runs from the
//! stream's own copy.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::calls::{Outcome, Side, op, send_op, transient};
use super::close::shutdown_send_after_blinding;
use super::{READ_MAX, Shutdown, TlsStream, WRITE_CHUNK};
use crate::bindings::{Blocked, Progress, Received};
use crate::error::Error;

impl<S> TlsStream<S> {
    /// Applies a send's outcome: what is left goes back to `pending`. Returns whether the
    /// send blocked.
    fn apply_send(&mut self, mut data: Vec<u8>, result: Result<Progress, Error>) -> bool {
        match result {
            Ok(progress) => {
                let sent = (progress.bytes as usize).min(data.len());
                data.drain(..sent);
                let blocked = !data.is_empty();
                if blocked {
                    self.write.pending = Some(data);
                }
                blocked
            }
            Err(e) if e.is_blocked() => {
                self.write.pending = Some(data);
                true
            }
            // The transport's `other` error leaves the connection usable: retry the same
            // bytes later, report the error now.
            Err(e) if transient(&e) => {
                self.write.pending = Some(data);
                self.write.error = Some(e);
                false
            }
            Err(e) => {
                self.write.error = Some(e);
                false
            }
        }
    }

    /// The error to report on the write side: `io` is reported once, others stick.
    fn write_error(&mut self) -> Option<io::Error> {
        let e = self.write.error.as_ref()?;
        if transient(e) {
            return self.write.error.take().map(Into::into);
        }
        Some(e.clone().into())
    }

    /// Drives the write side until nothing handed over is left in the stream: `Ready` once
    /// `pending` is empty (and no send is in flight).
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut started = false;
        loop {
            if let Some(e) = self.write_error() {
                return Poll::Ready(Err(e));
            }
            ready!(self.core.poll_idle(cx, Side::Write));
            match self.core.take(Side::Write) {
                Some((Outcome::Send(data, result), wait)) => {
                    if self.apply_send(data, result) && started && wait {
                        return Poll::Pending;
                    }
                    continue;
                }
                // A flush or shutdown whose caller went away; it is repeated when needed.
                Some(_) => continue,
                None => {}
            }
            let Some(data) = self.write.pending.take() else {
                return Poll::Ready(Ok(()));
            };
            self.core.start(Side::Write, send_op(data));
            started = true;
        }
    }

    /// Runs a write-side guest call (flush, or shutdown-send) after everything pending,
    /// until it succeeds; blocked calls wait for the byte stream.
    fn poll_write_call(&mut self, cx: &mut Context<'_>, flush: bool) -> Poll<io::Result<()>> {
        let mut started = false;
        loop {
            if let Some(e) = self.write_error() {
                return Poll::Ready(Err(e));
            }
            ready!(self.core.poll_idle(cx, Side::Write));
            let (result, wait) = match self.core.take(Side::Write) {
                Some((Outcome::Send(data, result), wait)) => {
                    if self.apply_send(data, result) && started && wait {
                        return Poll::Pending;
                    }
                    continue;
                }
                Some((Outcome::Flush(result), wait)) if flush => (Some(result), wait),
                Some((Outcome::ShutdownSend(result), wait)) if !flush => (Some(result), wait),
                _ => (None, false),
            };
            match result {
                Some(Ok(())) => return Poll::Ready(Ok(())),
                // Registered with this task's waker only if started in this poll.
                Some(Err(e)) if e.is_blocked() && started && wait => return Poll::Pending,
                Some(Err(e)) if !e.is_blocked() => return Poll::Ready(Err(e.into())),
                _ => {}
            }
            if let Some(data) = self.write.pending.take() {
                self.core.start(Side::Write, send_op(data));
            } else if flush {
                self.core
                    .start(Side::Write, op!(|inst, h| inst.flush(h) => Flush));
            } else {
                self.core.start(
                    Side::Write,
                    op!(|inst, h| shutdown_send_after_blinding(&mut inst, h) => ShutdownSend),
                );
            }
            started = true;
        }
    }
}

impl<S> AsyncRead for TlsStream<S> {
    /// Plaintext, the peer's close_notify (0 bytes), or an error; with a read timeout set, a
    /// read that waits longer than it fails `TimedOut` (and may be retried).
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_read_data(cx, buf) {
            Poll::Pending => this.poll_read_deadline(cx),
            ready => {
                this.read.deadline = None;
                ready
            }
        }
    }
}

impl<S> TlsStream<S> {
    /// A read with nothing to give yet: `TimedOut` once the read timeout has passed since
    /// the last data (the timer starts with the first wait), else still pending.
    fn poll_read_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(limit) = self.read.timeout else {
            return Poll::Pending;
        };
        let deadline = self
            .read
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(deadline.as_mut().poll(cx));
        self.read.deadline = None;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no data from the peer within {limit:?}"),
        )))
    }

    fn poll_read_data(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self;
        let mut started = false;
        loop {
            let read = &mut this.read;
            if read.pos < read.buf.len() {
                let n = buf.remaining().min(read.buf.len() - read.pos);
                buf.put_slice(&read.buf[read.pos..read.pos + n]);
                read.pos += n;
                if read.pos == read.buf.len() {
                    read.buf.clear();
                    read.pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if read.eof || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = &read.error {
                return Poll::Ready(Err(e.clone().into()));
            }
            ready!(this.core.poll_idle(cx, Side::Read));
            if let Some((Outcome::Recv(result), wait)) = this.core.take(Side::Read) {
                // A block may be waited on only if this poll's waker is the one registered
                // (the call started here) and no wake-up was absorbed; otherwise ask again.
                let wait = started && wait;
                match result {
                    Ok(Received { data, blocked }) if data.is_empty() => {
                        if blocked == Blocked::NotBlocked {
                            this.read.eof = true;
                        } else if wait {
                            return Poll::Pending;
                        }
                    }
                    Ok(Received { data, .. }) => this.read.buf = data,
                    Err(e) if e.is_blocked() => {
                        if wait {
                            return Poll::Pending;
                        }
                    }
                    Err(e) => this.read.error = Some(e),
                }
                continue;
            }
            let max = buf.remaining().min(READ_MAX) as u32;
            this.core
                .start(Side::Read, op!(|inst, h| inst.recv(h, max) => Recv));
            started = true;
        }
    }
}

impl<S> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Earlier bytes first: the guest's retry must see them before anything new.
        ready!(this.poll_pending(cx))?;
        if this.write.shutdown != Shutdown::Open {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the TLS write side is shut down",
            )));
        }
        let chunk = data[..data.len().min(WRITE_CHUNK)].to_vec();
        let accepted = chunk.len();
        this.core.start(Side::Write, send_op(chunk));
        // From here on the bytes belong to the stream: whatever happens to this call, the
        // send (and its retries) completes from the stream's copy.
        if this.core.poll_idle(cx, Side::Write).is_ready()
            && let Some((Outcome::Send(data, result), _)) = this.core.take(Side::Write)
        {
            this.apply_send(data, result);
            if let Some(e) = &this.write.error
                && !transient(e)
            {
                // A fatal error: nothing of this write goes out.
                return Poll::Ready(Err(e.clone().into()));
            }
        }
        Poll::Ready(Ok(accepted))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.write.shutdown == Shutdown::Done {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_write_call(cx, true))?;
        let socket = this.core.socket;
        match this.core.instance().transport(socket) {
            Some(transport) => transport.poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.write.shutdown == Shutdown::Open {
            ready!(this.poll_write_call(cx, false))?;
            this.write.shutdown = Shutdown::Notified;
        }
        if this.write.shutdown == Shutdown::Notified {
            ready!(this.core.poll_idle(cx, Side::Write));
            let socket = this.core.socket;
            if let Some(transport) = this.core.instance().transport(socket) {
                ready!(transport.poll_shutdown(cx))?;
            }
            this.write.shutdown = Shutdown::Done;
        }
        Poll::Ready(Ok(()))
    }
}
