// The imported `trust-store`: CA anchors taken apart once (subject, subjectPublicKeyInfo and
// name constraints: the contents of each DER element, as rustls-webpki's TrustAnchor holds
// them) and looked up by subject while a guest verifies a chain. A client Config with no `ca`
// trusts Node's bundled Mozilla set (`tls.rootCertificates`) this way, so each connection
// copies in only the anchor its server's chain names instead of parsing 140 certificates.
import tls from 'node:tls';

/** The element at `pos` in `der`: [tag, start of contents, end of contents]; throws if malformed. */
function element(der, pos) {
  if (pos + 2 > der.length) throw new Error('truncated DER');
  const tag = der[pos];
  let len = der[pos + 1];
  let start = pos + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count < 1 || count > 4 || start + count > der.length) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + der[start + i];
    start += count;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return [tag, start, start + len];
}

/** The elements inside `der[start, end)`, in order. */
function children(der, start, end) {
  const out = [];
  for (let pos = start; pos < end;) {
    const e = element(der, pos);
    out.push(e);
    pos = e[2];
  }
  return out;
}

// id-ce-nameConstraints, 2.5.29.30.
const NAME_CONSTRAINTS = Buffer.from([0x55, 0x1d, 0x1e]);

/** A certificate (DER) taken apart as a trust anchor (the WIT's `trust-anchor`). */
export function anchorFromCertificate(der) {
  const [, cs, ce] = element(der, 0);
  const [, ts, te] = children(der, cs, ce)[0];
  const tbs = children(der, ts, te);
  // version [0] is optional (v1 certificates have none and no extensions).
  const at = tbs[0][0] === 0xa0 ? 1 : 0;
  const subject = tbs[at + 4];
  const spki = tbs[at + 5];
  if (subject?.[0] !== 0x30 || spki?.[0] !== 0x30) throw new Error('not a certificate');
  let nameConstraints;
  const extensions = tbs.slice(at + 6).find(([tag]) => tag === 0xa3);
  if (extensions) {
    const [, ls, le] = children(der, extensions[1], extensions[2])[0];
    for (const [, es, ee] of children(der, ls, le)) {
      const fields = children(der, es, ee);
      const oid = der.subarray(fields[0][1], fields[0][2]);
      if (!oid.equals(NAME_CONSTRAINTS)) continue;
      const [, os, oe] = fields[fields.length - 1]; // the OCTET STRING, after `critical`
      const [, ns, ne] = element(der.subarray(os, oe), 0);
      nameConstraints = new Uint8Array(der.subarray(os + ns, os + ne));
    }
  }
  return {
    subject: new Uint8Array(der.subarray(subject[1], subject[2])),
    subjectPublicKeyInfo: new Uint8Array(der.subarray(spki[1], spki[2])),
    nameConstraints,
  };
}

/** The DER certificates in PEM text. */
export function pemCertificates(pem) {
  const out = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem)) out.push(Buffer.from(m[1], 'base64'));
  return out;
}

/** Anchors by subject; certificates that do not parse are skipped. */
export class TrustStore {
  constructor(pems) {
    this.bySubject = new Map();
    this.size = 0;
    for (const der of pems.flatMap(pemCertificates)) {
      let anchor;
      try {
        anchor = anchorFromCertificate(der);
      } catch {
        continue;
      }
      const key = Buffer.from(anchor.subject).toString('base64');
      this.bySubject.set(key, [...(this.bySubject.get(key) ?? []), anchor]);
      this.size += 1;
    }
  }

  /** The anchors whose subject is one of `subjects`, each once. */
  anchorsFor(subjects) {
    const keys = new Set(subjects.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('base64')));
    return [...keys].flatMap((k) => this.bySubject.get(k) ?? []);
  }
}

let mozilla;
/** Node's bundled Mozilla CA set, taken apart on first use. */
export function nodeRootStore() {
  mozilla ??= new TrustStore([...tls.rootCertificates]);
  return mozilla;
}

/** The import: never throws into the guest (a failure is "no anchors"). */
export const trustStoreImport = {
  anchorsFor(subjects) {
    try {
      return nodeRootStore().anchorsFor(subjects);
    } catch {
      return [];
    }
  },
};
