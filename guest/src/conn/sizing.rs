//! Outgoing record sizes and flush points (R32-R35, R38-R39): the configured fragment, the
//! send buffer's cap, and dynamic record sizing with its threshold and timeout.

use std::time::{Duration, Instant};

use crate::types::{CipherSuite, Error, ProtocolVersion};

/// Largest plaintext in one TLS record.
const MAX_FRAGMENT: usize = 16384;
/// s2n's worst-case record overhead for sizing the send buffer: 5-byte header + 1024 bytes
/// of expansion before TLS 1.3 (or before the version is known) ...
const MAX_RECORD_OVERHEAD_TLS12: usize = 1029;
/// ... and 5 + 1 content type + 255 padding/tag once TLS 1.3 is negotiated.
const MAX_RECORD_OVERHEAD_TLS13: usize = 261;
/// The smallest send buffer s2n accepts: a whole KeyUpdate or alert record must fit.
pub const MIN_SEND_BUFFER: usize = 1034;
/// The largest dynamic record threshold s2n accepts (R35).
pub const MAX_RESIZE_THRESHOLD: usize = 8 << 20;
/// One Ethernet MTU's worth of TLS record (1500 - IPv6 40 - TCP 20 - options 40 - header 5).
const MTU_PAYLOAD_BASE: usize = 1395;

/// Record sizing state of one connection.
#[derive(Debug)]
pub struct Sizing {
    max_fragment: usize,
    send_buffer: Option<usize>,
    resize_threshold: usize,
    timeout: Option<Duration>,
    /// Application bytes encrypted since the last idle period (s2n's
    /// `active_application_bytes_consumed`).
    active: usize,
    last_send: Option<Instant>,
}

impl Sizing {
    /// Sizing for a fragment limit and an optional send buffer (multi-record batching).
    pub fn new(max_fragment: usize, send_buffer: Option<usize>) -> Self {
        Sizing {
            max_fragment: max_fragment.min(MAX_FRAGMENT),
            send_buffer,
            resize_threshold: 0,
            timeout: None,
            active: 0,
            last_send: None,
        }
    }

    /// s2n_connection_set_dynamic_record_threshold: records stay MTU-sized until
    /// `threshold` bytes have gone out, and again after `timeout_secs` idle (R33-R35).
    pub fn set_dynamic_threshold(
        &mut self,
        threshold: u32,
        timeout_secs: u16,
    ) -> Result<(), Error> {
        let threshold = threshold as usize;
        if threshold > MAX_RESIZE_THRESHOLD {
            return Err(Error::usage(
                "invalid-argument",
                format!("dynamic record threshold {threshold} exceeds {MAX_RESIZE_THRESHOLD}"),
            ));
        }
        self.resize_threshold = threshold;
        self.timeout = (timeout_secs > 0).then(|| Duration::from_secs(timeout_secs.into()));
        Ok(())
    }

    /// Called at the start of every send: a long pause makes records small again (R34).
    pub fn start_send(&mut self) {
        let now = Instant::now();
        if let (Some(timeout), Some(last)) = (self.timeout, self.last_send)
            && now.duration_since(last) > timeout
        {
            self.active = 0;
        }
        self.last_send = Some(now);
    }

    /// Plaintext bytes for the next record (R32, R33).
    pub fn next_payload(&self, remaining: usize, limits: &Limits) -> usize {
        let mut max = self.max_fragment;
        if let Some(buffer) = self.send_buffer {
            max = max.min(buffer.saturating_sub(limits.overhead).max(1));
        }
        if self.active < self.resize_threshold {
            max = max.min(limits.small_payload);
        }
        remaining.min(max)
    }

    /// Counts bytes just encrypted toward the dynamic threshold.
    pub fn record_written(&mut self, bytes: usize) {
        self.active = self.active.saturating_add(bytes);
    }

    /// Whether queued records must go out now (R39): always without a send buffer; with
    /// one, when the call's data is all encrypted or another full record would not fit.
    pub fn should_flush(&self, queued: usize, remaining: usize, limits: &Limits) -> bool {
        let Some(buffer) = self.send_buffer else {
            return true;
        };
        remaining == 0
            || buffer.saturating_sub(queued)
                < self.next_payload(remaining, limits) + limits.overhead
    }
}

/// Per-record figures that depend on the negotiated version and suite.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The MTU-sized payload used by dynamic record sizing.
    pub small_payload: usize,
    /// The worst-case record expansion s2n reserves in the send buffer.
    pub overhead: usize,
}

impl Limits {
    /// The figures for a connection at `version` with `suite`.
    pub fn new(version: Option<ProtocolVersion>, suite: Option<CipherSuite>) -> Self {
        Limits {
            small_payload: small_payload(version, suite),
            overhead: match version {
                Some(ProtocolVersion::Tls13) => MAX_RECORD_OVERHEAD_TLS13,
                _ => MAX_RECORD_OVERHEAD_TLS12,
            },
        }
    }
}

/// The MTU-sized payload for dynamic record sizing: the base minus this suite's per-record
/// expansion (tag, TLS 1.3 content type, TLS 1.2 explicit nonce).
fn small_payload(version: Option<ProtocolVersion>, suite: Option<CipherSuite>) -> usize {
    use CipherSuite::*;
    let expansion = match (version, suite) {
        (Some(ProtocolVersion::Tls12), Some(TlsEcdheEcdsaWithChacha20Poly1305Sha256))
        | (Some(ProtocolVersion::Tls12), Some(TlsEcdheRsaWithChacha20Poly1305Sha256)) => 16,
        (Some(ProtocolVersion::Tls12), _) => 8 + 16,
        _ => 16 + 1,
    };
    MTU_PAYLOAD_BASE - expansion
}
