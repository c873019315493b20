//! A client trusting the host's trust store: the store is asked for the anchors the
//! server's chain names (its issuers), and verification uses what it returns, natively.

mod common;

use std::sync::{Arc, Mutex};

use common::{Pki, connect, handshake, pki};
use rustls_pki_types::{CertificateDer, TrustAnchor};
use tlsbox_guest::conn::Config;
use tlsbox_guest::engine::{AnchorSource, HostStores};
use tlsbox_guest::types::{ConfigOptions, Role};

/// A trust store holding `anchors`, recording every lookup.
struct Store {
    anchors: Vec<TrustAnchor<'static>>,
    asked: Mutex<Vec<Vec<Vec<u8>>>>,
}

impl AnchorSource for Store {
    fn anchors_for(&self, subjects: &[Vec<u8>]) -> Vec<TrustAnchor<'static>> {
        self.asked.lock().unwrap().push(subjects.to_vec());
        self.anchors
            .iter()
            .filter(|a| subjects.iter().any(|s| s[..] == a.subject[..]))
            .cloned()
            .collect()
    }
}

fn anchor_of(pem: &str) -> TrustAnchor<'static> {
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).unwrap();
    let der: CertificateDer<'static> = der;
    webpki::anchor_from_trusted_cert(&der).unwrap().to_owned()
}

fn server(pki: &Pki) -> Config {
    let mut o = ConfigOptions::new(Role::Server);
    o.certificate_chain = vec![pki.cert.clone().into_bytes()];
    o.private_key = Some(pki.key.clone().into_bytes());
    Config::new(&o).unwrap()
}

fn client(
    store: &Arc<Store>,
    host_trust_store: bool,
) -> Result<Config, tlsbox_guest::types::Error> {
    let mut o = ConfigOptions::new(Role::Client);
    o.server_name = Some("localhost".into());
    o.host_trust_store = host_trust_store;
    let host = HostStores {
        anchors: Some(store.clone() as Arc<_>),
        ..HostStores::default()
    };
    Config::with_host(&o, &host)
}

/// Two CAs: `ca` issues the server's certificate; the other is only in the store.
fn ca_and_leaf() -> (String, Pki) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "store CA");
    let ca = rcgen::CertifiedIssuer::self_signed(params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (
        ca.pem(),
        Pki {
            cert: leaf.pem(),
            key: key.serialize_pem(),
        },
    )
}

#[test]
fn the_host_store_supplies_the_anchor_the_chain_names() {
    let (ca, leaf) = ca_and_leaf();
    let unrelated = anchor_of(&pki().cert);
    let store = Arc::new(Store {
        anchors: vec![unrelated, anchor_of(&ca)],
        asked: Mutex::default(),
    });
    let (mut c, mut s) = connect(&client(&store, true).unwrap(), &server(&leaf));
    handshake(&mut c, &mut s);
    // One lookup, for the one issuer the chain names: the store CA's subject.
    let asked = store.asked.lock().unwrap().clone();
    assert_eq!(asked, vec![vec![anchor_of(&ca).subject.to_vec()]]);
}

#[test]
fn a_store_without_the_issuer_leaves_the_server_untrusted() {
    let (_, leaf) = ca_and_leaf();
    let store = Arc::new(Store {
        anchors: vec![anchor_of(&pki().cert)],
        asked: Mutex::default(),
    });
    let (mut c, mut s) = connect(&client(&store, true).unwrap(), &server(&leaf));
    let err = loop {
        match c.negotiate() {
            Err(e) if e.is_blocked() => {
                let _ = s.negotiate();
            }
            other => break other.unwrap_err(),
        }
    };
    assert_eq!(
        (err.name, err.alert),
        ("untrusted-certificate", Some(48)),
        "{err}"
    );
    assert_eq!(store.asked.lock().unwrap().len(), 1);
}

#[test]
fn a_client_needs_anchors_or_the_host_store() {
    let store = Arc::new(Store {
        anchors: Vec::new(),
        asked: Mutex::default(),
    });
    let err = client(&store, false).unwrap_err();
    assert_eq!(err.name, "missing-trust-anchors");
    // Asking for the host's store is enough to build the config.
    assert!(client(&store, true).is_ok());
}
