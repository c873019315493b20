//! Pinned certificates: a client that trusts exactly the server's self-signed certificate
//! accepts it, CA:TRUE or not (as `openssl s_client`, `gnutls-cli` and curl do), after the
//! name and validity checks; a server requesting client certificates accepts a client's
//! pinned the same way (as `openssl s_server -verify` does); nothing else about
//! verification loosens.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tlsbox::{Config, Connection, TcpTransport};

use common::peers::Process;
use common::{MemPair, ring_provider, runtime};

/// A self-signed certificate for `name` and its key, as PEM.
fn self_signed(name: &str, ca: bool, expired: bool) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec![name.to_owned()]).expect("params");
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), key.serialize_pem())
}

/// A native server presenting `cert` alone.
fn native_server(cert: &str, key: &str) -> Arc<ServerConfig> {
    let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
    let config = ServerConfig::builder_with_provider(ring_provider(None))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("identity");
    Arc::new(config)
}

/// The component's handshake outcome against a native server with `served`, trusting
/// `trusted`, connecting to `name`.
fn handshake(served: &(String, String), trusted: &str, name: &str) -> Result<(), String> {
    let config = Config::client(name).trust(trusted.as_bytes());
    let mut pair = MemPair::client(&config, native_server(&served.0, &served.1));
    pair.handshake()
}

#[test]
fn pinned_self_signed_ca_certificate_is_accepted() {
    let served = self_signed("localhost", true, false);
    assert_eq!(handshake(&served, &served.0, "localhost"), Ok(()));
}

#[test]
fn pinned_self_signed_leaf_certificate_is_accepted() {
    let served = self_signed("localhost", false, false);
    assert_eq!(handshake(&served, &served.0, "localhost"), Ok(()));
}

#[test]
fn pinned_certificate_must_match_the_name() {
    let served = self_signed("localhost", true, false);
    let err = handshake(&served, &served.0, "example.com").unwrap_err();
    assert!(err.contains("certificate-name-mismatch"), "{err}");
}

#[test]
fn pinned_certificate_must_be_valid_now() {
    let served = self_signed("localhost", true, true);
    let err = handshake(&served, &served.0, "localhost").unwrap_err();
    assert!(err.contains("certificate-expired"), "{err}");
}

#[test]
fn a_different_self_signed_ca_is_not_trusted() {
    // Same name, another key: pinning compares the whole certificate, and webpki's own
    // verdict on a CA certificate presented as a leaf stands.
    let served = self_signed("localhost", true, false);
    let other = self_signed("localhost", true, false);
    let err = handshake(&served, &other.0, "localhost").unwrap_err();
    assert!(
        err.contains("bad-certificate") && err.contains("CaUsedAsEndEntity"),
        "{err}"
    );
}

/// The component server's handshake outcome, requiring a client certificate and trusting
/// `trusted`, against a native client presenting `presented`.
fn client_auth_handshake(presented: &(String, String), trusted: &str) -> Result<(), String> {
    let client = common::native_client_with_identity(
        common::pki(),
        ring_provider(None),
        &presented.0,
        &presented.1,
    );
    let config = common::server_config(common::pki())
        .trust(trusted.as_bytes())
        .client_auth(tlsbox::ClientAuth::Required);
    let mut pair = MemPair::server(&config, client);
    pair.handshake()
}

#[test]
fn pinned_self_signed_client_certificate_is_accepted() {
    for ca in [true, false] {
        let presented = self_signed("client", ca, false);
        assert_eq!(
            client_auth_handshake(&presented, &presented.0),
            Ok(()),
            "CA:{ca}"
        );
    }
}

#[test]
fn pinned_client_certificate_must_be_valid_now() {
    let presented = self_signed("client", true, true);
    let err = client_auth_handshake(&presented, &presented.0).unwrap_err();
    assert!(err.contains("certificate-expired"), "{err}");
}

#[test]
fn a_different_self_signed_client_ca_is_not_trusted() {
    let presented = self_signed("client", true, false);
    let other = self_signed("client", true, false);
    let err = client_auth_handshake(&presented, &other.0).unwrap_err();
    assert!(
        err.contains("bad-certificate") && err.contains("CaUsedAsEndEntity"),
        "{err}"
    );
}

#[test]
fn openssl_req_certificate_pinned_against_s_server() {
    // How people test: `openssl req -x509` (CA:TRUE by default), then the same file as --ca.
    let dir = tempfile::tempdir().expect("tempdir");
    common::openssl_req_x509(
        dir.path(),
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let mut server = Command::new("openssl");
    server
        .current_dir(dir.path())
        .args([
            "s_server",
            "-accept",
            "127.0.0.1:0",
            "-naccept",
            "1",
            "-rev",
        ])
        .args(["-cert", "cert.pem", "-key", "key.pem"]);
    let server = Process::spawn_with_lines(server).expect("s_server");
    let deadline = Instant::now() + Duration::from_secs(20);
    let accept = server
        .lines
        .wait_for("ACCEPT", deadline, |line| line.starts_with("ACCEPT "))
        .expect("s_server listening");
    let port: u16 = accept
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");

    let cert = std::fs::read(dir.path().join("cert.pem")).expect("cert");
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let conn = Connection::new(
        &runtime(),
        &Config::client("localhost").trust(cert),
        TcpTransport::new(tcp),
    )
    .expect("connection");
    conn.negotiate()
        .expect("the pinned certificate is accepted");
    conn.send_all(b"pinned\n").expect("send");
    let mut reply = Vec::new();
    while !reply.ends_with(b"\n") {
        let received = conn.recv(100).expect("recv");
        assert!(!received.data.is_empty(), "early close_notify");
        reply.extend_from_slice(&received.data);
    }
    assert_eq!(reply, b"dennip\n");
}
