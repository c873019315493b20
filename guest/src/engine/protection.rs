//! What the engine sees of record protection: the cipher suites of the crypto provider,
//! wrapped so that each session learns which record keys rustls installs for it.
//!
//! rustls reports neither KeyUpdates nor the write key in use, and has no call to send an
//! alert of our choosing. The wrapped suites hand every encrypter and decrypter rustls builds
//! to the [`Protection`] of the session whose rustls call is running (a scope set by
//! [`Protection::scope`]), which then
//!
//! - counts TLS 1.3 key installs, so KeyUpdates can be counted (s2n's key-update counts);
//! - keeps the current write protection and its next sequence number, so the engine can seal
//!   an alert record itself where rustls fails without sending one;
//! - keeps the current read protection, so the engine can tell a server's rejected 0-RTT
//!   records (which do not open under the handshake keys) from the client's handshake, and
//!   knows when every record must arrive protected;
//! - checks each opened record's plaintext where RFC 8446 names another alert than rustls
//!   would send (see [`super::plaintext`]);
//! - under the s2n alert policy, seals a fatal alert as a close_notify (R57).
//!
//! The crypto provider stays free of connection semantics; the wrapping costs one uncontended
//! lock per record.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape, MessageDecrypter,
    MessageEncrypter, OutboundChunks, OutboundOpaqueMessage, OutboundPlainMessage,
    Tls12AeadAlgorithm, Tls13AeadAlgorithm, UnsupportedOperationError,
};
use rustls::{
    ConnectionTrafficSecrets, ContentType, Error, ProtocolVersion, SupportedCipherSuite,
    Tls12CipherSuite, Tls13CipherSuite,
};

use rustls::crypto::CipherSuiteCommon;

use super::plaintext::PlaintextCheck;
use crate::crypto;

/// Alert level byte for a fatal alert.
const FATAL: u8 = 2;
/// The length of a TLS 1.2 Finished message's verify_data (RFC 5246 §7.4.9).
const TLS12_VERIFY_DATA_LEN: usize = 12;
/// The payload of a close_notify alert: level warning, description 0.
const CLOSE_NOTIFY: [u8; 2] = [1, 0];

/// The record keys of one session, as rustls installs them.
#[derive(Default)]
pub struct Protection {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// TLS 1.3 encrypters and decrypters installed so far.
    tls13_installs: (u64, u64),
    /// The newest write protection, if any, with the sequence number of its next record.
    writer: Option<(Box<dyn MessageEncrypter>, u64)>,
    /// The newest read protection, if any, with the sequence number of the next record.
    reader: Option<(Box<dyn MessageDecrypter>, u64)>,
    /// Whether rustls seals (writer) and opens (reader) records with those yet. TLS 1.3 keys
    /// are in use once installed; TLS 1.2 keys are built when derived (a server's at the
    /// ClientKeyExchange) but used only after the ChangeCipherSpec, so until rustls first
    /// uses them an alert goes out, and a record comes in, in plaintext.
    live: (bool, bool),
    /// Whether the read protection is TLS 1.3's (every record protected once installed).
    reader_tls13: bool,
    /// Handshake framing under the current read protection.
    plaintext: Option<PlaintextCheck>,
    /// Seal fatal alerts as close_notify (the s2n alert policy).
    fatal_as_close_notify: bool,
    /// The description of the last alert sealed (before any s2n rewriting).
    last_alert: Option<u8>,
    /// A KeyUpdate answer sealed as the last record under the previous write key. rustls
    /// switches keys when it takes the peer's request but holds the answer back until it
    /// next writes, and sends it ahead of whatever it seals next; so this is `None` once
    /// anything else is sealed, and [`Protection::answer_released`] clears it.
    held_answer: Option<Vec<u8>>,
}

thread_local! {
    /// The session whose rustls call is running on this thread.
    static CURRENT: RefCell<Option<Arc<Mutex<State>>>> = const { RefCell::new(None) };
}

impl Protection {
    /// A session's protection; `fatal_as_close_notify` selects the s2n alert policy.
    pub fn new(fatal_as_close_notify: bool) -> Self {
        let protection = Protection::default();
        protection.lock().fatal_as_close_notify = fatal_as_close_notify;
        protection
    }

    /// Runs `f` (a rustls call) with this session's keys in scope.
    pub fn scope<T>(&self, f: impl FnOnce() -> T) -> T {
        let previous = CURRENT.with(|c| c.replace(Some(self.state.clone())));
        let out = f();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        out
    }

    /// TLS 1.3 (encrypters, decrypters) installed so far.
    pub fn tls13_installs(&self) -> (u64, u64) {
        self.lock().tls13_installs
    }

    /// The description of the last encrypted alert since the previous call.
    pub fn take_last_alert(&self) -> Option<u8> {
        self.lock().last_alert.take()
    }

    /// Whether records arrive under TLS 1.3 read protection: from then on each one must be
    /// application_data on the outside (RFC 8446 §5).
    pub fn reads_tls13(&self) -> bool {
        let state = self.lock();
        state.live.1 && state.reader_tls13
    }

    /// Whether no read protection exists yet (records arrive in plaintext).
    pub fn reads_plaintext(&self) -> bool {
        self.lock().reader.is_none()
    }

    /// Whether an application_data record with `body` opens under the current read
    /// protection at the next sequence number, without consuming it; `None` while reads are
    /// plaintext.
    pub fn opens(&self, body: &[u8]) -> Option<bool> {
        let mut state = self.lock();
        if !state.live.1 {
            return None;
        }
        let (decrypter, seq) = state.reader.as_mut()?;
        let mut body = body.to_vec();
        let msg = InboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            &mut body,
        );
        Some(decrypter.decrypt(msg, *seq).is_ok())
    }

    /// Notes that rustls has released a KeyUpdate answer it held (an empty write does).
    pub fn answer_released(&self) {
        self.lock().held_answer = None;
    }

    /// Seals an alert under the current write protection and returns the record, or `None`
    /// while records go out in plaintext. A KeyUpdate answer rustls still holds (it cannot
    /// release one once failed) comes first: the alert is sealed under the key it announces.
    pub fn seal_alert(&self, payload: [u8; 2]) -> Option<Vec<u8>> {
        let mut encrypter = SharedEncrypter(self.state.clone());
        let (seq, answer) = {
            let mut state = self.lock();
            match &state.writer {
                Some((_, seq)) if state.live.0 => (*seq, state.held_answer.take()),
                _ => return None,
            }
        };
        let msg = OutboundPlainMessage {
            typ: ContentType::Alert,
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::Single(&payload),
        };
        let alert = encrypter.encrypt(msg, seq).ok()?.encode();
        Some([answer.unwrap_or_default(), alert].concat())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The session in scope, if any (rustls builds keys only inside our calls).
fn current() -> Option<Arc<Mutex<State>>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The provider's suites, wrapped (built once per process).
pub fn cipher_suites() -> &'static [SupportedCipherSuite] {
    static SUITES: OnceLock<Vec<SupportedCipherSuite>> = OnceLock::new();
    SUITES.get_or_init(|| {
        crypto::DEFAULT_CIPHER_SUITES
            .iter()
            .map(|suite| match suite {
                SupportedCipherSuite::Tls13(s) => {
                    let finished_len = s.common.hash_provider.output_len();
                    let aead_alg: &'static Tracked13 =
                        Box::leak(Box::new(Tracked13(s.aead_alg, finished_len)));
                    SupportedCipherSuite::Tls13(Box::leak(Box::new(Tls13CipherSuite {
                        common: common(&s.common),
                        hkdf_provider: s.hkdf_provider,
                        aead_alg,
                        quic: s.quic,
                    })))
                }
                SupportedCipherSuite::Tls12(s) => {
                    let aead_alg: &'static Tracked12 = Box::leak(Box::new(Tracked12(s.aead_alg)));
                    SupportedCipherSuite::Tls12(Box::leak(Box::new(Tls12CipherSuite {
                        common: common(&s.common),
                        prf_provider: s.prf_provider,
                        kx: s.kx,
                        sign: s.sign,
                        aead_alg,
                    })))
                }
            })
            .collect()
    })
}

fn common(c: &CipherSuiteCommon) -> CipherSuiteCommon {
    CipherSuiteCommon {
        suite: c.suite,
        hash_provider: c.hash_provider,
        confidentiality_limit: c.confidentiality_limit,
    }
}

/// Registers a new encrypter with the session in scope and returns the one rustls uses.
fn track_encrypter(inner: Box<dyn MessageEncrypter>, tls13: bool) -> Box<dyn MessageEncrypter> {
    let Some(state) = current() else {
        return inner;
    };
    {
        let mut s = lock(&state);
        if tls13 {
            s.tls13_installs.0 += 1;
        }
        s.writer = Some((inner, 0));
        s.live.0 = tls13;
    }
    Box::new(SharedEncrypter(state))
}

/// Registers a new decrypter with the session in scope and returns the one rustls uses;
/// `finished_len` is the length of a Finished message read under it.
fn track_decrypter(
    inner: Box<dyn MessageDecrypter>,
    tls13: bool,
    finished_len: usize,
) -> Box<dyn MessageDecrypter> {
    let Some(state) = current() else {
        return inner;
    };
    {
        let mut s = lock(&state);
        if tls13 {
            s.tls13_installs.1 += 1;
        }
        s.reader = Some((inner, 0));
        s.live.1 = tls13;
        s.reader_tls13 = tls13;
        s.plaintext = Some(PlaintextCheck::new(finished_len));
    }
    Box::new(SharedDecrypter(state))
}

/// The session's read protection, shared between rustls and the engine.
struct SharedDecrypter(Arc<Mutex<State>>);

impl MessageDecrypter for SharedDecrypter {
    fn decrypt<'a>(
        &mut self,
        msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let mut state = lock(&self.0);
        let state = &mut *state;
        state.live.1 = true;
        let (decrypter, next) = state.reader.as_mut().ok_or(Error::DecryptError)?;
        let plain = decrypter.decrypt(msg, seq)?;
        *next = seq + 1;
        if let Some(check) = &mut state.plaintext {
            check.check(plain.typ, plain.payload)?;
        }
        Ok(plain)
    }
}

/// The session's write protection, shared between rustls and the engine.
struct SharedEncrypter(Arc<Mutex<State>>);

impl MessageEncrypter for SharedEncrypter {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let mut state = lock(&self.0);
        state.live.0 = true;
        let alert = (msg.typ == ContentType::Alert).then(|| msg.payload.to_vec());
        if let Some(alert) = &alert {
            state.last_alert = alert.get(1).copied();
        }
        let fatal_alert =
            state.fatal_as_close_notify && alert.is_some_and(|alert| alert.first() == Some(&FATAL));
        let msg = if fatal_alert {
            // s2n announces its own failures with a generic close_notify (R57).
            OutboundPlainMessage {
                payload: OutboundChunks::Single(&CLOSE_NOTIFY),
                ..msg
            }
        } else {
            msg
        };
        let answer = is_key_update_answer(&msg);
        let (encrypter, next) = state.writer.as_mut().ok_or(Error::EncryptError)?;
        let record = encrypter.encrypt(msg, seq)?;
        *next = seq + 1;
        state.held_answer = answer.then(|| record.clone().encode());
        Ok(record)
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        lock(&self.0)
            .writer
            .as_ref()
            .map_or(payload_len, |(e, _)| e.encrypted_payload_len(payload_len))
    }
}

/// Whether `msg` is a KeyUpdate with update_not_requested (RFC 8446 §4.6.3), which rustls
/// seals only to answer a request.
fn is_key_update_answer(msg: &OutboundPlainMessage<'_>) -> bool {
    const ANSWER: [u8; 5] = [24, 0, 0, 1, 0];
    msg.typ == ContentType::Handshake
        && msg.payload.len() == ANSWER.len()
        && msg.payload.to_vec() == ANSWER
}

/// A TLS 1.3 AEAD whose keys are reported to the session in scope, with its suite's hash
/// length (a Finished message's length).
struct Tracked13(&'static dyn Tls13AeadAlgorithm, usize);

impl Tls13AeadAlgorithm for Tracked13 {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        track_encrypter(self.0.encrypter(key, iv), true)
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        track_decrypter(self.0.decrypter(key, iv), true, self.1)
    }

    fn key_len(&self) -> usize {
        self.0.key_len()
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        self.0.extract_keys(key, iv)
    }

    fn fips(&self) -> bool {
        self.0.fips()
    }
}

/// A TLS 1.2 AEAD whose write keys are reported to the session in scope.
struct Tracked12(&'static dyn Tls12AeadAlgorithm);

impl Tls12AeadAlgorithm for Tracked12 {
    fn encrypter(&self, key: AeadKey, iv: &[u8], extra: &[u8]) -> Box<dyn MessageEncrypter> {
        track_encrypter(self.0.encrypter(key, iv, extra), false)
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        track_decrypter(self.0.decrypter(key, iv), false, TLS12_VERIFY_DATA_LEN)
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        self.0.key_block_shape()
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        self.0.extract_keys(key, iv, explicit)
    }

    fn fips(&self) -> bool {
        self.0.fips()
    }
}
