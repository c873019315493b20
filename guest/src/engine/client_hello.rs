//! What a server reads in a ClientHello before rustls answers it:
//!
//! - whether the client offered 0-RTT early data, which rustls keeps to itself. A server that
//!   does not take it must skip the client's early records (RFC 8446 §4.2.10), and only then;
//!   rustls's own skipping counts each skipped record twice when records are fed one at a time;
//! - whether a TLS 1.3 handshake could sign at all: with no signature scheme in common the
//!   handshake must fail with handshake_failure before any ServerHello (RFC 8446 §4.4.2.2,
//!   §4.2.3), where rustls finds out only when it signs, after its ServerHello;
//! - whether the client's key shares are for groups it says it supports (RFC 8446 §4.2.8),
//!   where rustls would answer a share outside them with a HelloRetryRequest;
//! - whether a TLS 1.3 ClientHello carries the extensions §9.2 requires, which rustls
//!   refuses with handshake_failure where the RFC names missing_extension.

use std::sync::Arc;

use rustls::SignatureScheme;
use rustls::sign::SigningKey;

/// The supported_groups extension (RFC 8446 §4.2.7).
const SUPPORTED_GROUPS: u16 = 10;
/// The signature_algorithms extension (RFC 8446 §4.2.3).
const SIGNATURE_ALGORITHMS: u16 = 13;
/// The pre_shared_key extension (RFC 8446 §4.2.11).
const PRE_SHARED_KEY: u16 = 41;
/// The early_data extension (RFC 8446 §4.2.10).
const EARLY_DATA: u16 = 42;
/// The supported_versions extension (RFC 8446 §4.2.1).
const SUPPORTED_VERSIONS: u16 = 43;
/// The key_share extension (RFC 8446 §4.2.8).
const KEY_SHARE: u16 = 51;
/// TLS 1.3's version number.
const TLS13: u16 = 0x0304;
/// The ClientHello handshake message type.
const CLIENT_HELLO: u8 = 1;

/// Whether `hello` — the handshake bytes of a complete ClientHello message, header included —
/// carries the early_data extension. Malformed input is simply "no": rustls judges it.
pub fn offers_early_data(hello: &[u8]) -> bool {
    extensions(hello).is_some_and(|exts| exts.iter().any(|(typ, _)| *typ == EARLY_DATA))
}

/// Whether `hello` (a complete ClientHello message) offers TLS 1.3 with a key share for a
/// group its supported_groups does not list. RFC 8446 §4.2.8: clients MUST NOT, and a server
/// MAY abort with illegal_parameter, as OpenSSL does; rustls would pick a listed group and
/// ask for it with a HelloRetryRequest. (Two shares for one group rustls refuses itself.)
/// Malformed input is "no": rustls judges it.
pub fn shares_outside_groups(hello: &[u8]) -> bool {
    let Some(exts) = extensions(hello) else {
        return false;
    };
    let body = |wanted| extension(&exts, wanted);
    if !offers_tls13(body(SUPPORTED_VERSIONS)) {
        return false;
    }
    let groups = body(SUPPORTED_GROUPS).and_then(|b| u16_list(b, true));
    let shares = body(KEY_SHARE).and_then(key_share_groups);
    match (groups, shares) {
        (Some(groups), Some(shares)) => shares.iter().any(|group| !groups.contains(group)),
        _ => false,
    }
}

/// The body of the extension of type `wanted`, if the hello carries it.
fn extension<'a>(exts: &[(u16, &'a [u8])], wanted: u16) -> Option<&'a [u8]> {
    exts.iter().find(|(typ, _)| *typ == wanted).map(|e| e.1)
}

/// Whether `hello` (a complete ClientHello message) offers TLS 1.3 without an extension RFC
/// 8446 §9.2 requires of it: supported_groups and key_share come together, and without a
/// pre_shared_key both signature_algorithms and supported_groups are needed. A server must
/// abort such a handshake with missing_extension. Malformed input is "no": rustls judges it.
pub fn lacks_required_extension(hello: &[u8]) -> bool {
    let Some(exts) = extensions(hello) else {
        return false;
    };
    let has = |wanted| extension(&exts, wanted).is_some();
    let paired = has(SUPPORTED_GROUPS) == has(KEY_SHARE);
    let full_handshake = has(SIGNATURE_ALGORITHMS) && has(SUPPORTED_GROUPS);
    offers_tls13(extension(&exts, SUPPORTED_VERSIONS))
        && !(paired && (has(PRE_SHARED_KEY) || full_handshake))
}

/// Whether a supported_versions body lists TLS 1.3.
fn offers_tls13(supported_versions: Option<&[u8]>) -> bool {
    supported_versions
        .and_then(|b| u16_list(b, false))
        .is_some_and(|versions| versions.contains(&TLS13))
}

/// The groups of a ClientHello's key_share entries, in order (the list may be empty).
fn key_share_groups(body: &[u8]) -> Option<Vec<u16>> {
    let mut r = Reader(body);
    let n = usize::from(r.u16()?);
    let mut entries = Reader(r.take(n)?);
    if !r.0.is_empty() {
        return None;
    }
    let mut groups = Vec::new();
    while !entries.0.is_empty() {
        groups.push(entries.u16()?);
        let len = usize::from(entries.u16()?);
        entries.take(len)?;
    }
    Some(groups)
}

/// What a server signs its handshakes with.
#[derive(Clone)]
pub struct Signing {
    key: Arc<dyn SigningKey>,
    tls13: bool,
}

impl std::fmt::Debug for Signing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signing")
            .field("algorithm", &self.key.algorithm())
            .field("tls13", &self.tls13)
            .finish()
    }
}

impl Signing {
    /// A server's signing `key`; `tls13` says whether the server speaks TLS 1.3.
    pub fn new(key: Arc<dyn SigningKey>, tls13: bool) -> Self {
        Signing { key, tls13 }
    }

    /// Whether the server speaks TLS 1.3.
    pub fn tls13(&self) -> bool {
        self.tls13
    }

    /// Whether `hello` (a complete ClientHello message) leads to a TLS 1.3 handshake that
    /// must sign and cannot: the client offers TLS 1.3 and no pre-shared key, and none of the
    /// schemes it accepts in TLS 1.3 is one the key signs with. Malformed input is "no":
    /// rustls judges it. (In TLS 1.2 rustls chooses the scheme before its ServerHello goes
    /// out; the engine names that failure, see `errors`.)
    pub fn refuses(&self, hello: &[u8]) -> bool {
        if !self.tls13 {
            return false;
        }
        let Some(exts) = extensions(hello) else {
            return false;
        };
        let body = |wanted| extension(&exts, wanted);
        if !offers_tls13(body(SUPPORTED_VERSIONS)) || body(PRE_SHARED_KEY).is_some() {
            return false;
        }
        let Some(offered) = body(SIGNATURE_ALGORITHMS).and_then(|b| u16_list(b, true)) else {
            return false;
        };
        let usable: Vec<SignatureScheme> = offered
            .into_iter()
            .map(SignatureScheme::from)
            .filter(allowed_in_tls13)
            .collect();
        self.key.choose_scheme(&usable).is_none()
    }
}

/// The signature schemes TLS 1.3 allows in CertificateVerify (RFC 8446 §4.2.3): not
/// PKCS#1 v1.5, SHA-1 or SHA-224, and ECDSA only with the hash that matches its curve.
fn allowed_in_tls13(scheme: &SignatureScheme) -> bool {
    matches!(
        scheme,
        SignatureScheme::ECDSA_NISTP256_SHA256
            | SignatureScheme::ECDSA_NISTP384_SHA384
            | SignatureScheme::ECDSA_NISTP521_SHA512
            | SignatureScheme::RSA_PSS_SHA256
            | SignatureScheme::RSA_PSS_SHA384
            | SignatureScheme::RSA_PSS_SHA512
            | SignatureScheme::ED25519
            | SignatureScheme::ED448
    )
}

/// A list of u16 values behind a one- or two-byte length prefix, filling the whole body.
fn u16_list(body: &[u8], two_byte_len: bool) -> Option<Vec<u16>> {
    let mut r = Reader(body);
    let n = if two_byte_len {
        usize::from(r.u16()?)
    } else {
        usize::from(r.u8()?)
    };
    let mut list = Reader(r.take(n)?);
    // Both lists read here have a minimum length of one entry (RFC 8446 §4.2.1, §4.2.3):
    // an empty one is malformed, a decode_error rustls sends.
    if !r.0.is_empty() || n % 2 != 0 || n == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(n / 2);
    while !list.0.is_empty() {
        out.push(list.u16()?);
    }
    Some(out)
}

/// How many handshake bytes make up the ClientHello that starts `hello`, once its 4-byte
/// header is there.
pub fn message_len(hello: &[u8]) -> Option<usize> {
    let header = hello.get(..4)?;
    let body = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    (header[0] == CLIENT_HELLO).then_some(4 + body)
}

/// The extensions of a complete ClientHello message: (type, body) in order.
fn extensions(hello: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    let mut r = Reader(hello);
    if r.u8()? != CLIENT_HELLO {
        return None;
    }
    let len = r.u24()?;
    let body = r.take(len)?;
    let mut r = Reader(body);
    r.take(2 + 32)?; // legacy_version, random
    let session_id = usize::from(r.u8()?);
    r.take(session_id)?;
    let suites = r.u16()?;
    r.take(usize::from(suites))?;
    let compression = usize::from(r.u8()?);
    r.take(compression)?;
    let extensions = r.u16()?;
    let mut r = Reader(r.take(usize::from(extensions))?);
    let mut exts = Vec::new();
    while !r.0.is_empty() {
        let typ = r.u16()?;
        let len = r.u16()?;
        exts.push((typ, r.take(usize::from(len))?));
    }
    Some(exts)
}

/// Big-endian reads that fail on short input.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello with the given extension types (empty bodies).
    fn hello(extensions: &[u16]) -> Vec<u8> {
        let empty: Vec<_> = extensions.iter().map(|t| (*t, Vec::new())).collect();
        hello_with(&empty)
    }

    /// A minimal ClientHello with the given extensions.
    fn hello_with(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ext = Vec::new();
        for (t, body) in extensions {
            ext.extend_from_slice(&t.to_be_bytes());
            ext.extend_from_slice(&(body.len() as u16).to_be_bytes());
            ext.extend_from_slice(body);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let len = body.len().to_be_bytes();
        let mut msg = vec![CLIENT_HELLO, len[5], len[6], len[7]];
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn finds_the_early_data_extension() {
        assert!(offers_early_data(&hello(&[0, 43, 42, 41])));
        assert!(!offers_early_data(&hello(&[0, 43, 41])));
        assert_eq!(message_len(&hello(&[42])), Some(hello(&[42]).len()));
    }

    #[test]
    fn malformed_input_is_no() {
        let full = hello(&[42]);
        for cut in 0..full.len() {
            assert!(!offers_early_data(&full[..cut]), "cut at {cut}");
        }
        assert!(!offers_early_data(&[2, 0, 0, 0]));
    }

    /// A u16 list with a `width`-byte length prefix.
    fn list(width: usize, values: &[u16]) -> Vec<u8> {
        let len = (values.len() * 2).to_be_bytes();
        let mut out = len[len.len() - width..].to_vec();
        values.iter().for_each(|v| out.extend(v.to_be_bytes()));
        out
    }

    /// A TLS 1.3 ClientHello accepting `schemes` (plus `more` extensions).
    fn offering(schemes: &[u16], more: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut exts = vec![
            (SUPPORTED_VERSIONS, list(1, &[TLS13, 0x0303])),
            (SIGNATURE_ALGORITHMS, list(2, schemes)),
        ];
        exts.extend_from_slice(more);
        hello_with(&exts)
    }

    fn p256(tls13: bool) -> Signing {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let key = crate::crypto::provider()
            .key_provider
            .load_private_key(der)
            .unwrap();
        Signing::new(key, tls13)
    }

    #[test]
    fn refuses_a_tls13_hello_with_no_scheme_the_key_makes() {
        let server = p256(true);
        // ecdsa_sha1, ecdsa_sha224 (0x0303), and P-384's scheme for a P-256 key.
        for schemes in [&[0x0203][..], &[0x0303], &[0x0203, 0x0303, 0x0503]] {
            assert!(server.refuses(&offering(schemes, &[])), "{schemes:x?}");
        }
        // rsa_pkcs1_sha256 and the P-256 scheme: TLS 1.3 can sign.
        assert!(!server.refuses(&offering(&[0x0401, 0x0403], &[])));
    }

    /// A key_share body with an entry of `len` bytes for each group.
    fn shares(groups: &[u16], len: u16) -> Vec<u8> {
        let mut entries = Vec::new();
        for group in groups {
            entries.extend(group.to_be_bytes());
            entries.extend(len.to_be_bytes());
            entries.resize(entries.len() + usize::from(len), 9);
        }
        let mut body = (entries.len() as u16).to_be_bytes().to_vec();
        body.extend(entries);
        body
    }

    /// A TLS 1.3 ClientHello with `groups` and key shares for `shared`.
    fn sharing(groups: &[u16], shared: &[u16]) -> Vec<u8> {
        hello_with(&[
            (SUPPORTED_VERSIONS, list(1, &[TLS13])),
            (SUPPORTED_GROUPS, list(2, groups)),
            (KEY_SHARE, shares(shared, 32)),
        ])
    }

    #[test]
    fn finds_a_key_share_outside_the_supported_groups() {
        // x25519 (0x1d), secp256r1 (0x17), secp384r1 (0x18), sect163k1 (1, obsolete).
        assert!(shares_outside_groups(&sharing(&[0x17], &[0x1d])));
        assert!(shares_outside_groups(&sharing(
            &[0x17, 0x1d],
            &[0x1d, 0x18]
        )));
        assert!(shares_outside_groups(&sharing(&[0x17], &[1, 0x17])));
        // Shares for listed groups, none at all, or a TLS 1.2 hello: nothing to refuse.
        assert!(!shares_outside_groups(&sharing(&[0x1d, 0x17], &[0x1d])));
        assert!(!shares_outside_groups(&sharing(
            &[0x1d, 0x17],
            &[0x17, 0x1d]
        )));
        assert!(!shares_outside_groups(&sharing(&[0x17], &[])));
        let tls12 = hello_with(&[
            (SUPPORTED_VERSIONS, list(1, &[0x0303])),
            (SUPPORTED_GROUPS, list(2, &[0x17])),
            (KEY_SHARE, shares(&[0x1d], 32)),
        ]);
        assert!(!shares_outside_groups(&tls12));
        // Malformed: rustls's to judge.
        let full = sharing(&[0x17], &[0x1d]);
        for cut in 0..full.len() {
            assert!(!shares_outside_groups(&full[..cut]), "cut at {cut}");
        }
        let mut overlong = shares(&[0x1d], 32);
        overlong[1] += 1;
        let bad = hello_with(&[
            (SUPPORTED_VERSIONS, list(1, &[TLS13])),
            (SUPPORTED_GROUPS, list(2, &[0x17])),
            (KEY_SHARE, overlong),
        ]);
        assert!(!shares_outside_groups(&bad));
    }

    #[test]
    fn finds_a_tls13_hello_without_the_extensions_it_needs() {
        let versions = (SUPPORTED_VERSIONS, list(1, &[TLS13, 0x0303]));
        let groups = (SUPPORTED_GROUPS, list(2, &[0x1d]));
        let share = (KEY_SHARE, shares(&[0x1d], 32));
        let schemes = (SIGNATURE_ALGORITHMS, list(2, &[0x0403]));
        let psk = (PRE_SHARED_KEY, vec![1]);
        let lacks = |exts: &[&(u16, Vec<u8>)]| {
            let exts: Vec<_> = exts.iter().map(|e| (*e).clone()).collect();
            lacks_required_extension(&hello_with(&exts))
        };
        // Complete, and complete for a resumption.
        assert!(!lacks(&[&versions, &groups, &share, &schemes]));
        assert!(!lacks(&[&versions, &psk]));
        assert!(!lacks(&[&versions, &groups, &share, &psk]));
        // Groups without a key share or the reverse, with or without a PSK.
        assert!(lacks(&[&versions, &groups, &schemes]));
        assert!(lacks(&[&versions, &share, &schemes]));
        assert!(lacks(&[&versions, &groups, &psk]));
        // No PSK: signature_algorithms and supported_groups both needed.
        assert!(lacks(&[&versions, &groups, &share]));
        assert!(lacks(&[&versions, &schemes]));
        // TLS 1.2 only: none of this applies.
        let tls12 = (SUPPORTED_VERSIONS, list(1, &[0x0303]));
        assert!(!lacks(&[&tls12, &groups, &schemes]));
        assert!(!lacks(&[&schemes]));
        let full = hello_with(&[versions, groups, schemes]);
        for cut in 0..full.len() {
            assert!(!lacks_required_extension(&full[..cut]), "cut at {cut}");
        }
    }

    #[test]
    fn leaves_other_hellos_to_rustls() {
        let server = p256(true);
        // A pre-shared key may resume without a signature.
        assert!(!server.refuses(&offering(&[0x0203], &[(PRE_SHARED_KEY, vec![1])])));
        // An empty list is malformed: decode_error, rustls's to send.
        assert!(!server.refuses(&offering(&[], &[])));
        // TLS 1.2 only: rustls chooses its scheme before the ServerHello itself.
        let tls12 = hello_with(&[
            (SUPPORTED_VERSIONS, list(1, &[0x0303])),
            (SIGNATURE_ALGORITHMS, list(2, &[0x0203])),
        ]);
        assert!(!server.refuses(&tls12));
        assert!(!p256(false).refuses(&offering(&[0x0203], &[])));
        // Malformed or missing lists.
        let odd = hello_with(&[
            (SUPPORTED_VERSIONS, list(1, &[TLS13])),
            (SIGNATURE_ALGORITHMS, vec![0, 3, 2, 3, 0]),
        ]);
        assert!(!server.refuses(&odd));
        assert!(!server.refuses(&hello_with(&[(SUPPORTED_VERSIONS, list(1, &[TLS13]))])));
        let full = offering(&[0x0203], &[]);
        for cut in 0..full.len() {
            assert!(!server.refuses(&full[..cut]), "cut at {cut}");
        }
    }
}
