//! The Node package's trust store (`js/lib/trust.js`) takes certificates apart exactly as
//! rustls-webpki does, so the anchors it hands the guest are the ones webpki would build:
//! checked on all of Node's bundled roots and on a CA with name constraints, a critical one
//! among other extensions.

use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, GeneralSubtree, IsCa, KeyPair, NameConstraints};
use rustls_pki_types::CertificateDer;

const DUMP: &str = r#"
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { anchorFromCertificate, pemCertificates } from './js/lib/trust.js';
const hex = (b) => b === undefined ? null : Buffer.from(b).toString('hex');
const pem = [...tls.rootCertificates, readFileSync(process.argv[2], 'utf8')].join('\n');
const out = pemCertificates(pem).map((der) => {
  const a = anchorFromCertificate(der);
  return { der: der.toString('hex'), subject: hex(a.subject), spki: hex(a.subjectPublicKeyInfo),
    nc: hex(a.nameConstraints) };
});
console.log(JSON.stringify(out));
"#;

fn constrained_ca() -> String {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName("example.com".into())],
        excluded_subtrees: vec![GeneralSubtree::DnsName("bad.example.com".into())],
    });
    params
        .self_signed(&KeyPair::generate().unwrap())
        .unwrap()
        .pem()
}

#[test]
fn the_node_trust_store_takes_certificates_apart_as_webpki_does() {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.pem");
    std::fs::write(&extra, constrained_ca()).unwrap();
    let script = dir.path().join("dump.mjs");
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        &script,
        DUMP.replace("./js/lib/trust.js", &format!("{root}/js/lib/trust.js")),
    )
    .unwrap();
    let out = Command::new("node")
        .arg(&script)
        .arg(&extra)
        .output()
        .expect("node is installed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let anchors: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        anchors.len() > 100,
        "Node's roots and ours: {}",
        anchors.len()
    );

    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut constrained = 0;
    for js in &anchors {
        let der_hex = js["der"].as_str().unwrap();
        let der: Vec<u8> = (0..der_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&der_hex[i..i + 2], 16).unwrap())
            .collect();
        let cert = CertificateDer::from(der);
        let ours = webpki::anchor_from_trusted_cert(&cert).unwrap();
        assert_eq!(js["subject"], hex(&ours.subject), "subject");
        assert_eq!(js["spki"], hex(&ours.subject_public_key_info), "spki");
        match &ours.name_constraints {
            Some(nc) => {
                constrained += 1;
                assert_eq!(js["nc"], hex(nc), "name constraints");
            }
            None => assert!(js["nc"].is_null(), "no name constraints: {}", js["nc"]),
        }
    }
    assert!(constrained >= 1, "the constrained CA was compared");
}
