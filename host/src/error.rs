//! The host's error type: the guest's error values, plus runtime faults (a trap, an
//! exhausted deadline or memory limit) mapped into the same shape.

use crate::bindings::{Blocked, ErrorKind, WitError};

/// An error from a tlsbox call. `name` is the stable identifier listed in docs/api.md.
///
/// Displayed as `kind/name (alert N): message`, e.g. `protocol/untrusted-certificate (alert
/// 48): ...`: the part before the colon is stable, the message is for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}/{}{}: {}", kind.name(), name, alert.map(|a| format!(" (alert {a})")).unwrap_or_default(), message)]
pub struct Error {
    /// The class of the error (s2n's error type).
    pub kind: ErrorKind,
    /// Stable kebab-case identifier.
    pub name: String,
    /// Human-readable detail.
    pub message: String,
    /// The blocked status that goes with it; meaningful when `kind` is `Blocked`.
    pub blocked: Blocked,
    /// Alert description byte, when an alert is involved.
    pub alert: Option<u8>,
}

impl Error {
    /// Whether this is the retryable would-block error.
    pub fn is_blocked(&self) -> bool {
        self.kind == ErrorKind::Blocked
    }

    /// An error raised on the host side of the boundary.
    pub(crate) fn host(kind: ErrorKind, name: &str, message: impl Into<String>) -> Self {
        Error {
            kind,
            name: name.to_owned(),
            message: message.into(),
            blocked: Blocked::NotBlocked,
            alert: None,
        }
    }

    /// A wasmtime fault (trap, deadline, memory limit). The instance is unusable afterwards.
    pub(crate) fn trap(error: wasmtime::Error) -> Self {
        Error::host(ErrorKind::Internal, "trap", format!("{error:#}"))
    }
}

impl From<WitError> for Error {
    fn from(e: WitError) -> Self {
        Error {
            kind: e.kind,
            name: e.name,
            message: e.message,
            blocked: e.blocked,
            alert: e.alert,
        }
    }
}
