//! Blinding in s2n's self-service style (R80, R81): a failure that could leak timing about
//! the peer's records sets a random delay, and shutdown refuses until it has passed. Nothing
//! here ever sleeps: a guest must not stall its host.

use std::time::{Duration, Instant};

use crate::types::{Error, ErrorKind};

/// The blinding delay of one connection.
#[derive(Debug)]
pub struct Blinding {
    max: Duration,
    until: Option<Instant>,
}

impl Blinding {
    /// Delays are drawn from `[max/3, max)`; a zero `max` disables them (s2n's
    /// `s2n_config_set_max_blinding_delay`; the default is 30 s).
    pub fn new(max: Duration) -> Self {
        Blinding { max, until: None }
    }

    /// Starts a delay if `error` is one s2n blinds: protocol errors from record and message
    /// processing, except a peer that simply shares no suite or version.
    pub fn apply(&mut self, error: &Error) {
        if error.kind != ErrorKind::Protocol || error.name == "handshake-failure" {
            return;
        }
        if self.max.is_zero() || self.until.is_some() {
            return;
        }
        let min = self.max / 3;
        let span = (self.max - min).as_nanos().max(1);
        let mut bytes = [0u8; 8];
        // Without entropy the delay is the maximum: never shorter than intended.
        let random = match getrandom::fill(&mut bytes) {
            Ok(()) => u128::from(u64::from_le_bytes(bytes)) % span,
            Err(_) => span - 1,
        };
        let delay = min + Duration::from_nanos(u64::try_from(random).unwrap_or(u64::MAX));
        self.until = Some(Instant::now() + delay);
    }

    /// Time left before shutdown is allowed (s2n_connection_get_delay).
    pub fn remaining(&self) -> Duration {
        self.until
            .map(|until| until.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    /// Fails `shutdown-paused` while the delay runs (R81).
    pub fn check_shutdown(&self) -> Result<(), Error> {
        let left = self.remaining();
        if left.is_zero() {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Internal,
            "shutdown-paused",
            format!("blinding delay: {} ms left", left.as_millis()),
        ))
    }
}
