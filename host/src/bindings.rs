//! Host bindings generated from `wit/`. The imported socket resource is backed by
//! [`crate::transport::SocketSlot`].

wasmtime::component::bindgen!({
    world: "endpoint",
    path: "../wit",
    additional_derives: [PartialEq, Eq],
    with: {
        "tlsbox:tls/transport.socket": crate::transport::SocketSlot,
    },
});

pub use exports::tlsbox::tls::tls::{
    ConfigOptions, KeyUpdateCounts, Progress, Received, SessionInfo,
};
pub use tlsbox::tls::types::{
    Blocked, CipherSuite, ClientAuth, Error as WitError, ErrorKind, IoError, KxGroup,
    ProtocolVersion, RecordSizing, Role,
};
