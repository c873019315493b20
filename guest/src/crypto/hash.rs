//! SHA-2 hashes and HMAC for rustls, on the `sha2` and `hmac` crates.

use core::marker::PhantomData;

use hmac::digest::block_api::{Buffer, EagerHash};
use hmac::digest::{Digest, KeyInit, Mac};
use p256::elliptic_curve::zeroize::{Zeroize, ZeroizeOnDrop};
use rustls::crypto::hash::{self, HashAlgorithm};
use rustls::crypto::hmac as rhmac;
use sha2::{Sha256, Sha384};

/// SHA-256 as a rustls hash.
pub static SHA256: Sha2<Sha256> = Sha2::new(HashAlgorithm::SHA256);
/// SHA-384 as a rustls hash.
pub static SHA384: Sha2<Sha384> = Sha2::new(HashAlgorithm::SHA384);

/// HMAC-SHA256 as a rustls HMAC (TLS 1.3 HKDF and the TLS 1.2 PRF for SHA-256 suites).
pub static HMAC_SHA256: HmacSha2<Sha256> = HmacSha2(PhantomData);
/// HMAC-SHA384 as a rustls HMAC (TLS 1.3 HKDF and the TLS 1.2 PRF for SHA-384 suites).
pub static HMAC_SHA384: HmacSha2<Sha384> = HmacSha2(PhantomData);

/// A SHA-2 hash function `D` exposed through [`rustls::crypto::hash::Hash`].
pub struct Sha2<D> {
    algorithm: HashAlgorithm,
    // `fn() -> D` keeps the static `Sync` whatever `D` is; no `D` is ever stored.
    _digest: PhantomData<fn() -> D>,
}

impl<D> Sha2<D> {
    const fn new(algorithm: HashAlgorithm) -> Self {
        Self {
            algorithm,
            _digest: PhantomData,
        }
    }
}

impl<D> hash::Hash for Sha2<D>
where
    D: Digest + Clone + Send + Sync + 'static,
{
    fn start(&self) -> Box<dyn hash::Context> {
        Box::new(Context(D::new()))
    }

    fn hash(&self, data: &[u8]) -> hash::Output {
        hash::Output::new(&D::digest(data))
    }

    fn output_len(&self) -> usize {
        <D as Digest>::output_size()
    }

    fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }
}

/// A running hash; rustls forks it to hash transcripts at several points.
struct Context<D>(D);

impl<D> hash::Context for Context<D>
where
    D: Digest + Clone + Send + Sync + 'static,
{
    fn fork_finish(&self) -> hash::Output {
        hash::Output::new(&self.0.clone().finalize())
    }

    fn fork(&self) -> Box<dyn hash::Context> {
        Box::new(Self(self.0.clone()))
    }

    fn finish(self: Box<Self>) -> hash::Output {
        hash::Output::new(&self.0.finalize())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

/// HMAC over the SHA-2 hash function `D`, exposed through [`rustls::crypto::hmac::Hmac`].
pub struct HmacSha2<D>(PhantomData<fn() -> D>);

impl<D> rhmac::Hmac for HmacSha2<D>
where
    D: EagerHash + Digest + Send + Sync + 'static,
    hmac::Hmac<D>: Clone + Send + Sync,
{
    fn with_key(&self, key: &[u8]) -> Box<dyn rhmac::Key> {
        Box::new(HmacKey(keyed::<D>(key)))
    }

    fn hash_output_len(&self) -> usize {
        <D as Digest>::output_size()
    }
}

/// Builds an HMAC keyed with `key` without a fallible call.
///
/// HMAC accepts keys of any length (RFC 2104 hashes long keys and zero-pads short ones), but
/// `KeyInit::new_from_slice` returns a `Result`. Doing the RFC 2104 normalisation here and
/// passing a block-sized key to the infallible `KeyInit::new` gives the same MAC with no
/// error path to handle.
fn keyed<D>(key: &[u8]) -> hmac::Hmac<D>
where
    D: EagerHash + Digest,
{
    let mut block = hmac::digest::Key::<hmac::Hmac<D>>::default();
    let block_len = block.len();
    let mut fill = |src: &[u8]| {
        for (b, k) in block.iter_mut().zip(src) {
            *b = *k;
        }
    };
    if key.len() > block_len {
        // A SHA-2 digest always fits in its block. The digest stands in for the key, so it is
        // wiped too.
        let mut digest = D::digest(key);
        fill(&digest);
        digest.as_mut_slice().zeroize();
    } else {
        fill(key);
    }
    let mac = <hmac::Hmac<D> as KeyInit>::new(&block);
    // The key block is secret.
    block.as_mut_slice().zeroize();
    mac
}

/// An HMAC key, kept as the keyed state so each tag costs only the message's blocks.
///
/// rustls holds every HKDF PRK and TLS 1.2 master secret as one of these. The keyed state (the
/// hash states after absorbing `key ^ ipad` and `key ^ opad`) is as good as the key, so it must
/// not outlive the key schedule: with the `hmac` and `sha2` `zeroize` features the hash states
/// and the block buffer wipe themselves on drop, here and in the per-tag clones.
struct HmacKey<D: EagerHash>(hmac::Hmac<D>);

// `Hmac<D>` is two `D::Core` hash states plus a block buffer and carries no zeroize marker of
// its own, so check the parts: this fails to compile if a dependency update or a lost feature
// stops any of them wiping itself on drop.
const _: () = {
    const fn wipes_on_drop<T: ZeroizeOnDrop>() {}
    wipes_on_drop::<<Sha256 as EagerHash>::Core>();
    wipes_on_drop::<<Sha384 as EagerHash>::Core>();
    wipes_on_drop::<Buffer<hmac::block_api::HmacCore<Sha256>>>();
    wipes_on_drop::<Buffer<hmac::block_api::HmacCore<Sha384>>>();
};

impl<D> rhmac::Key for HmacKey<D>
where
    D: EagerHash + Digest + Send + Sync + 'static,
    hmac::Hmac<D>: Clone + Send + Sync,
{
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> rhmac::Tag {
        let mut mac = self.0.clone();
        mac.update(first);
        for part in middle {
            mac.update(part);
        }
        mac.update(last);
        rhmac::Tag::new(&mac.finalize().into_bytes())
    }

    fn tag_len(&self) -> usize {
        <D as Digest>::output_size()
    }
}
