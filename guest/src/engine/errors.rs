//! rustls errors as tlsbox error values with stable names.

use rustls::{AlertDescription, CertificateError, Error as TlsError, PeerMisbehaved};

use crate::types::{Error, ErrorKind};

/// The tlsbox error for a rustls error. `kind` follows s2n: a received alert is `alert`,
/// anything the peer got wrong is `protocol`, our own failures are `internal`.
pub fn from_rustls(error: &TlsError) -> Error {
    let message = error.to_string();
    let protocol = |name: &'static str, alert: AlertDescription| {
        Error::new(ErrorKind::Protocol, name, message.clone()).with_alert(u8::from(alert))
    };
    match error {
        TlsError::AlertReceived(alert) => {
            Error::new(ErrorKind::Alert, "alert", message.clone()).with_alert(u8::from(*alert))
        }
        TlsError::InappropriateMessage { .. } | TlsError::InappropriateHandshakeMessage { .. } => {
            protocol("unexpected-message", AlertDescription::UnexpectedMessage)
        }
        TlsError::InvalidMessage(_) => protocol("bad-message", AlertDescription::DecodeError),
        TlsError::DecryptError => protocol("decrypt", AlertDescription::BadRecordMac),
        TlsError::PeerSentOversizedRecord => {
            protocol("record-too-large", AlertDescription::RecordOverflow)
        }
        TlsError::PeerIncompatible(_) => {
            protocol("handshake-failure", AlertDescription::HandshakeFailure)
        }
        // RFC 8446 section 5.4: no non-zero octet in the inner plaintext; section 5.1: a
        // handshake message interleaved with another record type.
        TlsError::PeerMisbehaved(
            PeerMisbehaved::IllegalTlsInnerPlaintext
            | PeerMisbehaved::MessageInterleavedWithHandshakeMessage
            | PeerMisbehaved::RejectedEarlyDataInterleavedWithHandshakeMessage,
        ) => protocol("unexpected-message", AlertDescription::UnexpectedMessage),
        TlsError::PeerMisbehaved(_) => {
            protocol("peer-misbehaved", AlertDescription::IllegalParameter)
        }
        TlsError::NoCertificatesPresented => {
            protocol("no-certificate", AlertDescription::CertificateRequired)
        }
        TlsError::NoApplicationProtocol => protocol(
            "no-application-protocol",
            AlertDescription::NoApplicationProtocol,
        ),
        TlsError::InvalidCertificate(cert) => protocol(
            certificate_error_name(cert),
            AlertDescription::from(cert.clone()),
        ),
        // A TLS 1.2 server whose key makes none of the signature schemes the client accepts
        // (rustls reports it as a general error, before its ServerHello goes out; RFC 5246
        // §7.4.1.4.1). Found by fuzzing; the message is rustls's (tests/alerts.rs pins it).
        TlsError::General(text) if text == "incompatible signing key" => {
            protocol("handshake-failure", AlertDescription::HandshakeFailure)
        }
        TlsError::EncryptError => Error::new(ErrorKind::Protocol, "encrypt", message),
        TlsError::HandshakeNotComplete => {
            Error::new(ErrorKind::Usage, "handshake-not-complete", message)
        }
        _ => Error::new(ErrorKind::Internal, "internal", message),
    }
}

fn certificate_error_name(error: &CertificateError) -> &'static str {
    match error {
        CertificateError::UnknownIssuer => "untrusted-certificate",
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "certificate-name-mismatch"
        }
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => "certificate-expired",
        CertificateError::BadSignature => "bad-certificate-signature",
        _ => "bad-certificate",
    }
}
