use std::time::Instant;
use tlsbox::{Config, Endpoint, Runtime};
fn main() {
    let rt = Runtime::shared().unwrap();
    let bundle = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let pki = tlsbox_test_support::pki::Pki::generate(&["localhost"]).unwrap();
    let ders: Vec<Vec<u8>> = rustls_pki_types::pem::PemObject::pem_slice_iter(&bundle[..])
        .map(|c: Result<rustls_pki_types::CertificateDer<'static>, _>| c.unwrap().to_vec())
        .collect();
    for (label, cfg) in [
        (
            "one CA",
            Config::client("localhost").trust(pki.ca_pem.as_bytes()),
        ),
        (
            "system PEM",
            Config::client("localhost").trust(bundle.clone()),
        ),
        (
            "system DER",
            ders.iter()
                .fold(Config::client("localhost"), |c, d| c.trust(d.clone())),
        ),
    ] {
        for _ in 0..3 {
            let _ = Endpoint::new(&rt, &cfg).unwrap();
        }
        let t = Instant::now();
        for _ in 0..50 {
            let _ = Endpoint::new(&rt, &cfg).unwrap();
        }
        println!("{label}: {:?} per instance+config", t.elapsed() / 50);
    }
}
