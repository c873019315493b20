//! Throw-away certificates (rcgen) for the demo and for tests: a CA, a server leaf and a
//! client leaf, all in PEM.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SignatureAlgorithm,
};

/// A CA with one server and one client certificate.
#[derive(Clone, Debug)]
pub struct Pki {
    /// The CA certificate (the trust anchor).
    pub ca_pem: String,
    /// Server leaf certificate for the requested names.
    pub server_cert_pem: String,
    /// Server private key (PKCS#8).
    pub server_key_pem: String,
    /// Client leaf certificate.
    pub client_cert_pem: String,
    /// Client private key (PKCS#8).
    pub client_key_pem: String,
}

impl Pki {
    /// ECDSA P-256 certificates; the server's is valid for `names` (DNS names or IPs).
    pub fn generate(names: &[&str]) -> Result<Self, rcgen::Error> {
        Pki::generate_with(&rcgen::PKCS_ECDSA_P256_SHA256, names)
    }

    /// Certificates whose keys all use `algorithm`.
    pub fn generate_with(
        algorithm: &'static SignatureAlgorithm,
        names: &[&str],
    ) -> Result<Self, rcgen::Error> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("tlsbox CA {}", unique_suffix()));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate_for(algorithm)?)?;

        let leaf =
            |names: Vec<String>, common_name: &str| -> Result<(String, String), rcgen::Error> {
                let key = KeyPair::generate_for(algorithm)?;
                let mut params = CertificateParams::new(names)?;
                params
                    .distinguished_name
                    .push(DnType::CommonName, common_name);
                let cert = params.signed_by(&key, &ca)?;
                Ok((cert.pem(), key.serialize_pem()))
            };
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let (server_cert_pem, server_key_pem) = leaf(names, "tlsbox server")?;
        let (client_cert_pem, client_key_pem) =
            leaf(vec!["client.tlsbox".into()], "tlsbox client")?;
        Ok(Pki {
            ca_pem: ca.pem(),
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        })
    }
}

/// Distinct CA names keep separately generated PKIs apart: a verifier that finds a trusted
/// CA with the issuer's name reports a bad signature, not an unknown issuer.
fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}")
}
