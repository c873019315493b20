//! Private keys for our own certificates: ECDSA P-256/P-384/P-521, Ed25519 and RSA.

use std::sync::Arc;

use ecdsa::signature::{RandomizedSigner, Signer as _};
use getrandom::SysRng;
use p256::pkcs8::{DecodePrivateKey, ObjectIdentifier, PrivateKeyInfoRef};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss};
use rustls::crypto::KeyProvider;
use rustls::sign::{Signer, SigningKey, public_key_to_spki};
use rustls::{Error, SignatureAlgorithm, SignatureScheme};
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer, alg_id};
use sha2::{Digest, Sha256, Sha384, Sha512};

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Smallest RSA modulus we sign with, as ring and aws-lc-rs do.
const RSA_MIN_BITS: u32 = 2048;

/// Loads private keys for rustls (`CryptoProvider::key_provider`).
#[derive(Debug)]
pub struct Keys;

impl KeyProvider for Keys {
    fn load_private_key(
        &self,
        mut key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, Error> {
        let key = load_private_key(&key_der);
        // The parsed key wipes itself on drop; the encoding it came from is wiped here.
        zeroize::Zeroize::zeroize(&mut key_der);
        key
    }
}

fn err(msg: impl Into<String>) -> Error {
    Error::General(msg.into())
}

/// Loads a PKCS#8, SEC1 or PKCS#1 DER private key into a rustls signing key.
///
/// PKCS#8 may hold an ECDSA P-256, P-384 or P-521, Ed25519 or RSA key; SEC1 an ECDSA P-256,
/// P-384 or P-521 key; PKCS#1 an RSA key. RSA keys must have at least 2048 bits. Anything else, or a malformed
/// encoding, is an `Error::General` saying what was wrong.
pub fn load_private_key(key_der: &PrivateKeyDer<'_>) -> Result<Arc<dyn SigningKey>, Error> {
    match key_der {
        PrivateKeyDer::Pkcs1(der) => {
            let key = rsa::PrivateKey::from_pkcs1_der(der.secret_pkcs1_der())
                .map_err(|e| err(format!("malformed PKCS#1 RSA private key: {e}")))?;
            Ok(Arc::new(RsaKey::new(key)?))
        }
        PrivateKeyDer::Sec1(der) => {
            let der = der.secret_sec1_der();
            if let Ok(key) = p256::SecretKey::from_sec1_der(der) {
                return Ok(Arc::new(EcdsaKey::p256(key.into())));
            }
            if let Ok(key) = p384::SecretKey::from_sec1_der(der) {
                return Ok(Arc::new(EcdsaKey::p384(key.into())));
            }
            if let Ok(key) = p521::SecretKey::from_sec1_der(der) {
                return Ok(Arc::new(EcdsaKey::p521(key.into())));
            }
            Err(err(
                "SEC1 private key is malformed or not on a supported curve (P-256, P-384, P-521)",
            ))
        }
        PrivateKeyDer::Pkcs8(der) => load_pkcs8(der.secret_pkcs8_der()),
        _ => Err(err("unsupported private key encoding")),
    }
}

/// Dispatches on the PKCS#8 algorithm identifier, so the error names the real problem.
fn load_pkcs8(der: &[u8]) -> Result<Arc<dyn SigningKey>, Error> {
    let info = PrivateKeyInfoRef::try_from(der)
        .map_err(|e| err(format!("malformed PKCS#8 private key: {e}")))?;
    let algorithm = info.algorithm.oid;
    if algorithm == OID_RSA_ENCRYPTION {
        let key = rsa::PrivateKey::from_pkcs8_der(der)
            .map_err(|e| err(format!("malformed PKCS#8 RSA private key: {e}")))?;
        Ok(Arc::new(RsaKey::new(key)?))
    } else if algorithm == OID_ED25519 {
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map_err(|e| err(format!("malformed PKCS#8 Ed25519 private key: {e}")))?;
        Ok(Arc::new(Ed25519Key::new(key)))
    } else if algorithm == OID_EC_PUBLIC_KEY {
        let curve = info.algorithm.parameters_oid().ok();
        if curve == Some(OID_SECP256R1) {
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(der)
                .map_err(|e| err(format!("malformed PKCS#8 P-256 private key: {e}")))?;
            Ok(Arc::new(EcdsaKey::p256(key)))
        } else if curve == Some(OID_SECP384R1) {
            let key = p384::ecdsa::SigningKey::from_pkcs8_der(der)
                .map_err(|e| err(format!("malformed PKCS#8 P-384 private key: {e}")))?;
            Ok(Arc::new(EcdsaKey::p384(key)))
        } else if curve == Some(OID_SECP521R1) {
            let key = p521::ecdsa::SigningKey::from_pkcs8_der(der)
                .map_err(|e| err(format!("malformed PKCS#8 P-521 private key: {e}")))?;
            Ok(Arc::new(EcdsaKey::p521(key)))
        } else {
            Err(err(
                "unsupported ECDSA curve in private key (supported: P-256, P-384, P-521)",
            ))
        }
    } else {
        Err(err(format!(
            "unsupported private key algorithm {algorithm} (supported: ECDSA \
             P-256/P-384/P-521, Ed25519, RSA)"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// ECDSA

enum EcdsaInner {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

/// An ECDSA key: usable with exactly one TLS scheme, the one naming its curve.
struct EcdsaKey {
    key: Arc<EcdsaInner>,
    scheme: SignatureScheme,
    spki: SubjectPublicKeyInfoDer<'static>,
}

impl EcdsaKey {
    fn p256(key: p256::ecdsa::SigningKey) -> Self {
        let point = key.verifying_key().to_sec1_point(false);
        Self {
            spki: public_key_to_spki(&alg_id::ECDSA_P256, point.as_bytes()),
            key: Arc::new(EcdsaInner::P256(key)),
            scheme: SignatureScheme::ECDSA_NISTP256_SHA256,
        }
    }

    fn p384(key: p384::ecdsa::SigningKey) -> Self {
        let point = key.verifying_key().to_sec1_point(false);
        Self {
            spki: public_key_to_spki(&alg_id::ECDSA_P384, point.as_bytes()),
            key: Arc::new(EcdsaInner::P384(key)),
            scheme: SignatureScheme::ECDSA_NISTP384_SHA384,
        }
    }

    fn p521(key: p521::ecdsa::SigningKey) -> Self {
        let point = key.verifying_key().to_sec1_point(false);
        Self {
            spki: public_key_to_spki(&alg_id::ECDSA_P521, point.as_bytes()),
            key: Arc::new(EcdsaInner::P521(key)),
            scheme: SignatureScheme::ECDSA_NISTP521_SHA512,
        }
    }
}

impl core::fmt::Debug for EcdsaKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EcdsaKey")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl SigningKey for EcdsaKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered.contains(&self.scheme).then(|| {
            Box::new(EcdsaSigner {
                key: Arc::clone(&self.key),
                scheme: self.scheme,
            }) as Box<dyn Signer>
        })
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(self.spki.clone())
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

struct EcdsaSigner {
    key: Arc<EcdsaInner>,
    scheme: SignatureScheme,
}

impl core::fmt::Debug for EcdsaSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EcdsaSigner")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Signer for EcdsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        // Hedged signing: RFC 6979 nonces mixed with fresh entropy, so neither a weak RNG
        // nor a fault during deterministic signing alone leaks the key.
        let failed = |_| err("ECDSA signing failed");
        match &*self.key {
            EcdsaInner::P256(key) => {
                let sig: p256::ecdsa::DerSignature = key
                    .try_sign_with_rng(&mut SysRng, message)
                    .map_err(failed)?;
                Ok(sig.as_bytes().to_vec())
            }
            EcdsaInner::P384(key) => {
                let sig: p384::ecdsa::DerSignature = key
                    .try_sign_with_rng(&mut SysRng, message)
                    .map_err(failed)?;
                Ok(sig.as_bytes().to_vec())
            }
            // SHA-512, as `ecdsa_secp521r1_sha512` requires.
            EcdsaInner::P521(key) => {
                let sig: p521::ecdsa::DerSignature = key
                    .try_sign_with_rng(&mut SysRng, message)
                    .map_err(failed)?;
                Ok(sig.as_bytes().to_vec())
            }
        }
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

// ---------------------------------------------------------------------------------------------
// Ed25519

/// An Ed25519 key (RFC 8410 PKCS#8).
struct Ed25519Key {
    key: Arc<ed25519_dalek::SigningKey>,
    spki: SubjectPublicKeyInfoDer<'static>,
}

impl Ed25519Key {
    fn new(key: ed25519_dalek::SigningKey) -> Self {
        Self {
            spki: public_key_to_spki(&alg_id::ED25519, key.verifying_key().as_bytes()),
            key: Arc::new(key),
        }
    }
}

impl core::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ed25519Key").finish_non_exhaustive()
    }
}

impl SigningKey for Ed25519Key {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        offered.contains(&SignatureScheme::ED25519).then(|| {
            Box::new(Ed25519Signer {
                key: Arc::clone(&self.key),
            }) as Box<dyn Signer>
        })
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(self.spki.clone())
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ED25519
    }
}

struct Ed25519Signer {
    key: Arc<ed25519_dalek::SigningKey>,
}

impl core::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ed25519Signer").finish_non_exhaustive()
    }
}

impl Signer for Ed25519Signer {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let sig = self
            .key
            .try_sign(message)
            .map_err(|_| err("Ed25519 signing failed"))?;
        Ok(sig.to_bytes().to_vec())
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ED25519
    }
}

// ---------------------------------------------------------------------------------------------
// RSA

/// Our preference among the peer's offered schemes: PSS (the only choice in TLS 1.3) before
/// PKCS#1 v1.5, longer hashes first. rustls filters out PKCS#1 for TLS 1.3 before asking.
static RSA_SCHEMES: &[SignatureScheme] = &[
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PKCS1_SHA512,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA256,
];

/// An RSA key, usable with any of [`RSA_SCHEMES`].
struct RsaKey {
    key: Arc<rsa::PrivateKey>,
    spki: SubjectPublicKeyInfoDer<'static>,
}

impl RsaKey {
    fn new(key: rsa::PrivateKey) -> Result<Self, Error> {
        let bits = key.n().bit_width_vartime();
        if bits < RSA_MIN_BITS {
            return Err(err(format!(
                "RSA private key too small: {bits} bits (at least {RSA_MIN_BITS} required)"
            )));
        }
        let public = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| err(format!("cannot encode RSA public key: {e}")))?;
        Ok(Self {
            spki: public_key_to_spki(&alg_id::RSA_ENCRYPTION, public.as_bytes()),
            key: Arc::new(key),
        })
    }
}

impl core::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaKey")
            .field("bits", &self.key.n().bit_width_vartime())
            .finish_non_exhaustive()
    }
}

impl SigningKey for RsaKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        RSA_SCHEMES
            .iter()
            .find(|scheme| offered.contains(scheme))
            .map(|&scheme| {
                Box::new(RsaSigner {
                    key: Arc::clone(&self.key),
                    scheme,
                }) as Box<dyn Signer>
            })
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(self.spki.clone())
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

struct RsaSigner {
    key: Arc<rsa::PrivateKey>,
    scheme: SignatureScheme,
}

impl core::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaSigner")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Signer for RsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        // The RNG blinds the private-key operation (and salts PSS).
        let key = &*self.key;
        let rng = &mut SysRng;
        match self.scheme {
            SignatureScheme::RSA_PSS_SHA256 => {
                key.sign_with_rng(rng, Pss::<Sha256>::new(), &Sha256::digest(message))
            }
            SignatureScheme::RSA_PSS_SHA384 => {
                key.sign_with_rng(rng, Pss::<Sha384>::new(), &Sha384::digest(message))
            }
            SignatureScheme::RSA_PSS_SHA512 => {
                key.sign_with_rng(rng, Pss::<Sha512>::new(), &Sha512::digest(message))
            }
            SignatureScheme::RSA_PKCS1_SHA256 => {
                key.sign_with_rng(rng, Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
            }
            SignatureScheme::RSA_PKCS1_SHA384 => {
                key.sign_with_rng(rng, Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(message))
            }
            SignatureScheme::RSA_PKCS1_SHA512 => {
                key.sign_with_rng(rng, Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(message))
            }
            // Unreachable: signers are only built from RSA_SCHEMES.
            _ => return Err(err("unsupported RSA signature scheme")),
        }
        .map_err(|_| err("RSA signing failed"))
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}
