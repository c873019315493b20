//! `wasi:tls@0.3.0-draft` exported by a component: the `client` connector over the tlsbox
//! endpoint. Composed with the endpoint and the WASI adapter (see the root build script), it
//! gives a wasi:tls application TLS on any host with WASIp3 sockets, wasi:tls or not.
//!
//! The application hands the connector its byte streams (`send`, `receive`) and calls
//! `connect`. The connector drives one tlsbox connection over an in-memory pipe of the
//! adapter: whenever a tlsbox call reports `blocked`, it moves the pipe's outgoing
//! ciphertext to the application's stream, or reads more ciphertext into the pipe, and calls
//! again. `connect` returns when the handshake does; a task it spawns then carries the
//! application data both ways until each direction ends.
// The provider is wasm code only: natively the crate is empty.
#![cfg(target_arch = "wasm32")]
// The generated items carry the WIT's docs, but not on every item rustdoc counts.
#![allow(missing_docs)]

use std::cell::RefCell;

wit_bindgen::generate!({
    world: "tlsbox:wasi-tls-p3/wasi-tls-provider",
    path: ["../../wit", "../wit", "../wit-p3/deps/tls", "wit"],
    generate_all,
});

#[path = "../../https-get/src/client.rs"]
mod client_config;
mod engine;
mod link;

use engine::Engine;
use exports::wasi::tls0_3_0_draft::client::{self, Connector};
use exports::wasi::tls0_3_0_draft::types::{self, Error};
use link::Link;
use wit_bindgen::{FutureReader, FutureWriter, StreamReader, StreamWriter};

struct Provider;

export!(Provider);

/// The result each direction's future carries.
pub(crate) type Outcome = Result<(), Error>;

/// One direction as `send` or `receive` set it up: the bytes it takes in (the application's
/// cleartext, or the network's ciphertext), the stream its output goes to, and its future.
struct Direction {
    input: StreamReader<u8>,
    output: StreamWriter<u8>,
    done: FutureWriter<Outcome>,
}

/// A connector before `connect`: the two directions, once each is set up.
pub struct ConnectorState {
    outgoing: RefCell<Option<Direction>>,
    incoming: RefCell<Option<Direction>>,
}

/// Sets up a direction in `slot` taking `input`; the application gets its output stream and
/// future. A second call's stream ends at once, and its future says why.
fn set_up(
    slot: &RefCell<Option<Direction>>,
    input: StreamReader<u8>,
) -> (StreamReader<u8>, FutureReader<Outcome>) {
    let (output, output_reader) = wit_stream::new();
    let (done, result) = done_future();
    let mut slot = slot.borrow_mut();
    if slot.is_none() {
        *slot = Some(Direction {
            input,
            output,
            done,
        });
    }
    (output_reader, result)
}

/// A `wasi:tls` error: tlsbox's `kind/name (alert N): message`.
pub struct TlsError(String);

impl types::Guest for Provider {
    type Error = TlsError;
}

impl types::GuestError for TlsError {
    fn to_debug_string(&self) -> String {
        self.0.clone()
    }
}

pub(crate) fn error(message: impl Into<String>) -> Error {
    Error::new(TlsError(message.into()))
}

/// A direction's future. If its writer is dropped unresolved (the direction was set up a
/// second time, or never carried), the application reads this error.
fn done_future() -> (FutureWriter<Outcome>, FutureReader<Outcome>) {
    wit_future::new(|| {
        Err(error(
            "usage/not-carried: the connector did not carry this direction (set up twice, or \
             connect not called or failed)",
        ))
    })
}

/// Resolves a direction's future in the background: the application may read it only after
/// it has read its stream to the end, or never.
pub(crate) fn settle(done: FutureWriter<Outcome>, outcome: Outcome) {
    wit_bindgen::spawn_local(async move {
        let _ = done.write(outcome).await;
    });
}

impl client::Guest for Provider {
    type Connector = ConnectorState;
}

impl client::GuestConnector for ConnectorState {
    fn new() -> Self {
        ConnectorState {
            outgoing: RefCell::new(None),
            incoming: RefCell::new(None),
        }
    }

    fn send(&self, cleartext: StreamReader<u8>) -> (StreamReader<u8>, FutureReader<Outcome>) {
        set_up(&self.outgoing, cleartext)
    }

    fn receive(&self, ciphertext: StreamReader<u8>) -> (StreamReader<u8>, FutureReader<Outcome>) {
        set_up(&self.incoming, ciphertext)
    }

    async fn connect(this: Connector, server_name: String) -> Result<(), Error> {
        let state: ConnectorState = this.into_inner();
        let (Some(outgoing), Some(incoming)) =
            (state.outgoing.into_inner(), state.incoming.into_inner())
        else {
            return Err(error(
                "usage/not-set-up: send and receive must be called before connect",
            ));
        };
        let failure = match Engine::client(&server_name) {
            Ok(engine) => {
                let mut link = Link::new(engine, incoming.input, outgoing.output);
                match link.handshake().await {
                    Ok(()) => {
                        wit_bindgen::spawn_local(link.carry(
                            outgoing.input,
                            outgoing.done,
                            incoming.output,
                            incoming.done,
                        ));
                        return Ok(());
                    }
                    Err(failure) => failure,
                }
            }
            Err(failure) => failure,
        };
        // Every stream ends (dropped with the link and here), and each direction's future
        // carries the failure too.
        drop((outgoing.input, incoming.output));
        settle(outgoing.done, Err(error(failure.0.clone())));
        settle(incoming.done, Err(error(failure.0.clone())));
        Err(error(failure.0))
    }
}
