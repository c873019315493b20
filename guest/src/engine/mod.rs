//! The TLS engine: every rustls call in tlsbox lives under this module, so moving to
//! rustls 0.24 (which reshapes the connection API) touches nothing else.

mod client_hello;
mod config;
mod errors;
mod names;
mod pinned;
mod protection;
mod session;

pub use config::{EngineConfig, SessionStore};
pub use session::Session;
