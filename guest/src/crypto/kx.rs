//! Ephemeral key exchange: X25519 (x25519-dalek), X448 (x448) and ECDH on P-256 / P-384 /
//! P-521 (p256, p384, p521).

use core::fmt;

use getrandom::SysRng;
use p256::elliptic_curve::Generate;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::zeroize::Zeroizing;
use rustls::crypto::{ActiveKeyExchange, GetRandomFailed, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved};

/// Ephemeral X25519 (RFC 7748).
pub static X25519: &dyn SupportedKxGroup = &X25519Group;
/// Ephemeral X448 (RFC 7748).
pub static X448: &dyn SupportedKxGroup = &X448Group;
/// Ephemeral ECDH on secp256r1 (NIST P-256).
pub static SECP256R1: &dyn SupportedKxGroup = &P256Group;
/// Ephemeral ECDH on secp384r1 (NIST P-384).
pub static SECP384R1: &dyn SupportedKxGroup = &P384Group;
/// Ephemeral ECDH on secp521r1 (NIST P-521). ring cannot do it; aws-lc-rs and OpenSSL can.
pub static SECP521R1: &dyn SupportedKxGroup = &P521Group;

fn invalid_share() -> Error {
    PeerMisbehaved::InvalidKeyShare.into()
}

struct X25519Group;

impl fmt::Debug for X25519Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name().fmt(f)
    }
}

impl SupportedKxGroup for X25519Group {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        // x25519-dalek only draws from an infallible RNG; drawing the scalar ourselves keeps an
        // entropy failure an error rather than a panic.
        let mut scalar = Zeroizing::new([0u8; 32]);
        getrandom::fill(scalar.as_mut_slice()).map_err(|_| GetRandomFailed)?;
        let secret = x25519_dalek::StaticSecret::from(*scalar);
        let public = x25519_dalek::PublicKey::from(&secret);
        Ok(Box::new(X25519Exchange { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct X25519Exchange {
    // Zeroised on drop by x25519-dalek.
    secret: x25519_dalek::StaticSecret,
    public: x25519_dalek::PublicKey,
}

impl ActiveKeyExchange for X25519Exchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer.try_into().map_err(|_| invalid_share())?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // A low-order peer point forces an all-zero secret (RFC 7748 section 6.1).
        if !shared.was_contributory() {
            return Err(invalid_share());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_bytes()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct X448Group;

impl fmt::Debug for X448Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name().fmt(f)
    }
}

impl SupportedKxGroup for X448Group {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut scalar = Zeroizing::new([0u8; 56]);
        getrandom::fill(scalar.as_mut_slice()).map_err(|_| GetRandomFailed)?;
        Ok(x448_exchange(*scalar))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X448
    }
}

/// The exchange for the private scalar `scalar` (clamped here); known answers use it too.
pub(crate) fn x448_exchange(scalar: [u8; 56]) -> Box<dyn ActiveKeyExchange> {
    let secret = x448::StaticSecret::from(scalar);
    let public = x448::PublicKey::from(&secret);
    Box::new(X448Exchange { secret, public })
}

struct X448Exchange {
    // Zeroised on drop by x448; used once, like an ephemeral secret.
    secret: x448::StaticSecret,
    public: x448::PublicKey,
}

impl ActiveKeyExchange for X448Exchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        // `from_bytes` takes exactly 56 bytes and refuses the low-order points, the ones that
        // force an all-zero secret (RFC 7748 section 6.2); the check after is belt and braces.
        let peer = x448::PublicKey::from_bytes(peer).ok_or_else(invalid_share)?;
        let shared = self.secret.diffie_hellman(&peer);
        if shared.as_bytes().iter().all(|b| *b == 0) {
            return Err(invalid_share());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_bytes()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X448
    }
}

/// ECDH on one NIST curve. The curves differ only in types, so a macro stamps out each.
macro_rules! nist_group {
    ($group:ident, $exchange:ident, $curve:ident, $name:expr) => {
        struct $group;

        impl fmt::Debug for $group {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.name().fmt(f)
            }
        }

        impl SupportedKxGroup for $group {
            fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
                let secret = $curve::ecdh::EphemeralSecret::try_generate_from_rng(&mut SysRng)
                    .map_err(|_| GetRandomFailed)?;
                // TLS uses the uncompressed point only (RFC 8446 section 4.2.8.2).
                let public = secret.public_key().to_sec1_point(false).as_bytes().to_vec();
                Ok(Box::new($exchange { secret, public }))
            }

            fn name(&self) -> NamedGroup {
                $name
            }
        }

        struct $exchange {
            // Zeroised on drop by elliptic-curve.
            secret: $curve::ecdh::EphemeralSecret,
            public: Vec<u8>,
        }

        impl ActiveKeyExchange for $exchange {
            fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
                // Only the uncompressed form is allowed; the parser would also take the
                // compressed one, so check the shape first. Decoding checks the point is on
                // the curve and not the identity.
                if peer.len() != self.public.len() || peer.first() != Some(&0x04) {
                    return Err(invalid_share());
                }
                let peer = $curve::PublicKey::from_sec1_bytes(peer).map_err(|_| invalid_share())?;
                let shared = self.secret.diffie_hellman(&peer);
                Ok(SharedSecret::from(&shared.raw_secret_bytes()[..]))
            }

            fn pub_key(&self) -> &[u8] {
                &self.public
            }

            fn group(&self) -> NamedGroup {
                $name
            }
        }
    };
}

nist_group!(P256Group, P256Exchange, p256, NamedGroup::secp256r1);
nist_group!(P384Group, P384Exchange, p384, NamedGroup::secp384r1);
nist_group!(P521Group, P521Exchange, p521, NamedGroup::secp521r1);
