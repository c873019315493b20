//! The connection's bytes in motion: the handshake, then both directions at once, between
//! the application's `stream<u8>`s and the endpoint's pipe. A tlsbox call that reports
//! `blocked` is answered by moving bytes, then called again.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use wit_bindgen::{FutureWriter, StreamReader, StreamResult, StreamWriter};

use crate::engine::{Engine, Failure, Step};
use crate::{Outcome, error, settle};

/// A record's worth: what one read of a stream asks for.
const CHUNK: usize = 16 << 10;

/// Why the receiving direction fails when the network's stream ends without close_notify.
const TRUNCATED: &str = "closed/stream-closed: the ciphertext stream ended without close_notify";

/// Why the sending direction fails when the application no longer takes the ciphertext.
const UNSENT: &str = "closed/stream-closed: the ciphertext output stream was dropped";

/// A read of `reader` that owns it, so it can wait beside others and hand it back.
type Read = Pin<Box<dyn Future<Output = (StreamReader<u8>, StreamResult, Vec<u8>)>>>;

fn read(mut reader: StreamReader<u8>) -> Read {
    Box::pin(async move {
        let (result, data) = reader.read(Vec::with_capacity(CHUNK)).await;
        (reader, result, data)
    })
}

/// A write of `data` to `writer` that owns it; hands back the writer and what the reader
/// did not take (non-empty only if it dropped its end).
type Write = Pin<Box<dyn Future<Output = (StreamWriter<u8>, Vec<u8>)>>>;

fn write(mut writer: StreamWriter<u8>, data: Vec<u8>) -> Write {
    Box::pin(async move {
        let unsent = writer.write_all(data).await;
        (writer, unsent)
    })
}

/// What the data phase waited for.
enum Event {
    /// The application's stream gave cleartext, or ended.
    Cleartext((StreamReader<u8>, StreamResult, Vec<u8>)),
    /// The network's stream gave ciphertext, or ended.
    Ciphertext((StreamReader<u8>, StreamResult, Vec<u8>)),
    /// The application took (or refused) the plaintext written to it.
    Delivered((StreamWriter<u8>, Vec<u8>)),
}

/// One connection between the application's ciphertext streams and the tlsbox endpoint.
pub struct Link {
    engine: Engine,
    /// The network's ciphertext, until it ends.
    ciphertext_in: Option<StreamReader<u8>>,
    /// Ciphertext for the network, until the application stops reading it or close_notify
    /// has gone out.
    ciphertext_out: Option<StreamWriter<u8>>,
}

impl Link {
    /// A connection over `engine`, reading the network's ciphertext from `ciphertext_in` and
    /// writing its own to `ciphertext_out`.
    pub fn new(
        engine: Engine,
        ciphertext_in: StreamReader<u8>,
        ciphertext_out: StreamWriter<u8>,
    ) -> Self {
        Link {
            engine,
            ciphertext_in: Some(ciphertext_in),
            ciphertext_out: Some(ciphertext_out),
        }
    }

    /// Calls `negotiate` until the handshake completes or fails, moving ciphertext between
    /// each call; a failure's alert is written out before it is returned.
    pub async fn handshake(&mut self) -> Result<(), Failure> {
        loop {
            let step = self.engine.negotiate();
            self.flush().await;
            match step {
                Step::Done => return Ok(()),
                Step::Read => self.fill().await,
                // The pipe was full; the flush above emptied it.
                Step::Write => {}
                Step::Failed(failure) => return Err(failure),
            }
        }
    }

    /// Writes the pipe's outgoing ciphertext to the application's stream. If the stream is
    /// gone the bytes have nowhere to go; the next read or write reports the end.
    async fn flush(&mut self) {
        let out = self.engine.take_output();
        if out.is_empty() {
            return;
        }
        if let Some(writer) = &mut self.ciphertext_out {
            let unsent = writer.write_all(out).await;
            if !unsent.is_empty() {
                self.ciphertext_out = None;
            }
        }
    }

    /// Reads the next ciphertext from the network's stream into the pipe, or ends the pipe's
    /// input when the stream has ended.
    async fn fill(&mut self) {
        let Some(reader) = self.ciphertext_in.take() else {
            self.engine.end_input();
            return;
        };
        let (reader, result, data) = read(reader).await;
        self.take_ciphertext(reader, result, data);
    }

    fn take_ciphertext(&mut self, reader: StreamReader<u8>, result: StreamResult, data: Vec<u8>) {
        match result {
            StreamResult::Complete(_) => {
                self.engine.push_input(data);
                self.ciphertext_in = Some(reader);
            }
            StreamResult::Dropped | StreamResult::Cancelled => self.engine.end_input(),
        }
    }

    /// After the handshake: the application's cleartext out and the network's in, at once,
    /// until both directions have ended. Each direction's future gets its outcome.
    ///
    /// Three things may be awaited together: the application's next cleartext, the network's
    /// next ciphertext, and the application taking the plaintext last decrypted. While that
    /// plaintext waits, no more ciphertext is read (a slow reader holds the peer back, not
    /// memory), but the other direction goes on.
    pub async fn carry(
        mut self,
        cleartext_in: StreamReader<u8>,
        sent: FutureWriter<Outcome>,
        cleartext_out: StreamWriter<u8>,
        received: FutureWriter<Outcome>,
    ) {
        let mut sending = Some(sent);
        let mut app = Some(read(cleartext_in));
        let mut receiving = Some(received);
        // The application's stream, when no plaintext is on its way to it.
        let mut idle = Some(cleartext_out);
        let mut delivering: Option<Write> = None;
        let mut network: Option<Read> = None;
        let mut input_ended = false;
        loop {
            // Plaintext may already sit in the pipe (it can arrive with the handshake's last
            // flight): decrypt before waiting for more.
            if let Some(writer) = idle.take() {
                let outcome = match self.engine.recv(CHUNK) {
                    Ok(Some(data)) if !data.is_empty() => {
                        delivering = Some(write(writer, data));
                        None
                    }
                    // close_notify: the end of the application's stream.
                    Ok(Some(_)) => Some(Ok(())),
                    Ok(None) if network.is_some() => {
                        idle = Some(writer);
                        None
                    }
                    Ok(None) => match self.ciphertext_in.take() {
                        Some(reader) => {
                            network = Some(read(reader));
                            idle = Some(writer);
                            None
                        }
                        // The network's stream ended: one more look sees close_notify or
                        // the truncation.
                        None if !input_ended => {
                            self.engine.end_input();
                            input_ended = true;
                            idle = Some(writer);
                            continue;
                        }
                        None => Some(Err(error(TRUNCATED))),
                    },
                    Err(failure) => Some(Err(error(failure.0))),
                };
                // A failure's alert, or a KeyUpdate's answer, goes out now.
                self.flush().await;
                if let Some(outcome) = outcome {
                    // The application's stream ends with this block (its `writer` is
                    // dropped), and no more ciphertext is read.
                    network = None;
                    if let Some(done) = receiving.take() {
                        settle(done, outcome);
                    }
                }
            }
            if app.is_none() && network.is_none() && delivering.is_none() {
                break;
            }
            let event = poll_fn(|cx| {
                if let Some(Poll::Ready(out)) = app.as_mut().map(|f| f.as_mut().poll(cx)) {
                    app = None;
                    return Poll::Ready(Event::Cleartext(out));
                }
                if let Some(Poll::Ready(out)) = network.as_mut().map(|f| f.as_mut().poll(cx)) {
                    network = None;
                    return Poll::Ready(Event::Ciphertext(out));
                }
                if let Some(Poll::Ready(out)) = delivering.as_mut().map(|f| f.as_mut().poll(cx)) {
                    delivering = None;
                    return Poll::Ready(Event::Delivered(out));
                }
                Poll::Pending
            })
            .await;
            match event {
                Event::Cleartext((reader, result, data)) => {
                    app = self.encrypt(reader, result, data, &mut sending).await;
                }
                Event::Ciphertext((reader, result, data)) => {
                    self.take_ciphertext(reader, result, data);
                }
                Event::Delivered((writer, unsent)) if unsent.is_empty() => idle = Some(writer),
                // The application stopped reading: nothing more to deliver.
                Event::Delivered(_) => {
                    network = None;
                    if let Some(done) = receiving.take() {
                        settle(done, Ok(()));
                    }
                }
            }
        }
    }

    /// Sends what the application wrote, or close_notify when its stream has ended; the
    /// next read of its stream while the direction goes on. At the end, the direction's
    /// future in `sending` gets the outcome.
    async fn encrypt(
        &mut self,
        reader: StreamReader<u8>,
        result: StreamResult,
        data: Vec<u8>,
        sending: &mut Option<FutureWriter<Outcome>>,
    ) -> Option<Read> {
        let outcome = match result {
            StreamResult::Complete(_) => match self.send_all(&data).await {
                Ok(()) => return Some(read(reader)),
                Err(failure) => Err(failure),
            },
            StreamResult::Dropped | StreamResult::Cancelled => self.close().await,
        };
        if let Some(done) = sending.take() {
            settle(done, outcome.map_err(|f| error(f.0)));
        }
        None
    }

    /// Sends `data` in full, moving ciphertext out whenever the pipe is full.
    async fn send_all(&mut self, mut data: &[u8]) -> Result<(), Failure> {
        while !data.is_empty() {
            let sent = self.engine.send(data);
            self.flush().await;
            if self.ciphertext_out.is_none() {
                return Err(Failure(UNSENT.into()));
            }
            data = &data[sent?..];
        }
        Ok(())
    }

    /// Sends close_notify and ends the ciphertext stream.
    async fn close(&mut self) -> Result<(), Failure> {
        let outcome = loop {
            match self.engine.shutdown_send() {
                Step::Done => break Ok(()),
                Step::Write => self.flush().await,
                // shutdown-send only writes; nothing to wait for.
                Step::Read => break Ok(()),
                Step::Failed(failure) => break Err(failure),
            }
        };
        self.flush().await;
        self.ciphertext_out = None;
        outcome
    }
}
