//! Post-quantum hybrid key exchange (draft-ietf-tls-ecdhe-mlkem): X25519MLKEM768 (0x11ec) and
//! SecP256r1MLKEM768 (0x11eb), an ML-KEM-768 (FIPS 203) encapsulation combined with an ECDH
//! exchange, so the handshake's secret stays safe while either holds.
//!
//! The client's share is the ML-KEM encapsulation key and its ECDH public key; the server
//! encapsulates to the first and answers with the ciphertext and its own ECDH key. The shared
//! secret is the ML-KEM key and the ECDH secret, concatenated. X25519MLKEM768 puts ML-KEM
//! first in shares and secret; SecP256r1MLKEM768 puts the curve first.

use core::fmt;

use ml_kem::kem::{Decapsulate, KeyExport};
use ml_kem::{DecapsulationKey, EncapsulationKey, MlKem768, Seed};
use rustls::crypto::{
    ActiveKeyExchange, CompletedKeyExchange, GetRandomFailed, SharedSecret, SupportedKxGroup,
};
use rustls::{Error, NamedGroup, PeerMisbehaved, ProtocolVersion};
use zeroize::Zeroizing;

use super::kx;

/// X25519 with ML-KEM-768, ML-KEM first: what browsers and OpenSSL 3.5 offer by default.
pub static X25519MLKEM768: &dyn SupportedKxGroup = &X25519_MLKEM768;
/// NIST P-256 with ML-KEM-768, the curve first.
pub static SECP256R1MLKEM768: &dyn SupportedKxGroup = &SECP256R1_MLKEM768;

static X25519_MLKEM768: Hybrid = Hybrid {
    name: NamedGroup::X25519MLKEM768,
    classical: kx::X25519,
    classical_len: 32,
    post_quantum_first: true,
};

static SECP256R1_MLKEM768: Hybrid = Hybrid {
    name: NamedGroup::secp256r1MLKEM768,
    classical: kx::SECP256R1,
    classical_len: 65,
    post_quantum_first: false,
};

/// An ML-KEM-768 encapsulation key (the client's share).
pub const ENCAPSULATION_KEY_LEN: usize = 1184;
/// An ML-KEM-768 ciphertext (the server's share).
pub const CIPHERTEXT_LEN: usize = 1088;

fn invalid_share() -> Error {
    PeerMisbehaved::InvalidKeyShare.into()
}

/// A hybrid group: ML-KEM-768 and `classical`, in the order the group's definition gives.
#[derive(Clone, Copy)]
struct Hybrid {
    name: NamedGroup,
    classical: &'static dyn SupportedKxGroup,
    /// The classical share's length (the same both ways for ECDH).
    classical_len: usize,
    post_quantum_first: bool,
}

impl fmt::Debug for Hybrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name.fmt(f)
    }
}

impl Hybrid {
    /// The two parts in this group's order.
    fn concat(&self, post_quantum: &[u8], classical: &[u8]) -> Vec<u8> {
        match self.post_quantum_first {
            true => [post_quantum, classical].concat(),
            false => [classical, post_quantum].concat(),
        }
    }

    /// (post-quantum, classical) parts of a received share whose ML-KEM part is `pq_len`
    /// bytes; `None` if the share is not exactly that long plus the classical part.
    fn split<'a>(&self, share: &'a [u8], pq_len: usize) -> Option<(&'a [u8], &'a [u8])> {
        if share.len() != pq_len + self.classical_len {
            return None;
        }
        Some(match self.post_quantum_first {
            true => share.split_at(pq_len),
            false => {
                let (classical, post_quantum) = share.split_at(self.classical_len);
                (post_quantum, classical)
            }
        })
    }
}

impl Hybrid {
    /// The client's half from the ML-KEM seed `d || z` (the ECDH key is the classical
    /// group's).
    fn start_with(&self, seed: &[u8; 64]) -> Result<ActiveHybrid, Error> {
        let decapsulation = MlKemClient::from_seed(seed);
        let classical = self.classical.start()?;
        let share = self.concat(&decapsulation.encapsulation_key(), classical.pub_key());
        Ok(ActiveHybrid {
            layout: *self,
            decapsulation,
            classical,
            share,
        })
    }

    /// The server's half with the encapsulation randomness `m`.
    fn start_and_complete_with(
        &self,
        client_share: &[u8],
        m: &[u8; 32],
    ) -> Result<CompletedKeyExchange, Error> {
        let (post_quantum, classical) = self
            .split(client_share, ENCAPSULATION_KEY_LEN)
            .ok_or_else(invalid_share)?;
        let (ciphertext, key) = encapsulate(post_quantum, m)?;
        let classical = self.classical.start_and_complete(classical)?;
        Ok(CompletedKeyExchange {
            group: self.name,
            pub_key: self.concat(&ciphertext, &classical.pub_key),
            secret: SharedSecret::from(self.concat(&key[..], classical.secret.secret_bytes())),
        })
    }
}

impl SupportedKxGroup for Hybrid {
    /// The client's half: a fresh ML-KEM key pair and ECDH key.
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut seed = Zeroizing::new([0u8; 64]);
        getrandom::fill(seed.as_mut_slice()).map_err(|_| GetRandomFailed)?;
        Ok(Box::new(self.start_with(&seed)?))
    }

    /// The server's half, all at once: encapsulate to the client's ML-KEM key, ECDH with its
    /// curve key. A share of the wrong length or an invalid encapsulation key is
    /// `illegal_parameter` (RFC 8446 §4.2.8; FIPS 203 §7.2's input check).
    fn start_and_complete(&self, client_share: &[u8]) -> Result<CompletedKeyExchange, Error> {
        let mut m = Zeroizing::new([0u8; 32]);
        getrandom::fill(m.as_mut_slice()).map_err(|_| GetRandomFailed)?;
        self.start_and_complete_with(client_share, &m)
    }

    fn name(&self) -> NamedGroup {
        self.name
    }

    fn usable_for_version(&self, version: ProtocolVersion) -> bool {
        version == ProtocolVersion::TLSv1_3
    }
}

/// A client's hybrid exchange in progress.
struct ActiveHybrid {
    layout: Hybrid,
    decapsulation: MlKemClient,
    classical: Box<dyn ActiveKeyExchange>,
    share: Vec<u8>,
}

impl ActiveKeyExchange for ActiveHybrid {
    fn complete(self: Box<Self>, server_share: &[u8]) -> Result<SharedSecret, Error> {
        let (post_quantum, classical) = self
            .layout
            .split(server_share, CIPHERTEXT_LEN)
            .ok_or_else(invalid_share)?;
        let key = self.decapsulation.decapsulate(post_quantum)?;
        let classical = self.classical.complete(classical)?;
        Ok(SharedSecret::from(
            self.layout.concat(&key[..], classical.secret_bytes()),
        ))
    }

    /// The ECDH part on its own: rustls sends it as a second key share, so a server without
    /// the hybrid group answers it with no HelloRetryRequest.
    fn hybrid_component(&self) -> Option<(NamedGroup, &[u8])> {
        Some((self.classical.group(), self.classical.pub_key()))
    }

    fn complete_hybrid_component(
        self: Box<Self>,
        server_share: &[u8],
    ) -> Result<SharedSecret, Error> {
        self.classical.complete(server_share)
    }

    fn pub_key(&self) -> &[u8] {
        &self.share
    }

    fn group(&self) -> NamedGroup {
        self.layout.name
    }
}

/// A client's ML-KEM-768 key pair (the decapsulation key wipes itself on drop). Boxed where
/// it is made: several KiB moved by value through the key exchange's set-up left 8 KiB more
/// of the guest's stack resident in every idle connection (docs/performance.md).
pub struct MlKemClient(Box<DecapsulationKey<MlKem768>>);

impl MlKemClient {
    /// The key pair FIPS 203's ML-KEM.KeyGen_internal makes from `d || z`.
    pub fn from_seed(seed: &[u8; 64]) -> Self {
        MlKemClient(Box::new(DecapsulationKey::from_seed(Seed::from(*seed))))
    }

    /// The encapsulation key, encoded (1,184 bytes).
    pub fn encapsulation_key(&self) -> Vec<u8> {
        self.0.encapsulation_key().to_bytes().to_vec()
    }

    /// The shared key a server's `ciphertext` carries. A ciphertext of the right length
    /// always decapsulates (to a pseudorandom key if it was tampered with: FIPS 203's implicit
    /// rejection), so tampering shows as a failed Finished, not here.
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<[u8; 32]>, Error> {
        let ciphertext = ciphertext.try_into().map_err(|_| invalid_share())?;
        Ok(Zeroizing::new(self.0.decapsulate(ciphertext).into()))
    }
}

/// A server's encapsulation to the client's `encapsulation_key` with the randomness `m`:
/// (ciphertext, shared key). A key that fails FIPS 203's check is an invalid share.
pub fn encapsulate(
    encapsulation_key: &[u8],
    m: &[u8; 32],
) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>), Error> {
    let key = encapsulation_key.try_into().map_err(|_| invalid_share())?;
    let key = EncapsulationKey::<MlKem768>::new(key).map_err(|_| invalid_share())?;
    let (ciphertext, shared) = key.encapsulate_deterministic(&(*m).into());
    Ok((ciphertext.to_vec(), Zeroizing::new(shared.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case of `testdata/mlkem768.kat`: its kind and fields.
    struct Case {
        kind: String,
        fields: Vec<(String, Vec<u8>)>,
    }

    impl Case {
        fn get(&self, name: &str) -> &[u8] {
            &self.fields.iter().find(|(n, _)| n == name).unwrap().1
        }
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn cases(kind: &str) -> Vec<Case> {
        let text = include_str!("testdata/mlkem768.kat");
        let cases: Vec<Case> = text
            .split("\n\n")
            .filter_map(|block| {
                let mut lines = block
                    .lines()
                    .filter(|l| !l.starts_with('#') && !l.is_empty());
                let kind = lines.next()?.split(' ').next()?.to_owned();
                let fields = lines
                    .map(|l| {
                        let (name, value) = l.split_once(' ').unwrap();
                        (name.to_owned(), hex(value))
                    })
                    .collect();
                Some(Case { kind, fields })
            })
            .filter(|c| c.kind == kind)
            .collect();
        assert!(!cases.is_empty(), "no {kind} cases");
        cases
    }

    fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
        bytes.try_into().unwrap()
    }

    #[test]
    fn ml_kem_768_key_generation_matches_fips_203_vectors() {
        for case in cases("keygen") {
            let seed: [u8; 64] = [case.get("d"), case.get("z")].concat().try_into().unwrap();
            let client = MlKemClient::from_seed(&seed);
            assert_eq!(client.encapsulation_key(), case.get("ek"));
        }
    }

    #[test]
    fn ml_kem_768_encapsulation_matches_fips_203_vectors() {
        for case in cases("encap") {
            let (ciphertext, key) = encapsulate(case.get("ek"), &array(case.get("m"))).unwrap();
            assert_eq!(ciphertext, case.get("c"));
            assert_eq!(&key[..], case.get("k"));
        }
    }

    #[test]
    #[allow(deprecated)] // the vectors give the expanded decapsulation key
    fn ml_kem_768_decapsulation_matches_fips_203_vectors_including_implicit_rejection() {
        for case in cases("decap") {
            let dk =
                DecapsulationKey::<MlKem768>::from_expanded(case.get("dk").try_into().unwrap())
                    .unwrap();
            let key = MlKemClient(Box::new(dk))
                .decapsulate(case.get("c"))
                .unwrap();
            // For a modified ciphertext this is the implicit-rejection key, not an error.
            assert_eq!(&key[..], case.get("k"));
        }
    }

    #[test]
    fn an_invalid_encapsulation_key_or_a_share_of_the_wrong_length_is_refused() {
        let ek = cases("encap").remove(0).get("ek").to_vec();
        // FIPS 203 §7.2: every coefficient below q; 0xff bytes break that at once.
        let mut bad = ek.clone();
        bad[..3].copy_from_slice(&[0xff; 3]);
        assert_eq!(encapsulate(&bad, &[0; 32]).unwrap_err(), invalid_share());
        assert_eq!(
            encapsulate(&ek[1..], &[0; 32]).unwrap_err(),
            invalid_share()
        );
        let share = [bad, vec![9; 32]].concat();
        assert!(X25519MLKEM768.start_and_complete(&share).is_err());
        assert!(X25519MLKEM768.start_and_complete(&share[1..]).is_err());
        let client = X25519MLKEM768.start().unwrap();
        assert!(client.complete(&[0; CIPHERTEXT_LEN + 31]).is_err());
    }

    /// X25519 with a fixed private key: RFC 7748 §6.1's Alice or Bob.
    #[derive(Debug)]
    struct FixedX25519([u8; 32]);

    struct FixedExchange(x25519_dalek::StaticSecret, [u8; 32]);

    impl SupportedKxGroup for FixedX25519 {
        fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
            let secret = x25519_dalek::StaticSecret::from(self.0);
            let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
            Ok(Box::new(FixedExchange(secret, public)))
        }

        fn name(&self) -> NamedGroup {
            NamedGroup::X25519
        }
    }

    impl ActiveKeyExchange for FixedExchange {
        fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
            let peer = x25519_dalek::PublicKey::from(array::<32>(peer));
            Ok(SharedSecret::from(
                &self.0.diffie_hellman(&peer).as_bytes()[..],
            ))
        }

        fn pub_key(&self) -> &[u8] {
            &self.1
        }

        fn group(&self) -> NamedGroup {
            NamedGroup::X25519
        }
    }

    static ALICE: FixedX25519 = FixedX25519(hex_array(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    ));
    static BOB: FixedX25519 = FixedX25519(hex_array(
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    ));
    const ALICE_PUBLIC: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    const BOB_PUBLIC: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    const SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }

    const fn hex_array(text: &str) -> [u8; 32] {
        let bytes = text.as_bytes();
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = (digit(bytes[2 * i]) << 4) | digit(bytes[2 * i + 1]);
            i += 1;
        }
        out
    }

    /// X25519MLKEM768 from known parts: the FIPS 203 key pair (seed `d || z` of the keygen
    /// vector) and encapsulation (the encap vector's `m`, to that same key), and RFC 7748's
    /// Alice (client) and Bob (server). The shares and the secret must be those parts in the
    /// draft's order: ML-KEM first.
    #[test]
    fn x25519mlkem768_puts_ml_kem_first_in_shares_and_secret() {
        let keygen = cases("keygen").remove(0);
        let seed: [u8; 64] = [keygen.get("d"), keygen.get("z")]
            .concat()
            .try_into()
            .unwrap();
        let m = [7u8; 32];
        let (ciphertext, key) = encapsulate(keygen.get("ek"), &m).unwrap();

        let client_group = Hybrid {
            classical: &ALICE,
            ..*hybrid(X25519MLKEM768)
        };
        let server_group = Hybrid {
            classical: &BOB,
            ..client_group
        };
        let client = client_group.start_with(&seed).unwrap();
        assert_eq!(
            client.pub_key(),
            [keygen.get("ek"), &hex(ALICE_PUBLIC)].concat()
        );
        assert_eq!(
            client.hybrid_component(),
            Some((NamedGroup::X25519, &hex(ALICE_PUBLIC)[..]))
        );

        let server = server_group
            .start_and_complete_with(client.pub_key(), &m)
            .unwrap();
        assert_eq!(server.group, NamedGroup::X25519MLKEM768);
        assert_eq!(server.pub_key, [&ciphertext[..], &hex(BOB_PUBLIC)].concat());
        let expected = [&key[..], &hex(SHARED)].concat();
        assert_eq!(server.secret.secret_bytes(), expected);
        let client_secret = Box::new(client).complete(&server.pub_key).unwrap();
        assert_eq!(client_secret.secret_bytes(), expected);
    }

    fn hybrid(group: &'static dyn SupportedKxGroup) -> &'static Hybrid {
        match group.name() {
            NamedGroup::X25519MLKEM768 => &X25519_MLKEM768,
            _ => &SECP256R1_MLKEM768,
        }
    }

    #[test]
    fn secp256r1mlkem768_puts_the_curve_first() {
        let client = SECP256R1MLKEM768.start().unwrap();
        let share = client.pub_key().to_vec();
        assert_eq!(share.len(), 65 + ENCAPSULATION_KEY_LEN);
        assert_eq!(share[0], 0x04, "an uncompressed P-256 point first");
        assert_eq!(client.hybrid_component().unwrap().1, &share[..65]);
        let server = SECP256R1MLKEM768.start_and_complete(&share).unwrap();
        assert_eq!(server.pub_key.len(), 65 + CIPHERTEXT_LEN);
        assert_eq!(server.pub_key[0], 0x04);
        let secret = client.complete(&server.pub_key).unwrap();
        assert_eq!(secret.secret_bytes(), server.secret.secret_bytes());
        assert_eq!(secret.secret_bytes().len(), 32 + 32);
    }
}
