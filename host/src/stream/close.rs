//! How a failed connection ends: its last word (the alert, or under the s2n alert policy
//! the close_notify after the blinding delay) goes out, then a lingering close.

use std::future::poll_fn;
use std::task::Poll;
use std::time::Duration;

use wasmtime::component::ResourceAny;

use super::TlsStream;
use super::calls::{Side, wait_for_io};
use crate::core::Instance;
use crate::error::Error;

/// How long a failed handshake tries to get its alert out once nothing holds it back.
const LAST_WORD_WAIT: Duration = Duration::from_secs(1);

/// How long a failed handshake then keeps reading what the peer still sends (see [`linger`]).
const LINGER: Duration = Duration::from_secs(1);

/// Puts a failed handshake's last word on the wire before the connection is dropped, as
/// s2n-tls-tokio does: under the RFC alert policy the failing call wrote its alert already
/// (this sends it if the byte stream was full); under the s2n policy this waits out the
/// blinding delay and sends the held alert. A trapped instance has nothing to send. Then the
/// connection closes by [`linger`].
pub(super) async fn last_word(instance: &mut Instance, handle: ResourceAny, socket: u32) {
    let delay = instance.delay(handle).await.unwrap_or(0);
    let send = async {
        loop {
            instance.clear_woken(socket);
            match shutdown_send_after_blinding(instance, handle).await {
                Ok(()) => break,
                Err(e) if e.is_blocked() => wait_for_io(instance, socket).await,
                Err(_) => return,
            }
        }
        let _ = poll_fn(|cx| match instance.transport(socket) {
            Some(transport) => transport.poll_flush(cx),
            None => Poll::Ready(Ok(())),
        })
        .await;
    };
    let _ = tokio::time::timeout(Duration::from_nanos(delay) + LAST_WORD_WAIT, send).await;
    let _ = tokio::time::timeout(LINGER, linger(instance, socket)).await;
}

impl<S> TlsStream<S> {
    /// Closes the byte stream lingering, for a connection that failed: our side of the
    /// byte stream ends (a FIN after whatever alert went out), and what the peer still sends
    /// is read from the byte stream and dropped until the peer closes too or `wait` passes.
    /// Call it after `shutdown` (which puts the last word on the wire); the TLS stream reads
    /// nothing more afterwards.
    ///
    /// Why: closing a socket that has unread data resets the connection, and a reset can
    /// destroy the alert in the peer's receive buffer before the peer has read it. A failed
    /// [`accept`](crate::TlsAcceptor::accept) or [`connect`](crate::TlsConnector::connect)
    /// closes this way by itself.
    pub async fn linger(&mut self, wait: Duration) {
        poll_fn(|cx| self.core.poll_idle(cx, Side::Control)).await;
        let socket = self.core.socket;
        let _ = tokio::time::timeout(wait, linger(self.core.instance(), socket)).await;
    }
}

/// A lingering close, as web servers make one: our side of the byte stream ends, and what
/// the peer still sends is read and dropped until it closes too (see [`TlsStream::linger`]).
async fn linger(instance: &mut Instance, socket: u32) {
    let _ = poll_fn(|cx| match instance.transport(socket) {
        Some(transport) => transport.poll_shutdown(cx),
        None => Poll::Ready(Ok(())),
    })
    .await;
    loop {
        let read = poll_fn(|cx| match instance.transport(socket) {
            Some(transport) => transport
                .poll_recv(cx, 16 * 1024)
                .map(|r| r.is_ok_and(|data| !data.is_empty())),
            None => Poll::Ready(false),
        })
        .await;
        if !read {
            return;
        }
    }
}

/// `shutdown-send`, first sleeping out the blinding delay as s2n-tls-tokio's `poll_shutdown`
/// does: under the s2n alert policy a failed connection refuses with `shutdown-paused` until
/// the delay (at most `max-blinding-delay-secs`) has passed, then sends its close_notify.
/// Only this connection's task waits; the instance is its own.
pub(super) async fn shutdown_send_after_blinding(
    instance: &mut Instance,
    handle: ResourceAny,
) -> Result<(), Error> {
    loop {
        match instance.shutdown_send(handle).await {
            Err(e) if e.name == "shutdown-paused" => {
                let left = Duration::from_nanos(instance.delay(handle).await?);
                tokio::time::sleep(left.max(Duration::from_millis(1))).await;
            }
            result => return result,
        }
    }
}
