//! Host bindings generated from `wit/`. The imported socket resource is backed by
//! [`crate::transport::SocketSlot`].
//!
//! Everything is async: exports are called with `call_async` so a long guest computation
//! can yield to the executor at epoch boundaries, and the socket import polls the
//! transport with the calling task's waker (see `runtime.rs`).

wasmtime::component::bindgen!({
    world: "endpoint",
    path: "wit",
    additional_derives: [PartialEq, Eq],
    imports: { default: async },
    exports: { default: async },
    with: {
        "tlsbox:tls/transport.socket": crate::transport::SocketSlot,
    },
});

pub use self::exports::tlsbox::tls::tls::{
    ConfigOptions, KeyUpdateCounts, Progress, Received, SessionInfo,
};
pub use self::tlsbox::tls::types::{
    AlertPolicy, Blocked, CipherSuite, ClientAuth, EarlyDataStatus, Error as WitError, ErrorKind,
    IoError, KxGroup, ProtocolVersion, RecordSizing, Role,
};
