//! Throw-away certificates (rcgen) for the demo and for tests: a CA, a server leaf and a
//! client leaf, all in PEM.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SignatureAlgorithm,
};

/// A CA with one server and one client certificate.
///
/// `Debug` prints the certificates but only the length of each private key.
#[derive(Clone)]
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

// By hand, so private keys never reach a log: derived `Debug` would print the PEM.
impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field fails to compile here until someone decides
        // whether it is secret.
        let Self {
            ca_pem,
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        } = self;
        let redacted = |key: &str| format!("<redacted {} bytes>", key.len());
        f.debug_struct("Pki")
            .field("ca_pem", ca_pem)
            .field("server_cert_pem", server_cert_pem)
            .field("server_key_pem", &redacted(server_key_pem))
            .field("client_cert_pem", client_cert_pem)
            .field("client_key_pem", &redacted(client_key_pem))
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_private_keys() {
        let mut pki = Pki::generate(&["localhost"]).unwrap();
        let shown = format!("{pki:?}");
        for key in [&pki.server_key_pem, &pki.client_key_pem] {
            // The first body line carries the start of the private scalar; the last ones may
            // repeat the public key, which the certificates show anyway.
            let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
            let first = key.lines().nth(1).unwrap();
            assert!(!shown.contains(&body) && !shown.contains(first), "{shown}");
        }
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(shown.contains(&format!(
            "server_key_pem: \"<redacted {} bytes>\"",
            pki.server_key_pem.len()
        )));
        // Certificates are public and still shown (escaped newlines and all).
        assert!(shown.contains(&format!("{:?}", pki.ca_pem)), "{shown}");

        // With recognisable keys: nothing of them shows, only their lengths.
        pki.server_key_pem = "server-secret-key-material".into();
        pki.client_key_pem = "client-secret-key-material!".into();
        let shown = format!("{pki:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(
            shown.contains("server_key_pem: \"<redacted 26 bytes>\""),
            "{shown}"
        );
        assert!(
            shown.contains("client_key_pem: \"<redacted 27 bytes>\""),
            "{shown}"
        );
    }
}
