//! The WIT glue: converts between the generated bindings and the native types, and nothing
//! else. All behaviour lives in `conn`, `engine` and `crypto`.
// The generated items carry the WIT's docs, but not on every item rustdoc counts.
#![allow(missing_docs)]

use std::cell::Cell;
use std::sync::Arc;

use rustls_pki_types::TrustAnchor;
use zeroize::Zeroize;

use crate::conn;
use crate::engine;
use crate::io;
use crate::types;

wit_bindgen::generate!({
    world: "endpoint",
    path: "../wit",
});

use exports::tlsbox::tls::tls::{self as wit, ConfigBorrow};
use tlsbox::tls::session_store;
use tlsbox::tls::transport;
use tlsbox::tls::trust_store;
use tlsbox::tls::types as wtypes;

struct Component;

export!(Component);

impl wit::Guest for Component {
    type Config = ConfigResource;
    type Connection = ConnectionResource;
}

impl exports::tlsbox::tls::diagnostics::Guest for Component {
    fn seal_records(suite: wtypes::CipherSuite, record_size: u32, records: u32) -> u64 {
        engine::seal_records(suite_in(suite), record_size, records)
    }
}

/// The exported `config` resource.
pub struct ConfigResource(conn::Config);

/// The exported `connection` resource. WIT methods take `&self`, so the state sits in a
/// cell, and each call takes it out and puts it back when it returns (no `RefCell`).
///
/// Why not a `RefCell`: a host exception that unwinds through the guest (jco: a JS transport
/// throwing a bare `Error`) skips Rust destructors, so a `RefMut` guard would leak its borrow
/// flag and the next call would panic "already borrowed" and trap the whole instance. With
/// take-and-put-back, a call that never returns simply leaves the cell empty: later calls on
/// this connection fail `internal`/`busy` and every other connection and config carries on.
/// A call that re-enters the connection from its own transport (wasmtime forbids it; jco
/// does not) meets the same empty cell and fails `busy` without touching the state; the
/// outer call then finishes normally.
pub struct ConnectionResource(Cell<Option<Box<conn::Connection<HostSocket>>>>);

/// The imported socket as the connection layer's [`io::Socket`].
pub struct HostSocket(transport::Socket);

impl io::Socket for HostSocket {
    fn send(&mut self, data: &[u8]) -> Result<u32, types::IoError> {
        self.0.send(data).map_err(io_error)
    }

    fn recv(&mut self, max: u32) -> Result<Vec<u8>, types::IoError> {
        self.0.recv(max).map_err(io_error)
    }
}

impl ConnectionResource {
    /// Runs a fallible call with the state taken out of the cell, and puts it back.
    ///
    /// If `f` never returns (a host exception unwinds through the transport call inside it),
    /// the state stays out: the connection is lost, and later calls fail `busy` instead of
    /// trapping. Nothing here holds a guard whose destructor an unwind could skip.
    fn call<T>(
        &self,
        f: impl FnOnce(&mut conn::Connection<HostSocket>) -> Result<T, types::Error>,
    ) -> Result<T, wit::Error> {
        let mut state = self.0.take().ok_or_else(busy)?;
        let result = f(&mut state);
        self.0.set(Some(state));
        result.map_err(error)
    }

    /// Runs an infallible call (it never reaches the transport); `default` when busy.
    fn read<T>(&self, default: T, f: impl FnOnce(&conn::Connection<HostSocket>) -> T) -> T {
        match self.0.take() {
            Some(state) => {
                let value = f(&state);
                self.0.set(Some(state));
                value
            }
            None => default,
        }
    }

    /// Runs an infallible update; ignored when busy (the state is not ours to touch).
    fn update(&self, f: impl FnOnce(&mut conn::Connection<HostSocket>)) {
        if let Some(mut state) = self.0.take() {
            f(&mut state);
            self.0.set(Some(state));
        }
    }
}

/// The error for a call on a connection whose state is out of its cell.
fn busy() -> wit::Error {
    wit::Error {
        kind: wtypes::ErrorKind::Internal,
        name: "busy".to_owned(),
        message: "the connection is in use by a call that has not returned: either this call \
                  re-entered it from its own transport, or an earlier call never returned \
                  because a host exception unwound through the guest (then the connection is \
                  lost; drop it)"
            .to_owned(),
        blocked: wtypes::Blocked::NotBlocked,
        alert: None,
    }
}

impl wit::GuestConfig for ConfigResource {
    fn new(options: wit::ConfigOptions) -> Result<Self, wit::Error> {
        let mut options = config_options(options);
        let host = engine::HostStores {
            sessions: Some(Arc::new(HostSessions)),
            anchors: Some(Arc::new(HostAnchors)),
        };
        let config = conn::Config::with_host(&options, &host);
        // The key's encoding and the ticket keys are parsed into objects that wipe
        // themselves; the bytes the host passed in are wiped here.
        options.private_key.zeroize();
        options.ticket_keys.zeroize();
        config.map(ConfigResource).map_err(error)
    }
}

/// The host's `session-store`, where a server taking early data keeps its sessions so they
/// resume (once) on any instance sharing the store.
struct HostSessions;

impl engine::SessionStore for HostSessions {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        session_store::put(&key, &value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        session_store::get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        session_store::take(key)
    }
}

/// The host's `trust-store`, asked for the anchors a chain's issuers name.
struct HostAnchors;

impl engine::AnchorSource for HostAnchors {
    fn anchors_for(&self, subjects: &[Vec<u8>]) -> Vec<TrustAnchor<'static>> {
        trust_store::anchors_for(subjects)
            .into_iter()
            .map(|a| TrustAnchor {
                subject: a.subject.into(),
                subject_public_key_info: a.subject_public_key_info.into(),
                name_constraints: a.name_constraints.map(Into::into),
            })
            .collect()
    }
}

impl wit::GuestConnection for ConnectionResource {
    fn new(config: ConfigBorrow<'_>, socket: transport::Socket) -> Result<Self, wit::Error> {
        let config = &config.get::<ConfigResource>().0;
        conn::Connection::new(config, HostSocket(socket))
            .map(|c| ConnectionResource(Cell::new(Some(Box::new(c)))))
            .map_err(error)
    }

    fn negotiate(&self) -> Result<(), wit::Error> {
        self.call(|c| c.negotiate())
    }

    fn send(&self, data: Vec<u8>) -> Result<wit::Progress, wit::Error> {
        let progress = self.call(|c| c.send(&data))?;
        Ok(progress_out(progress))
    }

    fn sendv_with_offset(
        &self,
        bufs: Vec<Vec<u8>>,
        offset: u64,
    ) -> Result<wit::Progress, wit::Error> {
        let slices: Vec<&[u8]> = bufs.iter().map(Vec::as_slice).collect();
        let progress = self.call(|c| c.sendv_with_offset(&slices, offset))?;
        Ok(progress_out(progress))
    }

    fn set_dynamic_record_threshold(
        &self,
        threshold: u32,
        timeout_secs: u16,
    ) -> Result<(), wit::Error> {
        self.call(|c| c.set_dynamic_record_threshold(threshold, timeout_secs))
    }

    fn flush(&self) -> Result<(), wit::Error> {
        self.call(|c| c.flush())
    }

    fn recv(&self, max: u32) -> Result<wit::Received, wit::Error> {
        let received = self.call(|c| c.recv(max as usize))?;
        Ok(wit::Received {
            data: received.data,
            blocked: blocked(received.blocked),
        })
    }

    fn peek(&self) -> u32 {
        self.read(0, |c| u32::try_from(c.peek()).unwrap_or(u32::MAX))
    }

    fn peek_buffered(&self) -> u32 {
        self.read(0, |c| u32::try_from(c.peek_buffered()).unwrap_or(u32::MAX))
    }

    fn set_recv_multi_record(&self, enabled: bool) {
        self.update(|c| c.set_recv_multi_record(enabled));
    }

    fn request_key_update(&self) -> Result<(), wit::Error> {
        self.call(|c| c.request_key_update())
    }

    fn key_update_counts(&self) -> wit::KeyUpdateCounts {
        let (sent, received) = self.read((0, 0), |c| c.key_update_counts());
        wit::KeyUpdateCounts { sent, received }
    }

    fn delay(&self) -> u64 {
        self.read(0, |c| c.delay())
    }

    fn shutdown_send(&self) -> Result<(), wit::Error> {
        self.call(|c| c.shutdown_send())
    }

    fn shutdown(&self) -> Result<(), wit::Error> {
        self.call(|c| c.shutdown())
    }

    fn session_info(&self) -> Option<wit::SessionInfo> {
        let info = self.read(None, |c| c.session_info())?;
        Some(wit::SessionInfo {
            version: version_out(info.version),
            cipher_suite: suite_out(info.cipher_suite),
            kx_group: info.kx_group.map(group_out),
            alpn: info.alpn,
            server_name: info.server_name,
            peer_certificates: info.peer_certificates,
        })
    }

    fn wire_bytes_out(&self) -> u64 {
        self.read(0, |c| c.wire_bytes_out())
    }

    fn wire_bytes_in(&self) -> u64 {
        self.read(0, |c| c.wire_bytes_in())
    }

    fn alert_received(&self) -> Option<u8> {
        self.read(None, |c| c.alert_received())
    }

    fn send_early_data(&self, data: Vec<u8>) -> Result<wit::Progress, wit::Error> {
        let progress = self.call(|c| c.send_early_data(&data))?;
        Ok(progress_out(progress))
    }

    fn recv_early_data(&self, max: u32) -> Result<wit::Received, wit::Error> {
        let received = self.call(|c| c.recv_early_data(max as usize))?;
        Ok(wit::Received {
            data: received.data,
            blocked: blocked(received.blocked),
        })
    }

    fn early_data_status(&self) -> wtypes::EarlyDataStatus {
        let status = self.call(|c| Ok(c.early_data_status()));
        match status.unwrap_or(types::EarlyDataStatus::NotRequested) {
            types::EarlyDataStatus::Pending => wtypes::EarlyDataStatus::Pending,
            types::EarlyDataStatus::NotRequested => wtypes::EarlyDataStatus::NotRequested,
            types::EarlyDataStatus::Rejected => wtypes::EarlyDataStatus::Rejected,
            types::EarlyDataStatus::Accepted => wtypes::EarlyDataStatus::Accepted,
            types::EarlyDataStatus::End => wtypes::EarlyDataStatus::End,
        }
    }

    fn max_early_data_size(&self) -> u32 {
        let size = self.call(|c| Ok(c.max_early_data_size())).unwrap_or(0);
        u32::try_from(size).unwrap_or(u32::MAX)
    }

    fn remaining_early_data_size(&self) -> u32 {
        let size = self
            .call(|c| Ok(c.remaining_early_data_size()))
            .unwrap_or(0);
        u32::try_from(size).unwrap_or(u32::MAX)
    }

    fn reject_early_data(&self) -> Result<(), wit::Error> {
        self.call(|c| c.reject_early_data())
    }

    fn session_resumed(&self) -> bool {
        self.read(false, |c| c.session_resumed())
    }
}

fn progress_out(p: types::Progress) -> wit::Progress {
    wit::Progress {
        // Totals are validated to fit in u32 by the send path.
        bytes: u32::try_from(p.bytes).unwrap_or(u32::MAX),
        blocked: blocked(p.blocked),
    }
}

fn io_error(e: wtypes::IoError) -> types::IoError {
    match e {
        wtypes::IoError::WouldBlock => types::IoError::WouldBlock,
        wtypes::IoError::Closed => types::IoError::Closed,
        wtypes::IoError::BrokenPipe => types::IoError::BrokenPipe,
        wtypes::IoError::Other(message) => types::IoError::Other(message),
    }
}

fn error(e: types::Error) -> wit::Error {
    wit::Error {
        kind: match e.kind {
            types::ErrorKind::Io => wtypes::ErrorKind::Io,
            types::ErrorKind::Closed => wtypes::ErrorKind::Closed,
            types::ErrorKind::Blocked => wtypes::ErrorKind::Blocked,
            types::ErrorKind::Alert => wtypes::ErrorKind::Alert,
            types::ErrorKind::Protocol => wtypes::ErrorKind::Protocol,
            types::ErrorKind::Internal => wtypes::ErrorKind::Internal,
            types::ErrorKind::Usage => wtypes::ErrorKind::Usage,
        },
        name: e.name.to_owned(),
        message: e.message,
        blocked: blocked(e.blocked),
        alert: e.alert,
    }
}

fn blocked(b: types::Blocked) -> wtypes::Blocked {
    match b {
        types::Blocked::NotBlocked => wtypes::Blocked::NotBlocked,
        types::Blocked::OnRead => wtypes::Blocked::OnRead,
        types::Blocked::OnWrite => wtypes::Blocked::OnWrite,
        types::Blocked::OnApplicationInput => wtypes::Blocked::OnApplicationInput,
        types::Blocked::OnEarlyData => wtypes::Blocked::OnEarlyData,
    }
}

fn config_options(o: wit::ConfigOptions) -> types::ConfigOptions {
    types::ConfigOptions {
        role: match o.role {
            wtypes::Role::Client => types::Role::Client,
            wtypes::Role::Server => types::Role::Server,
        },
        server_name: o.server_name,
        trust_anchors: o.trust_anchors,
        host_trust_store: o.host_trust_store,
        certificate_chain: o.certificate_chain,
        private_key: o.private_key,
        alpn: o.alpn,
        versions: o.versions.into_iter().map(version_in).collect(),
        cipher_suites: o.cipher_suites.into_iter().map(suite_in).collect(),
        kx_groups: o.kx_groups.into_iter().map(group_in).collect(),
        client_auth: match o.client_auth {
            wtypes::ClientAuth::None => types::ClientAuth::None,
            wtypes::ClientAuth::Optional => types::ClientAuth::Optional,
            wtypes::ClientAuth::Required => types::ClientAuth::Required,
        },
        record_sizing: match o.record_sizing {
            wtypes::RecordSizing::Default => types::RecordSizing::Default,
            wtypes::RecordSizing::PreferThroughput => types::RecordSizing::PreferThroughput,
            wtypes::RecordSizing::PreferLowLatency => types::RecordSizing::PreferLowLatency,
        },
        max_fragment_length: o.max_fragment_length,
        send_buffer_size: o.send_buffer_size,
        recv_multi_record: o.recv_multi_record,
        recv_buffering: o.recv_buffering,
        session_tickets: o.session_tickets.unwrap_or(1),
        ticket_keys: o.ticket_keys,
        max_early_data: o.max_early_data,
        early_data: o.early_data,
        alert_policy: match o.alert_policy {
            wtypes::AlertPolicy::Rfc => types::AlertPolicy::Rfc,
            wtypes::AlertPolicy::S2n => types::AlertPolicy::S2n,
        },
        max_blinding_delay_secs: o.max_blinding_delay_secs.unwrap_or(30),
    }
}

/// Generates both directions of a one-to-one enum mapping.
macro_rules! enum_map {
    ($into:ident, $out:ident, $wit:ty, $native:ty, [$($w:ident <=> $n:ident),* $(,)?]) => {
        fn $into(v: $wit) -> $native {
            match v { $(<$wit>::$w => <$native>::$n),* }
        }
        fn $out(v: $native) -> $wit {
            match v { $(<$native>::$n => <$wit>::$w),* }
        }
    };
}

enum_map!(version_in, version_out, wtypes::ProtocolVersion, types::ProtocolVersion, [
    Tls12 <=> Tls12,
    Tls13 <=> Tls13,
]);

enum_map!(group_in, group_out, wtypes::KxGroup, types::KxGroup, [
    X25519 <=> X25519,
    Secp256r1 <=> Secp256r1,
    Secp384r1 <=> Secp384r1,
    Secp521r1 <=> Secp521r1,
    X25519mlkem768 <=> X25519Mlkem768,
    Secp256r1mlkem768 <=> Secp256r1Mlkem768,
    X448 <=> X448,
]);

enum_map!(suite_in, suite_out, wtypes::CipherSuite, types::CipherSuite, [
    Tls13Chacha20Poly1305Sha256 <=> Tls13Chacha20Poly1305Sha256,
    Tls13Aes128GcmSha256 <=> Tls13Aes128GcmSha256,
    Tls13Aes256GcmSha384 <=> Tls13Aes256GcmSha384,
    TlsEcdheEcdsaWithChacha20Poly1305Sha256 <=> TlsEcdheEcdsaWithChacha20Poly1305Sha256,
    TlsEcdheRsaWithChacha20Poly1305Sha256 <=> TlsEcdheRsaWithChacha20Poly1305Sha256,
    TlsEcdheEcdsaWithAes128GcmSha256 <=> TlsEcdheEcdsaWithAes128GcmSha256,
    TlsEcdheRsaWithAes128GcmSha256 <=> TlsEcdheRsaWithAes128GcmSha256,
    TlsEcdheEcdsaWithAes256GcmSha384 <=> TlsEcdheEcdsaWithAes256GcmSha384,
    TlsEcdheRsaWithAes256GcmSha384 <=> TlsEcdheRsaWithAes256GcmSha384,
]);
