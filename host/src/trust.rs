//! [`TrustStore`]: CA trust anchors the host parses once and serves to guest instances
//! through the `trust-store` import, looked up by the issuer names of the chain being
//! verified. A client config trusts the system's store by default.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use crate::bindings::ErrorKind;
use crate::bindings::tlsbox::tls::trust_store::{self, Host};
use crate::error::Error;
use crate::runtime::HostState;

/// A set of CA trust anchors, parsed once and shared: the system's (the default of every
/// client [`Config`](crate::Config)) or a bundle of your own. Cheap to clone.
///
/// Connections do not copy the store: while a guest verifies a server's chain it asks for
/// the anchors the chain's issuers name, so a store of thousands costs a connection one
/// lookup and the one or two anchors it returns.
#[derive(Clone)]
pub struct TrustStore {
    anchors: Arc<Anchors>,
}

/// Anchors by subject (the contents of the DER `Name`).
#[derive(Default)]
struct Anchors {
    by_subject: HashMap<Vec<u8>, Vec<TrustAnchor<'static>>>,
    count: usize,
}

impl TrustStore {
    /// The system's trust anchors, read the way OpenSSL finds them: the file `SSL_CERT_FILE`
    /// and the directories `SSL_CERT_DIR` (colon-separated) name, else the platform's
    /// usual places (e.g. `/etc/ssl/certs`). Read once per process, on first use.
    ///
    /// Fails `usage`/`missing-trust-anchors` if no certificate could be read; a store with
    /// some unreadable entries keeps the others.
    pub fn system() -> Result<TrustStore, Error> {
        static SYSTEM: OnceLock<Result<TrustStore, Error>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                let found = rustls_native_certs::load_native_certs();
                let store = TrustStore::from_certificates(found.certs.iter());
                if store.is_empty() {
                    let why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                    return Err(Error::host(
                        ErrorKind::Usage,
                        "missing-trust-anchors",
                        format!(
                            "the system trust store has no usable certificate (set SSL_CERT_FILE \
                             or SSL_CERT_DIR, or give the anchors explicitly){}{}",
                            if why.is_empty() { "" } else { ": " },
                            why.join("; ")
                        ),
                    ));
                }
                Ok(store)
            })
            .clone()
    }

    /// The CA certificates in a PEM bundle (other PEM sections are skipped).
    pub fn from_pem(bundle: &[u8]) -> Result<TrustStore, Error> {
        let certs = CertificateDer::pem_slice_iter(bundle)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::host(
                    ErrorKind::Internal,
                    "bad-certificate-data",
                    format!("PEM bundle: {e}"),
                )
            })?;
        Ok(TrustStore::from_certificates(certs.iter()))
    }

    /// The given DER certificates. Certificates that do not parse as trust anchors are
    /// skipped, as OpenSSL and rustls-native-certs skip them.
    pub fn from_certificates<'a>(
        certificates: impl IntoIterator<Item = &'a CertificateDer<'a>>,
    ) -> TrustStore {
        let mut anchors = Anchors::default();
        for cert in certificates {
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(cert) {
                let anchor = anchor.to_owned();
                anchors
                    .by_subject
                    .entry(anchor.subject.to_vec())
                    .or_default()
                    .push(anchor);
                anchors.count += 1;
            }
        }
        TrustStore {
            anchors: Arc::new(anchors),
        }
    }

    /// How many anchors the store holds.
    pub fn len(&self) -> usize {
        self.anchors.count
    }

    /// Whether the store holds no anchor.
    pub fn is_empty(&self) -> bool {
        self.anchors.count == 0
    }

    /// The anchors whose subject is one of `subjects`, each once.
    fn lookup(&self, subjects: &[Vec<u8>]) -> Vec<trust_store::TrustAnchor> {
        let mut seen: Vec<&[u8]> = Vec::new();
        let mut out = Vec::new();
        for subject in subjects {
            if seen.contains(&subject.as_slice()) {
                continue;
            }
            seen.push(subject);
            for anchor in self.anchors.by_subject.get(subject).into_iter().flatten() {
                out.push(trust_store::TrustAnchor {
                    subject: anchor.subject.to_vec(),
                    subject_public_key_info: anchor.subject_public_key_info.to_vec(),
                    name_constraints: anchor.name_constraints.as_ref().map(|n| n.to_vec()),
                });
            }
        }
        out
    }
}

impl fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustStore")
            .field("anchors", &self.len())
            .finish()
    }
}

/// Most subjects one lookup may ask for: a chain longer than this is not one a verifier
/// would accept anyway.
const MAX_SUBJECTS: usize = 16;

impl Host for HostState {
    async fn anchors_for(&mut self, subjects: Vec<Vec<u8>>) -> Vec<trust_store::TrustAnchor> {
        match self.trust_store() {
            Some(store) => store.lookup(&subjects[..subjects.len().min(MAX_SUBJECTS)]),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_finds_its_anchors_by_subject_once_each() {
        let pki = tlsbox_test_support::pki::Pki::generate(&["localhost"]).unwrap();
        let mut bundle = pki.ca_pem.clone();
        bundle.push_str(&pki.server_cert_pem); // a leaf, which is an anchor too
        let store = TrustStore::from_pem(bundle.as_bytes()).unwrap();
        assert_eq!(store.len(), 2);
        let ca = CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap();
        let anchor = webpki::anchor_from_trusted_cert(&ca).unwrap();
        let subject = anchor.subject.to_vec();
        let found = store.lookup(&[b"nobody".to_vec(), subject.clone(), subject.clone()]);
        assert_eq!(found.len(), 1, "asked twice, returned once");
        assert_eq!(found[0].subject, subject);
        assert_eq!(
            found[0].subject_public_key_info,
            anchor.subject_public_key_info.to_vec()
        );
        assert_eq!(found[0].name_constraints, None);
        assert!(store.lookup(&[b"nobody".to_vec()]).is_empty());
    }

    #[test]
    fn a_bundle_without_certificates_is_an_empty_store() {
        assert!(TrustStore::from_pem(b"no pem here").unwrap().is_empty());
    }
}
