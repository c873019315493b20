//! Native s2n-tls as the differential oracle.
//!
//! tlsbox reproduces s2n-tls's send/recv contract; the cross-boundary tests run each scenario
//! through the tlsbox component *and* through real s2n-tls (the `s2n-tls-sys` FFI) and
//! compare the outcomes. This module is the s2n side: an [`S2nPair`] of in-memory s2n
//! connections (client and server) that complete a real TLS 1.3 handshake, after which the
//! client's transport follows the same [`Step`] scripts and records the same [`Call`]s as
//! `tlsbox_test_support::ScriptedTransport`. Results come back as [`Outcome`]s, which can also be built
//! from tlsbox results ([`Outcome::from_send`], [`Outcome::from_unit`],
//! [`Outcome::from_recv`]) and compared with `==`.
//!
//! This is the one module of the project allowed to contain `unsafe`; everything it exports
//! is safe.
//!
//! s2n facts the harness relies on (see the design notes): `s2n_init` runs once per process;
//! `s2n_errno` is thread-local and not cleared on success, so it is reset before each call;
//! the blocked status is preset to a sentinel because some failures never write it;
//! self-service blinding keeps a failed call from sleeping 10–30 s; session tickets are off
//! so the client's sequence numbers start at 0; `S2N_DONT_MLOCK=1` keeps many parallel
//! connections within the locked-memory limit.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

mod wire;

use std::cell::{RefCell, RefMut};
use std::ffi::{CStr, CString, c_int, c_void};
use std::ptr::NonNull;
use std::sync::Once;

use s2n_tls_sys as sys;
use tlsbox::{Blocked, ErrorKind};
use tlsbox_test_support::scripted::{Call, Step};

use wire::Wire;

/// The security policy on both sides: it negotiates TLS 1.3 `TLS_AES_256_GCM_SHA384`, the
/// suite the contract's wire figures are stated for (`default_tls13` would pick AES-128).
pub const SECURITY_POLICY: &str = "20190801";

/// The cipher suite every handshaken pair is checked to have negotiated.
pub const EXPECTED_CIPHER: &str = "TLS_AES_256_GCM_SHA384";

/// The server name the client sends and verifies against the server certificate.
pub const SERVER_NAME: &str = "localhost";

/// Preset into the blocked out-parameter: a value s2n never writes, so "left untouched" is
/// detectable (e.g. `s2n_recv` with a negative size returns before touching it).
const BLOCKED_SENTINEL: sys::s2n_blocked_status::Type = 0x5A5A_5A5A;

/// s2n's name for a transport failure, which tlsbox splits into `io` and `broken-pipe`.
const S2N_ERR_IO: &str = "S2N_ERR_IO";

/// s2n error names and the tlsbox names for the same failures. Names not listed here are
/// passed through unchanged, so an unexpected s2n error shows up verbatim in a mismatch.
const ERROR_NAMES: &[(&str, &str)] = &[
    ("S2N_ERR_IO_BLOCKED", "io-blocked"),
    (S2N_ERR_IO, "io"), // or "broken-pipe", decided per call (see `io_error_name`)
    ("S2N_ERR_CLOSED", "closed"),
    ("S2N_ERR_SEND_SIZE", "send-size"),
    ("S2N_ERR_INVALID_ARGUMENT", "invalid-argument"),
    ("S2N_ERR_INVALID_DYNAMIC_THRESHOLD", "invalid-argument"),
    ("S2N_ERR_ENCRYPT", "encrypt"),
    ("S2N_ERR_ALERT", "alert"),
    ("S2N_ERR_DECRYPT", "decrypt"),
    ("S2N_ERR_BAD_MESSAGE", "bad-message"),
    ("S2N_ERR_SHUTDOWN_PAUSED", "shutdown-paused"),
    ("S2N_ERR_RECORD_LIMIT", "record-too-large"),
];

/// The tlsbox name for an s2n error name (see [`ERROR_NAMES`]); `S2N_ERR_IO` maps to `io`
/// here, the broken-pipe distinction needs the call's context.
pub fn tlsbox_error_name(s2n_name: &str) -> String {
    ERROR_NAMES
        .iter()
        .find(|(s2n, _)| *s2n == s2n_name)
        .map_or(s2n_name, |(_, tlsbox)| tlsbox)
        .to_owned()
}

/// What one call returned, in a shape both s2n and tlsbox results convert to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The call's return value: a byte count, 0 for calls without one, −1 on failure.
    pub ret: i64,
    /// The blocked status reported with the result (s2n's out-parameter). An s2n call that
    /// left it untouched reads as `NotBlocked`.
    pub blocked: Blocked,
    /// `None` on success; else the error kind (s2n's error type) and the tlsbox-style name.
    pub error: Option<(ErrorKind, String)>,
}

impl Outcome {
    /// A success returning `ret` with `blocked`.
    pub fn ok(ret: i64, blocked: Blocked) -> Self {
        Outcome {
            ret,
            blocked,
            error: None,
        }
    }

    /// A failure (`ret` −1) with `blocked`, `kind` and tlsbox-style `name`.
    pub fn err(blocked: Blocked, kind: ErrorKind, name: &str) -> Self {
        Outcome {
            ret: -1,
            blocked,
            error: Some((kind, name.to_owned())),
        }
    }

    /// The outcome of a tlsbox send-like call (`send`, `sendv_with_offset`).
    pub fn from_send(result: Result<tlsbox::Progress, tlsbox::Error>) -> Self {
        match result {
            Ok(progress) => Outcome::ok(i64::from(progress.bytes), progress.blocked),
            Err(e) => Outcome::from_error(e),
        }
    }

    /// The outcome of a tlsbox call without a count (`flush`, `shutdown`, setters): `ret` 0
    /// and `NotBlocked` on success.
    pub fn from_unit(result: Result<(), tlsbox::Error>) -> Self {
        match result {
            Ok(()) => Outcome::ok(0, Blocked::NotBlocked),
            Err(e) => Outcome::from_error(e),
        }
    }

    /// The outcome and data of a tlsbox `recv`: `ret` is the number of bytes received.
    pub fn from_recv(result: Result<tlsbox::Received, tlsbox::Error>) -> (Self, Vec<u8>) {
        match result {
            Ok(received) => (
                Outcome::ok(received.data.len() as i64, received.blocked),
                received.data,
            ),
            Err(e) => (Outcome::from_error(e), Vec::new()),
        }
    }

    fn from_error(e: tlsbox::Error) -> Self {
        Outcome {
            ret: -1,
            blocked: e.blocked,
            error: Some((e.kind, e.name)),
        }
    }

    /// The error name, if the call failed.
    pub fn error_name(&self) -> Option<&str> {
        self.error.as_ref().map(|(_, name)| name.as_str())
    }

    /// The error kind, if the call failed.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        self.error.as_ref().map(|(kind, _)| *kind)
    }

    /// Whether the call failed with the retryable would-block error.
    pub fn is_blocked(&self) -> bool {
        self.error_kind() == Some(ErrorKind::Blocked)
    }
}

/// How an [`S2nPair`] is built. Everything here must be fixed before the connections exist
/// (config-level settings, negotiated extensions).
#[derive(Clone, Debug, Default)]
pub struct S2nOptions {
    /// `s2n_config_set_send_buffer_size` on the client's config; any value turns on
    /// multi-record send (R38). Must be at least 1034 or construction panics.
    pub send_buffer_size: Option<u32>,
    /// Maximum fragment length the client negotiates (RFC 6066 extension, accepted by the
    /// server): 512, 1024, 2048 or 4096. Other values panic.
    pub max_fragment_length: Option<u16>,
    /// `s2n_config_set_recv_multi_record` on the client's config from the start (it can
    /// also be switched later with [`S2nPair::recv_multi_record`]).
    pub recv_multi_record: bool,
}

/// Calls `s2n_init` exactly once per process, after setting `S2N_DONT_MLOCK=1`.
fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("S2N_DONT_MLOCK").is_none() {
            // SAFETY: set once, before s2n (the only reader) starts; std serialises its own
            // environment access and no test code reads the environment through libc
            // concurrently.
            unsafe { std::env::set_var("S2N_DONT_MLOCK", "1") };
        }
        reset_s2n_errno();
        // SAFETY: no arguments; `Once` guarantees a single call per process.
        let rc = unsafe { sys::s2n_init() };
        assert_eq!(rc, 0, "s2n_init failed: {}", last_error_name());
    });
}

/// Clears the thread-local `s2n_errno`, which s2n sets on failure but never clears.
fn reset_s2n_errno() {
    // SAFETY: s2n_errno_location returns a valid pointer to this thread's s2n_errno.
    unsafe { *sys::s2n_errno_location() = 0 };
}

/// The thread-local `s2n_errno`.
fn s2n_errno() -> c_int {
    // SAFETY: as in reset_s2n_errno; the value is a plain int.
    unsafe { *sys::s2n_errno_location() }
}

/// s2n's name for an error code, e.g. `S2N_ERR_IO_BLOCKED`.
fn s2n_error_name(code: c_int) -> String {
    // SAFETY: s2n_strerror_name accepts any code and returns a static NUL-terminated string
    // (or null, which is checked).
    let name = unsafe { sys::s2n_strerror_name(code) };
    if name.is_null() {
        return format!("S2N_ERR_UNKNOWN({code})");
    }
    // SAFETY: non-null, NUL-terminated, static lifetime.
    unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned()
}

/// The name of the last error on this thread, for panic messages.
fn last_error_name() -> String {
    s2n_error_name(s2n_errno())
}

/// s2n's error type for an error code, as tlsbox's kind.
fn error_kind(code: c_int) -> ErrorKind {
    // SAFETY: pure function of its argument.
    match unsafe { sys::s2n_error_get_type(code) } as sys::s2n_error_type::Type {
        sys::s2n_error_type::IO => ErrorKind::Io,
        sys::s2n_error_type::CLOSED => ErrorKind::Closed,
        sys::s2n_error_type::BLOCKED => ErrorKind::Blocked,
        sys::s2n_error_type::ALERT => ErrorKind::Alert,
        sys::s2n_error_type::PROTO => ErrorKind::Protocol,
        sys::s2n_error_type::USAGE => ErrorKind::Usage,
        _ => ErrorKind::Internal,
    }
}

/// s2n's blocked status as tlsbox's; the sentinel (never written) reads as not blocked.
fn blocked_from(status: sys::s2n_blocked_status::Type) -> Blocked {
    match status {
        sys::s2n_blocked_status::BLOCKED_ON_READ => Blocked::OnRead,
        sys::s2n_blocked_status::BLOCKED_ON_WRITE => Blocked::OnWrite,
        sys::s2n_blocked_status::BLOCKED_ON_APPLICATION_INPUT => Blocked::OnApplicationInput,
        sys::s2n_blocked_status::BLOCKED_ON_EARLY_DATA => Blocked::OnEarlyData,
        _ => Blocked::NotBlocked,
    }
}

/// Panics with s2n's error name if a setup call failed.
fn check(rc: c_int, what: &str) {
    assert!(rc >= 0, "{what} failed: {}", last_error_name());
}

/// An owned `s2n_config`.
struct Config(NonNull<sys::s2n_config>);

impl Config {
    /// A config without the system trust store (nothing here should trust it).
    fn new() -> Self {
        init();
        // SAFETY: no arguments; returns an owned config or null.
        let ptr = unsafe { sys::s2n_config_new_minimal() };
        Config(NonNull::new(ptr).unwrap_or_else(|| panic!("s2n_config_new_minimal failed")))
    }

    fn ptr(&self) -> *mut sys::s2n_config {
        self.0.as_ptr()
    }

    /// Runs one setup call on the config; panics with s2n's error name if it fails.
    fn apply(&self, what: &str, call: impl FnOnce(*mut sys::s2n_config) -> c_int) {
        check(call(self.ptr()), what);
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: owned pointer, freed once; connections using it are dropped first (field
        // order in S2nPair).
        unsafe { sys::s2n_config_free(self.ptr()) };
    }
}

/// An owned `s2n_cert_chain_and_key`.
struct CertKey(NonNull<sys::s2n_cert_chain_and_key>);

impl CertKey {
    fn load(chain_pem: &str, key_pem: &str) -> Self {
        // SAFETY: no arguments; returns an owned object or null.
        let ptr = unsafe { sys::s2n_cert_chain_and_key_new() };
        let this = CertKey(NonNull::new(ptr).expect("s2n_cert_chain_and_key_new failed"));
        let chain = CString::new(chain_pem).expect("PEM without NUL");
        let key = CString::new(key_pem).expect("PEM without NUL");
        // SAFETY: valid object and NUL-terminated strings; s2n copies them.
        let rc = unsafe {
            sys::s2n_cert_chain_and_key_load_pem(this.0.as_ptr(), chain.as_ptr(), key.as_ptr())
        };
        check(rc, "s2n_cert_chain_and_key_load_pem");
        this
    }
}

impl Drop for CertKey {
    fn drop(&mut self) {
        // SAFETY: owned pointer, freed once, after the config that references it.
        unsafe { sys::s2n_cert_chain_and_key_free(self.0.as_ptr()) };
    }
}

/// An owned `s2n_connection`.
struct Conn(NonNull<sys::s2n_connection>);

impl Conn {
    fn new(mode: sys::s2n_mode::Type, config: &Config) -> Self {
        // SAFETY: plain constructor; returns an owned connection or null.
        let ptr = unsafe { sys::s2n_connection_new(mode) };
        let conn = Conn(NonNull::new(ptr).expect("s2n_connection_new failed"));
        // SAFETY: both pointers valid; the config outlives the connection (field order).
        check(
            unsafe { sys::s2n_connection_set_config(conn.ptr(), config.ptr()) },
            "s2n_connection_set_config",
        );
        // SAFETY: valid connection. Self-service blinding: failures never sleep.
        check(
            unsafe {
                sys::s2n_connection_set_blinding(
                    conn.ptr(),
                    sys::s2n_blinding::SELF_SERVICE_BLINDING,
                )
            },
            "s2n_connection_set_blinding",
        );
        conn
    }

    fn ptr(&self) -> *mut sys::s2n_connection {
        self.0.as_ptr()
    }

    /// Installs the callbacks, with `wire` as their context.
    fn set_io(
        &self,
        wire: &RefCell<Wire>,
        send: unsafe extern "C" fn(*mut c_void, *const u8, u32) -> c_int,
        recv: unsafe extern "C" fn(*mut c_void, *mut u8, u32) -> c_int,
    ) {
        let ctx = wire as *const RefCell<Wire> as *mut c_void;
        // SAFETY: valid connection; `ctx` points into the pair's Box, which outlives the
        // connection (freed first in S2nPair's field order); the callbacks only make shared
        // references to the RefCell.
        unsafe {
            check(
                sys::s2n_connection_set_send_cb(self.ptr(), Some(send)),
                "s2n_connection_set_send_cb",
            );
            check(
                sys::s2n_connection_set_send_ctx(self.ptr(), ctx),
                "s2n_connection_set_send_ctx",
            );
            check(
                sys::s2n_connection_set_recv_cb(self.ptr(), Some(recv)),
                "s2n_connection_set_recv_cb",
            );
            check(
                sys::s2n_connection_set_recv_ctx(self.ptr(), ctx),
                "s2n_connection_set_recv_ctx",
            );
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: owned pointer, freed once.
        unsafe { sys::s2n_connection_free(self.ptr()) };
    }
}

/// An s2n client and server connected in memory. The client is the connection under test:
/// after the handshake its transport is scripted (see [`S2nPair::script_send`]) and every
/// callback call is recorded; the server is the well-behaved peer.
///
/// Not `Send`: s2n's error state is thread-local, so a pair stays on its thread.
pub struct S2nPair {
    // Field order is drop order: connections before the configs and certificate they use,
    // and all of them before the transport state their callbacks point into.
    client: Conn,
    server: Conn,
    client_config: Config,
    server_config: Config,
    _cert: CertKey,
    wire: Box<RefCell<Wire>>,
    /// The server was asked for a KeyUpdate: its traffic secret is no longer the logged one.
    server_keys_updated: bool,
}

impl S2nPair {
    /// A handshaken pair: TLS 1.3 `TLS_AES_256_GCM_SHA384` with ECDSA P-256 certificates from
    /// `tlsbox::pki`. The client verifies the server's chain against the generated CA and
    /// the name `localhost`. The client's transport is scripted from here on and no call
    /// has been recorded yet.
    ///
    /// # Panics
    /// If any setup step or the handshake fails, or another version or suite is negotiated.
    pub fn new(options: S2nOptions) -> Self {
        let mut pair = S2nPair::build(&options);
        pair.handshake();
        pair.wire.borrow_mut().scripted = true;
        pair
    }

    /// A pair whose handshake has not run: the client has no keys (T20). Its transport is
    /// scripted from the start.
    pub fn unhandshaken(options: S2nOptions) -> Self {
        let pair = S2nPair::build(&options);
        pair.wire.borrow_mut().scripted = true;
        pair
    }

    /// The default pair ([`S2nOptions::default`]).
    pub fn handshaken() -> Self {
        S2nPair::new(S2nOptions::default())
    }

    fn build(options: &S2nOptions) -> Self {
        init();
        let pki =
            tlsbox_test_support::pki::Pki::generate(&[SERVER_NAME]).expect("generate certificates");
        let policy = CString::new(SECURITY_POLICY).expect("no NUL");

        let cert = CertKey::load(&pki.server_cert_pem, &pki.server_key_pem);
        let server_config = Config::new();
        let client_config = Config::new();
        let ca = CString::new(pki.ca_pem.as_str()).expect("PEM without NUL");
        // In the calls below the configs are valid, strings are NUL-terminated and copied by
        // s2n, and the certificate outlives the server config (S2nPair's field order).
        for config in [&server_config, &client_config] {
            // SAFETY: see above.
            config.apply("s2n_config_set_cipher_preferences", |c| unsafe {
                sys::s2n_config_set_cipher_preferences(c, policy.as_ptr())
            });
            // No tickets: no NewSessionTicket records, so the client's sequence numbers and
            // wire counts after the handshake are the contract's.
            // SAFETY: see above.
            config.apply("s2n_config_set_session_tickets_onoff", |c| unsafe {
                sys::s2n_config_set_session_tickets_onoff(c, 0)
            });
        }
        // SAFETY: see above.
        server_config.apply("s2n_config_add_cert_chain_and_key_to_store", |c| unsafe {
            sys::s2n_config_add_cert_chain_and_key_to_store(c, cert.0.as_ptr())
        });
        // SAFETY: see above.
        client_config.apply("s2n_config_add_pem_to_trust_store", |c| unsafe {
            sys::s2n_config_add_pem_to_trust_store(c, ca.as_ptr())
        });
        if let Some(size) = options.send_buffer_size {
            // SAFETY: see above.
            client_config.apply("s2n_config_set_send_buffer_size", |c| unsafe {
                sys::s2n_config_set_send_buffer_size(c, size)
            });
        }
        if let Some(length) = options.max_fragment_length {
            let code = match length {
                512 => sys::s2n_max_frag_len::LEN_512,
                1024 => sys::s2n_max_frag_len::LEN_1024,
                2048 => sys::s2n_max_frag_len::LEN_2048,
                4096 => sys::s2n_max_frag_len::LEN_4096,
                other => panic!("no max_fragment_length code for {other}"),
            };
            // SAFETY: see above.
            client_config.apply("s2n_config_send_max_fragment_length", |c| unsafe {
                sys::s2n_config_send_max_fragment_length(c, code)
            });
            // SAFETY: see above.
            server_config.apply("s2n_config_accept_max_fragment_length", |c| unsafe {
                sys::s2n_config_accept_max_fragment_length(c)
            });
        }
        if options.recv_multi_record {
            // SAFETY: see above.
            client_config.apply("s2n_config_set_recv_multi_record", |c| unsafe {
                sys::s2n_config_set_recv_multi_record(c, true)
            });
        }

        let wire = Box::new(RefCell::new(Wire::default()));
        let key_log_ctx = &*wire as *const RefCell<Wire> as *mut c_void;
        // SAFETY: `key_log_ctx` points into the pair's Box, which outlives the server config
        // (S2nPair's field order); the callback only makes shared references to the RefCell.
        server_config.apply("s2n_config_set_key_log_cb", |c| unsafe {
            sys::s2n_config_set_key_log_cb(c, Some(wire::server_key_log_cb), key_log_ctx)
        });
        let client = Conn::new(sys::s2n_mode::CLIENT, &client_config);
        let server = Conn::new(sys::s2n_mode::SERVER, &server_config);
        client.set_io(&wire, wire::client_send_cb, wire::client_recv_cb);
        server.set_io(&wire, wire::server_send_cb, wire::server_recv_cb);
        let name = CString::new(SERVER_NAME).expect("no NUL");
        // SAFETY: valid connection and NUL-terminated string (copied by s2n).
        check(
            unsafe { sys::s2n_set_server_name(client.ptr(), name.as_ptr()) },
            "s2n_set_server_name",
        );

        S2nPair {
            client,
            server,
            client_config,
            server_config,
            _cert: cert,
            wire,
            server_keys_updated: false,
        }
    }

    /// Runs both sides' `s2n_negotiate` until both finish, then checks what was negotiated
    /// and that no byte is left in flight.
    fn handshake(&mut self) {
        let (mut client_done, mut server_done) = (false, false);
        for _ in 0..100 {
            if !client_done {
                let o = self.run(|blocked| {
                    // SAFETY: valid connection and out-pointer.
                    unsafe { sys::s2n_negotiate(self.client.ptr(), blocked) as isize }
                });
                assert!(
                    o.error.is_none() || o.is_blocked(),
                    "client handshake: {o:?}"
                );
                client_done = o.error.is_none();
            }
            if !server_done {
                let o = self.run(|blocked| {
                    // SAFETY: valid connection and out-pointer.
                    unsafe { sys::s2n_negotiate(self.server.ptr(), blocked) as isize }
                });
                assert!(
                    o.error.is_none() || o.is_blocked(),
                    "server handshake: {o:?}"
                );
                server_done = o.error.is_none();
            }
            if client_done && server_done {
                break;
            }
        }
        assert!(client_done && server_done, "handshake did not finish");

        // SAFETY: valid connection; returns an int.
        let version = unsafe { sys::s2n_connection_get_actual_protocol_version(self.client.ptr()) };
        assert_eq!(version, sys::s2n_tls_version::TLS13, "negotiated version");
        // SAFETY: valid connection; returns a static NUL-terminated name or null.
        let cipher = unsafe { sys::s2n_connection_get_cipher(self.client.ptr()) };
        assert!(!cipher.is_null(), "no cipher: {}", last_error_name());
        // SAFETY: non-null static NUL-terminated string.
        let cipher = unsafe { CStr::from_ptr(cipher) }.to_string_lossy();
        assert_eq!(cipher, EXPECTED_CIPHER, "negotiated cipher suite");

        let wire = self.wire.borrow();
        assert!(
            wire.to_client.is_empty() && wire.to_server.is_empty(),
            "bytes left in flight after the handshake: {} to the client, {} to the server",
            wire.to_client.len(),
            wire.to_server.len()
        );
    }

    fn wire(&self) -> RefMut<'_, Wire> {
        self.wire.borrow_mut()
    }

    /// Runs one s2n call with `s2n_errno` cleared and the blocked sentinel preset, and turns
    /// its result into an [`Outcome`]. `call` gets the blocked out-pointer and returns s2n's
    /// return value. No borrow of the transport state is held during the call.
    fn run(&self, call: impl FnOnce(*mut sys::s2n_blocked_status::Type) -> isize) -> Outcome {
        let first_call = self.wire.borrow().calls.len();
        let mut blocked = BLOCKED_SENTINEL;
        reset_s2n_errno();
        let ret = call(&mut blocked);
        let blocked = blocked_from(blocked);
        if ret >= 0 {
            return Outcome::ok(ret as i64, blocked);
        }
        let code = s2n_errno();
        let s2n_name = s2n_error_name(code);
        let name = if s2n_name == S2N_ERR_IO {
            self.io_error_name(first_call)
        } else {
            tlsbox_error_name(&s2n_name)
        };
        Outcome {
            ret: -1,
            blocked,
            error: Some((error_kind(code), name)),
        }
    }

    /// Runs a setter that returns an s2n status and has no blocked out-parameter.
    fn run_status(&self, call: impl FnOnce() -> c_int) -> Outcome {
        self.run(|_| call() as isize)
    }

    /// tlsbox's name for an `S2N_ERR_IO` raised by the call that started when
    /// `first_call` calls had been recorded: `broken-pipe` if that call's last callback
    /// reported a broken pipe (or, on send, end of stream), or if it made no callback
    /// because s2n had latched the write side broken (R9); otherwise `io`.
    fn io_error_name(&self, first_call: usize) -> String {
        use tlsbox::IoError::{BrokenPipe, Closed};
        let wire = self.wire.borrow();
        let broken = match wire.calls[first_call.min(wire.calls.len())..].last() {
            Some(call) => matches!(call.outcome, Err(BrokenPipe) | Err(Closed)),
            None => wire.send_broken,
        };
        if broken { "broken-pipe" } else { "io" }.to_owned()
    }

    // ---- the connection under test (the client) ----

    /// `s2n_send(data)`.
    pub fn send(&mut self, data: &[u8]) -> Outcome {
        let conn = self.client.ptr();
        self.run(|blocked| {
            // SAFETY: `data` is valid for `data.len()` bytes; s2n only reads it.
            unsafe { sys::s2n_send(conn, data.as_ptr().cast(), data.len() as isize, blocked) }
        })
    }

    /// `s2n_sendv_with_offset(bufs, offset)`.
    pub fn sendv_with_offset(&mut self, bufs: &[&[u8]], offset: i64) -> Outcome {
        let conn = self.client.ptr();
        let iov: Vec<libc::iovec> = bufs
            .iter()
            .map(|b| libc::iovec {
                iov_base: b.as_ptr() as *mut c_void,
                iov_len: b.len(),
            })
            .collect();
        self.run(|blocked| {
            // SAFETY: every iovec describes a live slice; s2n only reads through them.
            unsafe {
                sys::s2n_sendv_with_offset(
                    conn,
                    iov.as_ptr(),
                    iov.len() as isize,
                    offset as isize,
                    blocked,
                )
            }
        })
    }

    /// `s2n_flush` (private in s2n, exposed by the crate's `internal` feature): pushes
    /// records already encrypted but not yet taken by the transport.
    pub fn flush(&mut self) -> Outcome {
        let conn = self.client.ptr();
        // SAFETY: valid connection and out-pointer.
        self.run(|blocked| unsafe { sys::s2n_flush(conn, blocked) as isize })
    }

    /// `s2n_shutdown_send`: sends close_notify and closes the write side.
    pub fn shutdown_send(&mut self) -> Outcome {
        let conn = self.client.ptr();
        // SAFETY: valid connection and out-pointer.
        self.run(|blocked| unsafe { sys::s2n_shutdown_send(conn, blocked) as isize })
    }

    /// `s2n_shutdown`: sends close_notify, then reads until the peer's close_notify.
    pub fn shutdown(&mut self) -> Outcome {
        let conn = self.client.ptr();
        // SAFETY: valid connection and out-pointer.
        self.run(|blocked| unsafe { sys::s2n_shutdown(conn, blocked) as isize })
    }

    /// `s2n_recv` into a buffer of `size` bytes; returns the outcome and the bytes read.
    pub fn recv(&mut self, size: usize) -> (Outcome, Vec<u8>) {
        let conn = self.client.ptr();
        let mut buf = vec![0u8; size];
        let outcome = self.run(|blocked| {
            // SAFETY: `buf` is writable for `size` bytes.
            unsafe { sys::s2n_recv(conn, buf.as_mut_ptr().cast(), size as isize, blocked) }
        });
        buf.truncate(outcome.ret.max(0) as usize);
        (outcome, buf)
    }

    /// `s2n_peek`: unread plaintext of the current record.
    pub fn peek(&self) -> u32 {
        // SAFETY: valid connection.
        unsafe { sys::s2n_peek(self.client.ptr()) }
    }

    /// `s2n_peek_buffered`: ciphertext read ahead beyond the current record (R52).
    pub fn peek_buffered(&self) -> u32 {
        // SAFETY: valid connection.
        unsafe { sys::s2n_peek_buffered(self.client.ptr()) }
    }

    /// `s2n_connection_set_recv_buffering(enabled)` on the client (R7, T49).
    ///
    /// # Panics
    /// If s2n refuses (it cannot for a TLS connection).
    pub fn recv_buffering(&mut self, enabled: bool) {
        // SAFETY: valid connection.
        let rc = unsafe { sys::s2n_connection_set_recv_buffering(self.client.ptr(), enabled) };
        check(rc, "s2n_connection_set_recv_buffering");
    }

    /// Bytes the client's send callback has accepted, handshake included (R11).
    pub fn wire_bytes_out(&self) -> u64 {
        // SAFETY: valid connection.
        unsafe { sys::s2n_connection_get_wire_bytes_out(self.client.ptr()) }
    }

    /// Bytes the client's recv callback has delivered, handshake included (R11).
    pub fn wire_bytes_in(&self) -> u64 {
        // SAFETY: valid connection.
        unsafe { sys::s2n_connection_get_wire_bytes_in(self.client.ptr()) }
    }

    /// `s2n_connection_get_delay`: nanoseconds of blinding delay still to wait.
    pub fn delay(&self) -> u64 {
        // SAFETY: valid connection.
        unsafe { sys::s2n_connection_get_delay(self.client.ptr()) }
    }

    /// `s2n_connection_get_alert`: the alert code the peer sent, if any.
    pub fn alert(&self) -> Option<u8> {
        reset_s2n_errno();
        // SAFETY: valid connection.
        let alert = unsafe { sys::s2n_connection_get_alert(self.client.ptr()) };
        u8::try_from(alert).ok()
    }

    // ---- the scripted transport ----

    /// Every client callback call since the handshake (or the last [`Self::clear_calls`]).
    pub fn calls(&self) -> Vec<Call> {
        self.wire().calls.clone()
    }

    /// Forgets recorded calls.
    pub fn clear_calls(&mut self) {
        self.wire().calls.clear();
    }

    /// Appends steps for the client's send callback; once they run out, sends take
    /// everything.
    pub fn script_send(&mut self, steps: impl IntoIterator<Item = Step>) {
        self.wire().send_script.extend(steps);
    }

    /// Appends steps for the client's recv callback; once they run out, recvs deliver what
    /// is available (would-block when nothing is).
    pub fn script_recv(&mut self, steps: impl IntoIterator<Item = Step>) {
        self.wire().recv_script.extend(steps);
    }

    /// Takes every byte the client's send callback accepted since the last call. Does not
    /// affect what [`Self::peer_receive`] will read.
    pub fn take_wire_out(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.wire().wire_out)
    }

    /// Makes raw bytes available to the client's recv callback (after anything the server
    /// already sent).
    pub fn push_inbound(&mut self, data: &[u8]) {
        self.wire().to_client.extend(data);
    }

    /// Bytes waiting for the client's recv callback.
    pub fn inbound_len(&self) -> usize {
        self.wire().to_client.len()
    }

    /// Takes the bytes waiting for the client's recv callback after the first `start` (e.g.
    /// the records a [`Self::peer_send`] just queued behind what [`Self::inbound_len`]
    /// reported before it), so a test can deliver them later, split or altered, with
    /// [`Self::push_inbound`].
    pub fn take_inbound_from(&mut self, start: usize) -> Vec<u8> {
        let mut wire = self.wire();
        let start = start.min(wire.to_client.len());
        wire.to_client.drain(start..).collect()
    }

    // ---- configuration of the client ----

    /// `s2n_connection_prefer_throughput`: 16384-byte fragments.
    ///
    /// # Panics
    /// If s2n refuses (it cannot for a live connection).
    pub fn prefer_throughput(&mut self) {
        // SAFETY: valid connection.
        let rc = unsafe { sys::s2n_connection_prefer_throughput(self.client.ptr()) };
        check(rc, "s2n_connection_prefer_throughput");
    }

    /// `s2n_connection_prefer_low_latency`: 1435-byte fragments.
    ///
    /// # Panics
    /// If s2n refuses (it cannot for a live connection).
    pub fn prefer_low_latency(&mut self) {
        // SAFETY: valid connection.
        let rc = unsafe { sys::s2n_connection_prefer_low_latency(self.client.ptr()) };
        check(rc, "s2n_connection_prefer_low_latency");
    }

    /// `s2n_connection_set_dynamic_record_threshold(threshold, timeout)` (R33–R35).
    pub fn set_dynamic_record_threshold(&mut self, threshold: u32, timeout: u16) -> Outcome {
        let conn = self.client.ptr();
        // SAFETY: valid connection.
        self.run_status(|| unsafe {
            sys::s2n_connection_set_dynamic_record_threshold(conn, threshold, timeout)
        })
    }

    /// `s2n_connection_request_key_update(S2N_KEY_UPDATE_NOT_REQUESTED)`: the next
    /// non-empty send emits a KeyUpdate first.
    pub fn request_key_update(&mut self) -> Outcome {
        self.key_update(sys::s2n_peer_key_update::KEY_UPDATE_NOT_REQUESTED)
    }

    /// `s2n_connection_request_key_update(S2N_KEY_UPDATE_REQUESTED)`, which s2n rejects
    /// with `invalid-argument` (T23).
    pub fn request_peer_key_update(&mut self) -> Outcome {
        self.key_update(sys::s2n_peer_key_update::KEY_UPDATE_REQUESTED)
    }

    fn key_update(&mut self, request: sys::s2n_peer_key_update::Type) -> Outcome {
        let conn = self.client.ptr();
        // SAFETY: valid connection.
        self.run_status(|| unsafe { sys::s2n_connection_request_key_update(conn, request) })
    }

    /// `s2n_config_set_recv_multi_record` on the client's own config (s2n has no
    /// per-connection switch; the config is not shared, so this is per pair). Takes
    /// effect on the next recv.
    pub fn recv_multi_record(&mut self, enabled: bool) -> Outcome {
        let config = self.client_config.ptr();
        // SAFETY: valid config, used only by this pair's client.
        self.run_status(|| unsafe { sys::s2n_config_set_recv_multi_record(config, enabled) })
    }

    /// `s2n_config_set_send_buffer_size(size)` on a scratch config: whether s2n accepts
    /// the size (T23). Use [`S2nOptions::send_buffer_size`] to build a pair with it.
    pub fn validate_send_buffer_size(size: u32) -> Outcome {
        let config = Config::new();
        reset_s2n_errno();
        // SAFETY: valid scratch config.
        let rc = unsafe { sys::s2n_config_set_send_buffer_size(config.ptr(), size) };
        if rc >= 0 {
            return Outcome::ok(0, Blocked::NotBlocked);
        }
        let code = s2n_errno();
        Outcome::err(
            Blocked::NotBlocked,
            error_kind(code),
            &tlsbox_error_name(&s2n_error_name(code)),
        )
    }

    // ---- the peer (the server) ----

    /// Feeds everything the client's send callback accepted (and the server has not read
    /// yet) to the server and returns the plaintext it decrypts. A trailing partial record
    /// stays with the server for the next call.
    ///
    /// # Panics
    /// If the server fails with anything but would-block or a clean close (the stream on
    /// the wire was not valid TLS from this client); use [`Self::try_peer_receive`] then.
    pub fn peer_receive(&mut self) -> Vec<u8> {
        let (data, last) = self.try_peer_receive();
        assert!(
            last.is_blocked() || last.ret == 0,
            "server failed to read the client's records: {last:?}"
        );
        data
    }

    /// Like [`Self::peer_receive`], also returning the server's last recv outcome: would-block
    /// once everything was read, `ret` 0 after the client's close_notify, or the error.
    pub fn try_peer_receive(&mut self) -> (Vec<u8>, Outcome) {
        let conn = self.server.ptr();
        let mut data = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let outcome = self.run(|blocked| {
                // SAFETY: `buf` is writable for its whole length.
                unsafe { sys::s2n_recv(conn, buf.as_mut_ptr().cast(), buf.len() as isize, blocked) }
            });
            if outcome.ret <= 0 {
                return (data, outcome);
            }
            data.extend_from_slice(&buf[..outcome.ret as usize]);
        }
    }

    /// The server sends `data` (its transport takes everything); the records are queued
    /// for the client's recv callback.
    pub fn peer_send(&mut self, data: &[u8]) -> Outcome {
        let conn = self.server.ptr();
        self.run(|blocked| {
            // SAFETY: `data` is valid for `data.len()` bytes; s2n only reads it.
            unsafe { sys::s2n_send(conn, data.as_ptr().cast(), data.len() as isize, blocked) }
        })
    }

    /// The server's `s2n_shutdown_send`: its close_notify is queued for the client.
    pub fn peer_shutdown_send(&mut self) -> Outcome {
        let conn = self.server.ptr();
        // SAFETY: valid connection and out-pointer.
        self.run(|blocked| unsafe { sys::s2n_shutdown_send(conn, blocked) as isize })
    }

    /// The server's `s2n_connection_request_key_update(NOT_REQUESTED)`: its next
    /// [`Self::peer_send`] starts with a KeyUpdate record.
    pub fn peer_request_key_update(&mut self) -> Outcome {
        self.server_keys_updated = true;
        let conn = self.server.ptr();
        // SAFETY: valid connection.
        self.run_status(|| unsafe {
            sys::s2n_connection_request_key_update(
                conn,
                sys::s2n_peer_key_update::KEY_UPDATE_NOT_REQUESTED,
            )
        })
    }
}

impl S2nPair {
    /// A TLS 1.3 alert record `{level, description}` encrypted under the server's current
    /// application traffic keys at its next sequence number — what the server would write
    /// if s2n sent fatal alerts (it only writes close_notify on its own, R57). Nothing is
    /// queued: deliver it with [`Self::push_inbound`]. The server's own state does not
    /// advance, so it must not send again afterwards.
    ///
    /// # Panics
    /// If the server's keys were updated, or its secret was not logged.
    pub fn peer_alert_record(&mut self, level: u8, description: u8) -> Vec<u8> {
        use rustls::crypto::cipher::{AeadKey, Iv, OutboundChunks, OutboundPlainMessage};
        use rustls::crypto::tls13::{OkmBlock, expand};
        use rustls::{ContentType, ProtocolVersion, SupportedCipherSuite};

        assert!(
            !self.server_keys_updated,
            "the server's keys changed; the logged secret is stale"
        );
        let (secret, seq) = {
            let wire = self.wire.borrow();
            let line = wire
                .key_log
                .iter()
                .find(|l| l.starts_with("SERVER_TRAFFIC_SECRET_0 "))
                .expect("s2n logged the server's application secret");
            let hex = line.rsplit(' ').next().expect("secret field");
            let secret: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            (secret, wire.server_records)
        };
        let SupportedCipherSuite::Tls13(suite) =
            rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384
        else {
            unreachable!("a TLS 1.3 suite");
        };
        let expander = suite
            .hkdf_provider
            .expander_for_okm(&OkmBlock::new(&secret));
        // HKDF-Expand-Label(secret, label, "", length) (RFC 8446 §7.1, §7.3).
        let label = |len: u16, name: &[u8]| -> Vec<Vec<u8>> {
            vec![
                len.to_be_bytes().to_vec(),
                vec![(6 + name.len()) as u8],
                b"tls13 ".to_vec(),
                name.to_vec(),
                vec![0],
            ]
        };
        let key_info = label(32, b"key");
        let iv_info = label(12, b"iv");
        let key: AeadKey = expand::<AeadKey, 32>(
            expander.as_ref(),
            &key_info.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        );
        let iv: [u8; 12] = expand::<[u8; 12], 12>(
            expander.as_ref(),
            &iv_info.iter().map(Vec::as_slice).collect::<Vec<_>>(),
        );
        let mut encrypter = suite.aead_alg.encrypter(key, Iv::new(iv));
        let alert = [level, description];
        let message = OutboundPlainMessage {
            typ: ContentType::Alert,
            version: ProtocolVersion::TLSv1_2,
            payload: OutboundChunks::Single(&alert),
        };
        encrypter
            .encrypt(message, seq)
            .expect("encrypt the alert")
            .encode()
    }
}

/// Total lengths (header included) of the TLS records in a byte stream, from their
/// headers. A truncated last record is listed with its full declared length.
pub fn record_lengths(mut stream: &[u8]) -> Vec<usize> {
    let mut lengths = Vec::new();
    while stream.len() >= 5 {
        let length = 5 + usize::from(u16::from_be_bytes([stream[3], stream[4]]));
        lengths.push(length);
        stream = &stream[length.min(stream.len())..];
    }
    lengths
}

/// The `requested` length of every recorded send callback call, in order.
pub fn send_requests(calls: &[Call]) -> Vec<usize> {
    requests(calls, tlsbox_test_support::scripted::Direction::Send)
}

/// The `requested` length of every recorded recv callback call, in order.
pub fn recv_requests(calls: &[Call]) -> Vec<usize> {
    requests(calls, tlsbox_test_support::scripted::Direction::Recv)
}

fn requests(calls: &[Call], direction: tlsbox_test_support::scripted::Direction) -> Vec<usize> {
    calls
        .iter()
        .filter(|c| c.direction == direction)
        .map(|c| c.requested)
        .collect()
}
