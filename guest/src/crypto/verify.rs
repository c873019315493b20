//! Signature verification for certificates and handshake signatures (webpki's interface).
//!
//! Each algorithm receives the raw `subjectPublicKey` bits of a certificate: an uncompressed
//! SEC1 point for ECDSA, a DER `RSAPublicKey` for RSA, 32 bytes for Ed25519. Any malformed key
//! or signature is reported as `InvalidSignature`, as the trait asks.

use core::fmt;

use ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss};
use rustls::SignatureScheme;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{
    AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Hash applied to the message before signing.
#[derive(Clone, Copy, Debug)]
enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    /// Hashes `msg`. One small allocation per verification is noise next to the public-key
    /// operation.
    fn digest(self, msg: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(msg).to_vec(),
            Self::Sha384 => Sha384::digest(msg).to_vec(),
            Self::Sha512 => Sha512::digest(msg).to_vec(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ECDSA

#[derive(Clone, Copy, Debug)]
enum Curve {
    P256,
    P384,
    P521,
}

/// ECDSA with DER (`Ecdsa-Sig-Value`) signatures over one curve and one hash.
struct Ecdsa {
    curve: Curve,
    hash: HashAlg,
    public_key_alg_id: AlgorithmIdentifier,
    signature_alg_id: AlgorithmIdentifier,
}

impl fmt::Debug for Ecdsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ecdsa")
            .field("curve", &self.curve)
            .field("hash", &self.hash)
            .finish()
    }
}

impl SignatureVerificationAlgorithm for Ecdsa {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        // Prehash so any curve/hash pairing works: ECDSA truncates or pads the digest itself.
        let digest = self.hash.digest(message);
        match self.curve {
            Curve::P256 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| InvalidSignature)?;
                let sig = p256::ecdsa::DerSignature::from_bytes(signature)
                    .map_err(|_| InvalidSignature)?;
                key.verify_prehash(&digest, &sig)
            }
            Curve::P384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| InvalidSignature)?;
                let sig = p384::ecdsa::DerSignature::from_bytes(signature)
                    .map_err(|_| InvalidSignature)?;
                key.verify_prehash(&digest, &sig)
            }
            Curve::P521 => {
                let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key)
                    .map_err(|_| InvalidSignature)?;
                let sig = p521::ecdsa::DerSignature::from_bytes(signature)
                    .map_err(|_| InvalidSignature)?;
                key.verify_prehash(&digest, &sig)
            }
        }
        .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.public_key_alg_id
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg_id
    }
}

/// ECDSA on P-256 with SHA-256.
pub static ECDSA_P256_SHA256: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P256,
    hash: HashAlg::Sha256,
    public_key_alg_id: alg_id::ECDSA_P256,
    signature_alg_id: alg_id::ECDSA_SHA256,
};

/// ECDSA on P-256 with SHA-384 (a mismatched pairing some CAs still use).
pub static ECDSA_P256_SHA384: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P256,
    hash: HashAlg::Sha384,
    public_key_alg_id: alg_id::ECDSA_P256,
    signature_alg_id: alg_id::ECDSA_SHA384,
};

/// ECDSA on P-256 with SHA-512 (a mismatched pairing, as aws-lc-rs's provider accepts).
pub static ECDSA_P256_SHA512: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P256,
    hash: HashAlg::Sha512,
    public_key_alg_id: alg_id::ECDSA_P256,
    signature_alg_id: alg_id::ECDSA_SHA512,
};

/// ECDSA on P-384 with SHA-256 (a mismatched pairing some CAs still use).
pub static ECDSA_P384_SHA256: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P384,
    hash: HashAlg::Sha256,
    public_key_alg_id: alg_id::ECDSA_P384,
    signature_alg_id: alg_id::ECDSA_SHA256,
};

/// ECDSA on P-384 with SHA-384.
pub static ECDSA_P384_SHA384: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P384,
    hash: HashAlg::Sha384,
    public_key_alg_id: alg_id::ECDSA_P384,
    signature_alg_id: alg_id::ECDSA_SHA384,
};

/// ECDSA on P-384 with SHA-512 (a mismatched pairing, as aws-lc-rs's provider accepts).
pub static ECDSA_P384_SHA512: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P384,
    hash: HashAlg::Sha512,
    public_key_alg_id: alg_id::ECDSA_P384,
    signature_alg_id: alg_id::ECDSA_SHA512,
};

/// ECDSA on P-521 with SHA-256 (a mismatched pairing some CAs still use).
pub static ECDSA_P521_SHA256: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P521,
    hash: HashAlg::Sha256,
    public_key_alg_id: alg_id::ECDSA_P521,
    signature_alg_id: alg_id::ECDSA_SHA256,
};

/// ECDSA on P-521 with SHA-384 (a mismatched pairing some CAs still use).
pub static ECDSA_P521_SHA384: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P521,
    hash: HashAlg::Sha384,
    public_key_alg_id: alg_id::ECDSA_P521,
    signature_alg_id: alg_id::ECDSA_SHA384,
};

/// ECDSA on P-521 with SHA-512.
pub static ECDSA_P521_SHA512: &dyn SignatureVerificationAlgorithm = &Ecdsa {
    curve: Curve::P521,
    hash: HashAlg::Sha512,
    public_key_alg_id: alg_id::ECDSA_P521,
    signature_alg_id: alg_id::ECDSA_SHA512,
};

// ---------------------------------------------------------------------------------------------
// Ed25519

/// Ed25519 (RFC 8032), verified strictly: no small-order keys, no malleable signatures.
struct Ed25519;

impl fmt::Debug for Ed25519 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519")
    }
}

impl SignatureVerificationAlgorithm for Ed25519 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key: &[u8; 32] = public_key.try_into().map_err(|_| InvalidSignature)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(key).map_err(|_| InvalidSignature)?;
        let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| InvalidSignature)?;
        key.verify_strict(message, &sig)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ED25519
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ED25519
    }
}

/// Ed25519.
pub static ED25519: &dyn SignatureVerificationAlgorithm = &Ed25519;

// ---------------------------------------------------------------------------------------------
// RSA

#[derive(Clone, Copy, Debug)]
enum RsaPadding {
    Pkcs1,
    Pss,
}

/// RSA signatures for `rsaEncryption` keys of 2048 to 8192 bits.
struct Rsa {
    padding: RsaPadding,
    hash: HashAlg,
    signature_alg_id: AlgorithmIdentifier,
}

impl fmt::Debug for Rsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rsa")
            .field("padding", &self.padding)
            .field("hash", &self.hash)
            .finish()
    }
}

/// The same bounds as webpki's `RSA_*_2048_8192_*` algorithms.
const RSA_MIN_BITS: u32 = 2048;

impl SignatureVerificationAlgorithm for Rsa {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        // Parsing caps the modulus at 8192 bits; the lower bound is ours.
        let key = rsa::PublicKey::from_pkcs1_der(public_key).map_err(|_| InvalidSignature)?;
        if key.n().bit_width_vartime() < RSA_MIN_BITS {
            return Err(InvalidSignature);
        }
        let hashed = &self.hash.digest(message);
        // TLS and X.509 fix the PSS salt length to the hash length (RFC 8446 section 4.2.3).
        match (self.padding, self.hash) {
            (RsaPadding::Pkcs1, HashAlg::Sha256) => {
                key.verify(Pkcs1v15Sign::new::<Sha256>(), hashed, signature)
            }
            (RsaPadding::Pkcs1, HashAlg::Sha384) => {
                key.verify(Pkcs1v15Sign::new::<Sha384>(), hashed, signature)
            }
            (RsaPadding::Pkcs1, HashAlg::Sha512) => {
                key.verify(Pkcs1v15Sign::new::<Sha512>(), hashed, signature)
            }
            (RsaPadding::Pss, HashAlg::Sha256) => {
                key.verify(Pss::<Sha256>::new(), hashed, signature)
            }
            (RsaPadding::Pss, HashAlg::Sha384) => {
                key.verify(Pss::<Sha384>::new(), hashed, signature)
            }
            (RsaPadding::Pss, HashAlg::Sha512) => {
                key.verify(Pss::<Sha512>::new(), hashed, signature)
            }
        }
        .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_alg_id
    }
}

/// RSA PKCS#1 v1.5 with SHA-256.
pub static RSA_PKCS1_SHA256: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pkcs1,
    hash: HashAlg::Sha256,
    signature_alg_id: alg_id::RSA_PKCS1_SHA256,
};

/// RSA PKCS#1 v1.5 with SHA-384.
pub static RSA_PKCS1_SHA384: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pkcs1,
    hash: HashAlg::Sha384,
    signature_alg_id: alg_id::RSA_PKCS1_SHA384,
};

/// RSA PKCS#1 v1.5 with SHA-512.
pub static RSA_PKCS1_SHA512: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pkcs1,
    hash: HashAlg::Sha512,
    signature_alg_id: alg_id::RSA_PKCS1_SHA512,
};

// Certificates whose signature AlgorithmIdentifier wrongly omits the NULL parameters exist in
// the wild; webpki's ring provider accepts them too. The identifiers are the bare OIDs.
/// RSA PKCS#1 v1.5 with SHA-256, AlgorithmIdentifier without parameters.
pub static RSA_PKCS1_SHA256_ABSENT_PARAMS: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pkcs1,
    hash: HashAlg::Sha256,
    signature_alg_id: AlgorithmIdentifier::from_slice(&[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
    ]),
};

/// RSA PKCS#1 v1.5 with SHA-384, AlgorithmIdentifier without parameters.
pub static RSA_PKCS1_SHA384_ABSENT_PARAMS: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pkcs1,
    hash: HashAlg::Sha384,
    signature_alg_id: AlgorithmIdentifier::from_slice(&[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c,
    ]),
};

/// RSA PKCS#1 v1.5 with SHA-512, AlgorithmIdentifier without parameters.
pub static RSA_PKCS1_SHA512_ABSENT_PARAMS: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pkcs1,
    hash: HashAlg::Sha512,
    signature_alg_id: AlgorithmIdentifier::from_slice(&[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d,
    ]),
};

/// RSA-PSS with SHA-256 and MGF1-SHA-256, for `rsaEncryption` keys.
pub static RSA_PSS_SHA256: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pss,
    hash: HashAlg::Sha256,
    signature_alg_id: alg_id::RSA_PSS_SHA256,
};

/// RSA-PSS with SHA-384 and MGF1-SHA-384, for `rsaEncryption` keys.
pub static RSA_PSS_SHA384: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pss,
    hash: HashAlg::Sha384,
    signature_alg_id: alg_id::RSA_PSS_SHA384,
};

/// RSA-PSS with SHA-512 and MGF1-SHA-512, for `rsaEncryption` keys.
pub static RSA_PSS_SHA512: &dyn SignatureVerificationAlgorithm = &Rsa {
    padding: RsaPadding::Pss,
    hash: HashAlg::Sha512,
    signature_alg_id: alg_id::RSA_PSS_SHA512,
};

/// Everything this provider verifies, and which algorithms back each TLS signature scheme.
///
/// In TLS 1.3 rustls uses only the first algorithm of a scheme's list (the scheme fixes the
/// curve), so the matching-curve algorithm comes first; TLS 1.2 tries them all. The table is
/// ring's plus the P-521 and ECDSA-with-SHA-512 entries, laid out as aws-lc-rs's provider does
/// (every NIST curve with every SHA-2 hash).
pub static SUPPORTED_SIG_ALGS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        ECDSA_P256_SHA256,
        ECDSA_P256_SHA384,
        ECDSA_P256_SHA512,
        ECDSA_P384_SHA256,
        ECDSA_P384_SHA384,
        ECDSA_P384_SHA512,
        ECDSA_P521_SHA256,
        ECDSA_P521_SHA384,
        ECDSA_P521_SHA512,
        ED25519,
        RSA_PSS_SHA256,
        RSA_PSS_SHA384,
        RSA_PSS_SHA512,
        RSA_PKCS1_SHA256,
        RSA_PKCS1_SHA384,
        RSA_PKCS1_SHA512,
        RSA_PKCS1_SHA256_ABSENT_PARAMS,
        RSA_PKCS1_SHA384_ABSENT_PARAMS,
        RSA_PKCS1_SHA512_ABSENT_PARAMS,
    ],
    mapping: &[
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[ECDSA_P384_SHA384, ECDSA_P256_SHA384, ECDSA_P521_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[ECDSA_P256_SHA256, ECDSA_P384_SHA256, ECDSA_P521_SHA256],
        ),
        (
            SignatureScheme::ECDSA_NISTP521_SHA512,
            &[ECDSA_P521_SHA512, ECDSA_P384_SHA512, ECDSA_P256_SHA512],
        ),
        (SignatureScheme::ED25519, &[ED25519]),
        (SignatureScheme::RSA_PSS_SHA512, &[RSA_PSS_SHA512]),
        (SignatureScheme::RSA_PSS_SHA384, &[RSA_PSS_SHA384]),
        (SignatureScheme::RSA_PSS_SHA256, &[RSA_PSS_SHA256]),
        (SignatureScheme::RSA_PKCS1_SHA512, &[RSA_PKCS1_SHA512]),
        (SignatureScheme::RSA_PKCS1_SHA384, &[RSA_PKCS1_SHA384]),
        (SignatureScheme::RSA_PKCS1_SHA256, &[RSA_PKCS1_SHA256]),
    ],
};
