//! Verifying a server's certificate chain against the config's own anchors plus the host's
//! trust store, which is asked only for the anchors the chain names: the subjects it looks up
//! are the issuer names of the certificates presented, so any anchor a path could end at is
//! among those returned, and a store of thousands costs a connection one small lookup.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

/// Where a client finds trust anchors beyond its config's own: the host's trust store (the
/// component's `trust-store` import).
pub trait AnchorSource: Send + Sync {
    /// The anchors whose subject is one of `subjects` (each the contents of a DER `Name`).
    fn anchors_for(&self, subjects: &[Vec<u8>]) -> Vec<TrustAnchor<'static>>;
}

/// WebPKI server-certificate verification over the config's anchors and, if given, those
/// the host's store holds for the chain's issuers.
pub struct ServerVerifier {
    roots: RootCertStore,
    host: Option<Arc<dyn AnchorSource>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl std::fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerVerifier")
            .field("anchors", &self.roots.len())
            .field("host_store", &self.host.is_some())
            .finish()
    }
}

impl ServerVerifier {
    /// Verifies against `roots`, and the anchors `host` supplies when it is given.
    pub fn new(
        roots: RootCertStore,
        host: Option<Arc<dyn AnchorSource>>,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        ServerVerifier {
            roots,
            host,
            algorithms,
        }
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        let mut roots = self.roots.clone();
        if let Some(host) = &self.host {
            let subjects: Vec<Vec<u8>> = std::iter::once(end_entity)
                .chain(intermediates)
                .filter_map(|c| issuer(c.as_ref()))
                .map(<[u8]>::to_vec)
                .collect();
            roots.roots.extend(host.anchors_for(&subjects));
        }
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        verify_server_name(&cert, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT`: the optional version of a TBSCertificate.
const VERSION: u8 = 0xa0;

/// The contents of a certificate's issuer `Name` (RFC 5280 §4.1), or `None` if `der` is not
/// shaped like a certificate that far. Only locates the field; verification parses it all.
pub fn issuer(der: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (tbs, _) = element(certificate, SEQUENCE)?;
    let tbs = element(tbs, VERSION).map_or(tbs, |(_, rest)| rest);
    let (_serial, tbs) = element(tbs, INTEGER)?;
    let (_signature, tbs) = element(tbs, SEQUENCE)?;
    let (issuer, _) = element(tbs, SEQUENCE)?;
    Some(issuer)
}

/// The contents of the DER element at the start of `input` if its tag is `tag`, and what
/// follows it. Definite lengths only, in their shortest form, as DER requires.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if !(1..=4).contains(&count) {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        if bytes[0] == 0 {
            return None;
        }
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        if len < 0x80 {
            return None;
        }
        (len, rest)
    };
    rest.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element with a length of the shortest form.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match contents.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(contents);
        out
    }

    fn certificate(version: bool, issuer_name: &[u8]) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(tlv(VERSION, &tlv(INTEGER, &[2])));
        }
        tbs.extend(tlv(INTEGER, &[0x01, 0x02]));
        tbs.extend(tlv(SEQUENCE, &[0x06, 0x01, 0x2a]));
        tbs.extend(tlv(SEQUENCE, issuer_name));
        tbs.extend(tlv(SEQUENCE, b"validity and the rest"));
        let mut cert = tlv(SEQUENCE, &tbs);
        cert.extend(tlv(SEQUENCE, &[0x06, 0x01, 0x2a]));
        cert.extend(tlv(0x03, &[0, 1, 2]));
        tlv(SEQUENCE, &cert)
    }

    #[test]
    fn finds_the_issuer_with_and_without_a_version() {
        let name = vec![0x31; 300]; // long enough for a two-byte length
        assert_eq!(issuer(&certificate(true, &name)), Some(&name[..]));
        assert_eq!(issuer(&certificate(false, b"CN")), Some(&b"CN"[..]));
    }

    #[test]
    fn finds_the_issuer_of_a_real_certificate() {
        let ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let der = ca.self_signed(&key).unwrap().der().to_vec();
        let cert = CertificateDer::from(der.clone());
        let anchor = webpki::anchor_from_trusted_cert(&cert).unwrap();
        // Self-signed: its issuer is its subject, as the trust anchor records it.
        assert_eq!(issuer(&der), Some(anchor.subject.as_ref()));
    }

    #[test]
    fn anything_else_is_none_never_a_panic() {
        let good = certificate(true, b"CN");
        for len in 0..good.len() {
            assert_eq!(issuer(&good[..len]), None, "truncated to {len}");
        }
        for bad in [
            &[][..],
            &[0x30, 0x80][..],                      // indefinite length
            &[0x30, 0x81, 0x05, 1, 2, 3, 4, 5][..], // long form for a short length
            &[0x30, 0x85, 1, 1, 1, 1, 1][..],       // a five-byte length
            &[0x31, 0x00][..],                      // not a SEQUENCE
        ] {
            assert_eq!(issuer(bad), None, "{bad:?}");
        }
    }
}
