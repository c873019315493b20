//! Pinned self-signed certificates: a trust anchor that is the peer's own self-signed
//! certificate is accepted, as OpenSSL, GnuTLS and curl accept it — a server's by a client,
//! a client's by a server that requests client certificates.
//!
//! `openssl req -x509` marks its certificates CA:TRUE, and webpki refuses a CA certificate
//! as an end entity even when the caller trusts exactly that certificate. When the chain
//! fails only for that reason and the peer's certificate is byte for byte one of the
//! configured anchors, the certificate still has to be within its validity period (webpki
//! checks that before the basic constraints) and, a server's, valid for the server name.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// The handshake-signature checks, left to the wrapped WebPKI verifier: pinning changes
/// only which certificates are trusted.
macro_rules! signatures_from_inner {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

/// The anchors a verifier pins, and the algorithms to check a self-signature with.
#[derive(Debug)]
struct Pins {
    anchors: Vec<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pins {
    /// `end_entity`, parsed, if pinning applies to it: it is one of the anchors and fails
    /// path building for `usage` only because it is a CA certificate.
    fn pinned<'a>(
        &self,
        end_entity: &'a CertificateDer<'a>,
        now: UnixTime,
        usage: webpki::KeyUsage,
    ) -> Option<webpki::EndEntityCert<'a>> {
        if !self
            .anchors
            .iter()
            .any(|a| a.as_ref() == end_entity.as_ref())
        {
            return None;
        }
        let cert = webpki::EndEntityCert::try_from(end_entity).ok()?;
        let anchors = [webpki::anchor_from_trusted_cert(end_entity).ok()?];
        let path =
            cert.verify_for_usage(self.algorithms.all, &anchors, &[], now, usage, None, None);
        matches!(path, Err(webpki::Error::CaUsedAsEndEntity)).then_some(cert)
    }
}

/// A WebPKI verifier, plus pinned self-signed certificates.
#[derive(Debug)]
pub struct PinningVerifier {
    inner: Arc<dyn ServerCertVerifier>,
    pins: Pins,
}

impl PinningVerifier {
    /// Wraps `inner`, which was built from `anchors`.
    pub fn new(
        inner: Arc<dyn ServerCertVerifier>,
        anchors: Vec<CertificateDer<'static>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        PinningVerifier {
            inner,
            pins: Pins {
                anchors,
                algorithms,
            },
        }
    }

    /// For a pinned `end_entity` that fails path building only because it is a CA
    /// certificate: whether it is valid for `server_name` (validity in time was checked
    /// first). `None` when pinning does not apply.
    fn check_pinned(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Option<Result<(), Error>> {
        let cert = self
            .pins
            .pinned(end_entity, now, webpki::KeyUsage::server_auth())?;
        Some(
            cert.verify_is_valid_for_subject_name(server_name)
                .map_err(|_| CertificateError::NotValidForName.into()),
        )
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let error = match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(error) => error,
        };
        match self.check_pinned(end_entity, server_name, now) {
            Some(Ok(())) => Ok(ServerCertVerified::assertion()),
            Some(Err(pinned_error)) => Err(pinned_error),
            None => Err(error),
        }
    }

    signatures_from_inner!();
}

/// The standard WebPKI client-certificate verifier, plus pinned self-signed certificates.
#[derive(Debug)]
pub struct PinningClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    pins: Pins,
}

impl PinningClientVerifier {
    /// Wraps `inner`, which was built from `anchors`.
    pub fn new(
        inner: Arc<dyn ClientCertVerifier>,
        anchors: Vec<CertificateDer<'static>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        PinningClientVerifier {
            inner,
            pins: Pins {
                anchors,
                algorithms,
            },
        }
    }
}

impl ClientCertVerifier for PinningClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let error = match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Ok(verified) => return Ok(verified),
            Err(error) => error,
        };
        match self
            .pins
            .pinned(end_entity, now, webpki::KeyUsage::client_auth())
        {
            Some(_) => Ok(ClientCertVerified::assertion()),
            None => Err(error),
        }
    }

    signatures_from_inner!();
}
