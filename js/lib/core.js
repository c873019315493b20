// The component under Node: instances, the transport guard (the imported `socket`), and the
// s2n-level Config and Connection wrappers with s2n results.
import { readFileSync } from 'node:fs';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { instantiate } from '../gen/tlsbox.js';
import { TransportError, TlsInternalError, TlsIoError, fromRecord, isRecord } from './errors.js';
import { trustStoreImport } from './trust.js';

const GEN = new URL('../gen/', import.meta.url);
const modules = new Map();
function getCoreModule(path) {
  let module = modules.get(path);
  if (!module) {
    module = new WebAssembly.Module(readFileSync(new URL(path, GEN)));
    modules.set(path, module);
  }
  return module;
}

const symbolDispose = Symbol.dispose ?? Symbol.for('dispose');

// ---- the transport guard ------------------------------------------------------------------

const IO_TAGS = new Set(['would-block', 'closed', 'broken-pipe', 'other']);
const err = (tag, val) => Object.freeze({ tag: 'err', val: val === undefined ? Object.freeze({ tag }) : { tag, val } });
const WOULD_BLOCK = err('would-block');
const CLOSED = err('closed');
const EMPTY = new Uint8Array(0);

function describe(e) {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  try {
    return typeof e === 'string' ? e : JSON.stringify(e) ?? String(e);
  } catch {
    return String(e);
  }
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

function isAsyncFunction(f) {
  return typeof f === 'function' && (f.constructor?.name === 'AsyncFunction' || f.constructor?.name === 'AsyncGeneratorFunction');
}

/** The code a refused asynchronous transport reports (TlsIoError.code). */
export const ASYNC_TRANSPORT = 'async-transport';

/**
 * The class jco sees as the imported `socket` resource. It wraps a user transport so that
 * nothing but a WIT `io-error` ever reaches the guest: jco turns a thrown non-payload
 * exception into an unwind through the guest (a bare `Error` is rethrown; anything else
 * fails jco's variant lowering with a TypeError), and a returned Promise into a byte count
 * of 0 — both of which the guard turns into clear `io` errors instead.
 */
class TransportGuard {
  constructor(transport, passThrough = false) {
    this.transport = transport;
    /** The last exception the transport threw, kept as the `cause` of the call's error. */
    this.lastThrown = undefined;
    /** A latched refusal (an asynchronous transport): every later call fails the same. */
    this.refusal = null;
    this.passThrough = passThrough;
  }

  send(data) {
    if (this.refusal) return this.refusal;
    if (this.passThrough) return this.transport.send(data);
    let n;
    try {
      n = this.transport.send(data);
    } catch (e) {
      return this.thrown('send', e);
    }
    if (typeof n === 'number') {
      if (Number.isInteger(n) && n >= 0 && n <= 0xffffffff) return n;
      return this.invalid('send', `returned ${n}; expected a byte count`);
    }
    return this.other('send', n);
  }

  recv(max) {
    if (this.refusal) return this.refusal;
    if (this.passThrough) return this.transport.recv(max);
    let data;
    try {
      data = this.transport.recv(max);
    } catch (e) {
      return this.thrown('recv', e);
    }
    if (data instanceof Uint8Array) return data;
    if (data === null) return CLOSED;
    if (data === undefined) return EMPTY;
    return this.other('recv', data);
  }

  other(method, v) {
    if (isThenable(v)) {
      // The promised operation may already have moved bytes: nothing this connection does
      // later can be trusted, so refuse it from now on.
      Promise.resolve(v).catch(() => {});
      this.refusal = err('other',
        `${ASYNC_TRANSPORT}: transport.${method} returned a Promise; tlsbox transports must be ` +
        'synchronous (report would-block and let the caller wait for readiness); the connection ' +
        'is refused from now on');
      return this.refusal;
    }
    if (v !== null && typeof v === 'object' && v.tag === 'err' && v.val && IO_TAGS.has(v.val.tag)) return v;
    if (v !== null && typeof v === 'object' && IO_TAGS.has(v.tag)) return { tag: 'err', val: v };
    return this.invalid(method, `returned ${describe(v)}`);
  }

  invalid(method, what) {
    return err('other', `transport.${method} ${what}`);
  }

  thrown(method, e) {
    if (e instanceof TransportError) {
      return e.tag === 'other' ? err('other', e.message) : err(e.tag);
    }
    if (e !== null && typeof e === 'object' && Object.hasOwn(e, 'payload') && IO_TAGS.has(e.payload?.tag)) {
      return { tag: 'err', val: e.payload };
    }
    this.lastThrown = e;
    return err('other', `transport.${method} threw ${describe(e)}`);
  }
}

// ---- the session store ----------------------------------------------------------------------

/**
 * The imported `session-store` (server sessions for resumption and 0-RTT): a bounded map
 * from ticket key to the guest's opaque session value. Instances that share a store resume
 * each other's sessions, and `take` lets a session resume once.
 */
export class MemorySessionStore {
  constructor({ capacity = 10000 } = {}) {
    this.capacity = capacity;
    this.map = new Map();
  }

  static #key(key) {
    return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64');
  }

  put(key, value) {
    const k = MemorySessionStore.#key(key);
    if (!this.map.has(k) && this.map.size >= this.capacity) {
      this.map.delete(this.map.keys().next().value); // the oldest
    }
    this.map.set(k, value);
    return true;
  }

  get(key) {
    return this.map.get(MemorySessionStore.#key(key));
  }

  take(key) {
    const k = MemorySessionStore.#key(key);
    const v = this.map.get(k);
    this.map.delete(k);
    return v;
  }
}

/** The store instances share unless given their own. */
export const defaultSessionStore = new MemorySessionStore();

/** The store as the guest sees it: synchronous, never throwing (a failure is "not kept"/none). */
function guardStore(store) {
  const value = (v) => (v instanceof Uint8Array ? v : undefined);
  return {
    put(key, v) {
      try {
        return store.put(key, v) === true;
      } catch {
        return false;
      }
    },
    get(key) {
      try {
        return value(store.get(key));
      } catch {
        return undefined;
      }
    },
    take(key) {
      try {
        return value(store.take(key));
      } catch {
        return undefined;
      }
    },
  };
}

// ---- instances --------------------------------------------------------------------------

/** One instantiation of the component: its own linear memory and resource tables. */
export class Instance {
  constructor({ sessionStore = defaultSessionStore } = {}) {
    const imports = new WASIShim().getImportObject();
    imports['tlsbox:tls/transport'] = { Socket: TransportGuard };
    imports['tlsbox:tls/types'] = {};
    imports['tlsbox:tls/session-store'] = guardStore(sessionStore);
    imports['tlsbox:tls/trust-store'] = trustStoreImport;
    this.exports = instantiate(getCoreModule, imports);
    this.tls = this.exports.tls ?? this.exports['tlsbox:tls/tls@0.1.0'];
    /** The trap that killed this instance, if any. */
    this.trap = null;
  }

  /** Converts an exception from a guest call; marks the instance dead on a trap. */
  failure(e, guard) {
    if (isRecord(e)) {
      if (guard?.refusal && e.kind === 'io') {
        return fromRecord({ ...e, name: ASYNC_TRANSPORT, message: guard.refusal.val.val }, guard.lastThrown);
      }
      const cause = guard?.lastThrown;
      if (guard) guard.lastThrown = undefined;
      return fromRecord(e, cause);
    }
    if (e instanceof WebAssembly.RuntimeError || this.trap) {
      this.trap ??= e;
      return new TlsInternalError({
        kind: 'internal', name: 'trap', blocked: 'not-blocked', alert: undefined,
        message: `the component instance trapped and cannot be entered again: ${e?.message ?? e}`,
      }, { cause: e });
    }
    return e;
  }
}

let shared = null;
/** The instance `Config`s use unless given one; replaced after a trap. */
export function defaultInstance() {
  if (!shared || shared.trap) shared = new Instance();
  return shared;
}

/**
 * A fresh instance, isolated from the default one (own memory, own failures); it shares
 * `defaultSessionStore` unless given `sessionStore`.
 */
export function createInstance(options) {
  return new Instance(options);
}

// ---- argument checks ----------------------------------------------------------------------

/** Bytes for s2n calls: a string is a TypeError (encode it yourself). */
export function bytes(v, what) {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) return new Uint8Array(v);
  if (typeof v === 'string') {
    throw new TypeError(`${what} must be bytes (Uint8Array, Buffer, ArrayBuffer or a view), not a string: ` +
      'encode it first, e.g. Buffer.from(text) or new TextEncoder().encode(text)');
  }
  throw new TypeError(`${what} must be bytes (Uint8Array, Buffer, ArrayBuffer or a view), got ${v === null ? 'null' : typeof v}`);
}

/** Bytes for PEM/DER inputs: PEM is text, so a string is accepted and UTF-8 encoded. */
function pemOrDer(v, what) {
  if (typeof v === 'string') return new TextEncoder().encode(v);
  return bytes(v, what);
}

function list(v) {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function u32(v, what) {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new TypeError(`${what} must be an integer in 0..2^32-1, got ${describe(v)}`);
  }
  return v;
}

function u8(v, what) {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new TypeError(`${what} must be an integer in 0..255, got ${describe(v)}`);
  return v;
}

function oneOf(v, allowed, what) {
  if (!allowed.includes(v)) throw new TypeError(`${what} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(v)}`);
  return v;
}

const ROLES = ['client', 'server'];
const VERSIONS = ['tls12', 'tls13'];
const SUITES = [
  'tls13-chacha20-poly1305-sha256', 'tls13-aes-128-gcm-sha256', 'tls13-aes-256-gcm-sha384',
  'tls-ecdhe-ecdsa-with-chacha20-poly1305-sha256', 'tls-ecdhe-rsa-with-chacha20-poly1305-sha256',
  'tls-ecdhe-ecdsa-with-aes-128-gcm-sha256', 'tls-ecdhe-rsa-with-aes-128-gcm-sha256',
  'tls-ecdhe-ecdsa-with-aes-256-gcm-sha384', 'tls-ecdhe-rsa-with-aes-256-gcm-sha384',
];
const GROUPS = ['x25519', 'secp256r1', 'secp384r1', 'secp521r1', 'x25519mlkem768', 'secp256r1mlkem768', 'x448'];
const CLIENT_AUTH = ['none', 'optional', 'required'];
const SIZING = ['default', 'prefer-throughput', 'prefer-low-latency'];
const ALERT_POLICY = ['rfc', 's2n'];
const FRAGMENT = { default: 8087, 'prefer-throughput': 16384, 'prefer-low-latency': 1435 };

function configOptions(o) {
  if (o === null || typeof o !== 'object') throw new TypeError('Config options must be an object');
  const opt = (v) => (v === undefined || v === null ? undefined : v);
  return {
    role: oneOf(o.role ?? 'client', ROLES, 'role'),
    serverName: opt(o.serverName),
    trustAnchors: list(o.trustAnchors).map((c) => pemOrDer(c, 'trustAnchors[]')),
    // Clients without anchors of their own trust Node's Mozilla set (tls.rootCertificates).
    hostTrustStore: o.hostTrustStore ?? ((o.role ?? 'client') === 'client' && list(o.trustAnchors).length === 0),
    certificateChain: list(o.certificateChain).map((c) => pemOrDer(c, 'certificateChain[]')),
    privateKey: o.privateKey == null ? undefined : pemOrDer(o.privateKey, 'privateKey'),
    alpn: list(o.alpn).map((p) => {
      if (typeof p !== 'string') throw new TypeError('alpn entries must be strings');
      return p;
    }),
    versions: list(o.versions).map((v) => oneOf(v, VERSIONS, 'versions[]')),
    cipherSuites: list(o.cipherSuites).map((v) => oneOf(v, SUITES, 'cipherSuites[]')),
    kxGroups: list(o.kxGroups).map((v) => oneOf(v, GROUPS, 'kxGroups[]')),
    clientAuth: oneOf(o.clientAuth ?? 'none', CLIENT_AUTH, 'clientAuth'),
    recordSizing: oneOf(o.recordSizing ?? 'default', SIZING, 'recordSizing'),
    maxFragmentLength: o.maxFragmentLength == null ? undefined : u32(o.maxFragmentLength, 'maxFragmentLength'),
    sendBufferSize: o.sendBufferSize == null ? undefined : u32(o.sendBufferSize, 'sendBufferSize'),
    recvMultiRecord: !!o.recvMultiRecord,
    recvBuffering: !!o.recvBuffering,
    alertPolicy: oneOf(o.alertPolicy ?? 'rfc', ALERT_POLICY, 'alertPolicy'),
    maxBlindingDelaySecs: o.maxBlindingDelaySecs == null ? undefined : u32(o.maxBlindingDelaySecs, 'maxBlindingDelaySecs'),
    // Session resumption and early data (read only by components whose WIT has them).
    sessionTickets: o.sessionTickets == null ? undefined : u8(o.sessionTickets, 'sessionTickets'),
    ticketKeys: list(o.ticketKeys).map((k, i) => bytes(k, `ticketKeys[${i}]`)),
    maxEarlyData: o.maxEarlyData == null ? 0 : u32(o.maxEarlyData, 'maxEarlyData'),
    earlyData: !!o.earlyData,
  };
}

// ---- Config and Connection ----------------------------------------------------------------

/** A validated, reusable configuration (s2n_config). */
export class Config {
  constructor(options, { instance } = {}) {
    this.instance = instance ?? defaultInstance();
    const opts = configOptions(options);
    try {
      this.raw = new this.instance.tls.Config(opts);
    } catch (e) {
      throw this.instance.failure(e);
    } finally {
      // The key now lives in the guest; do not keep a JS copy this package made.
      if (typeof options.privateKey === 'string') opts.privateKey.fill(0);
    }
    /** Plaintext bytes per record this config produces (for whole-record chunking). */
    this.fragment = Math.min(FRAGMENT[opts.recordSizing], opts.maxFragmentLength ?? 16384);
  }

  /** Frees the guest's copy now (otherwise the garbage collector does it). */
  free() {
    this.raw?.[symbolDispose]?.();
    this.raw = null;
  }

  [symbolDispose]() {
    this.free();
  }
}

const NOT_BLOCKED = 'not-blocked';

/**
 * One TLS connection over one transport (s2n_connection), with s2n's calls and results:
 * `blocked` is a status, never an exception; every other failure throws a TlsboxError.
 */
export class Connection {
  constructor(config, transport, { unguarded = false } = {}) {
    if (!(config instanceof Config)) throw new TypeError('config must be a tlsbox Config');
    if (!config.raw) throw new TypeError('config has been freed');
    if (transport === null || typeof transport !== 'object' ||
        typeof transport.send !== 'function' || typeof transport.recv !== 'function') {
      throw new TypeError('transport must have send(data) and recv(max) methods');
    }
    for (const m of ['send', 'recv']) {
      if (isAsyncFunction(transport[m])) {
        throw new TypeError(`transport.${m} is an async function: tlsbox transports must be synchronous ` +
          '(return would-block and let the caller wait for readiness)');
      }
    }
    this.instance = config.instance;
    this.config = config;
    this.transport = transport;
    this.guard = new TransportGuard(transport, unguarded);
    try {
      this.raw = new this.instance.tls.Connection(config.raw, this.guard);
    } catch (e) {
      throw this.instance.failure(e);
    }
  }

  #fail(e) {
    return this.instance.failure(e, this.guard);
  }

  /** s2n_negotiate: 'not-blocked' when the handshake is complete, else which way to wait. */
  negotiate() {
    return this.#status(() => this.raw.negotiate());
  }

  /**
   * s2n_send: `{ bytes, blocked }`. `bytes` acknowledged (whole records went out); on
   * `blocked: 'on-write'` retry with the data after `bytes` (0: the same data) once writable.
   * `ioBlocked` is true when no record of this call went out (s2n's -1 / IO_BLOCKED).
   */
  send(data) {
    const buf = bytes(data, 'data');
    return this.#progress(() => this.raw.send(buf));
  }

  /** s2n_sendv_with_offset over the concatenation of `bufs` after `offset` bytes. */
  sendvWithOffset(bufs, offset = 0) {
    if (!Array.isArray(bufs)) throw new TypeError('bufs must be an array of byte buffers');
    const list = bufs.map((b, i) => bytes(b, `bufs[${i}]`));
    const off = typeof offset === 'bigint' ? offset : BigInt(u32Safe(offset, 'offset'));
    return this.#progress(() => this.raw.sendvWithOffset(list, off));
  }

  /**
   * s2n_recv: `{ data, blocked, ioBlocked }`. Data from at most one record (or more with
   * multi-record); `blocked: 'on-read'` with data means plaintext remains (see peek).
   * `ioBlocked` (empty data, 'on-read'): nothing to read yet, wait for readable. Empty data,
   * 'not-blocked', not ioBlocked: the peer's close_notify (or `max` was 0).
   */
  recv(max) {
    u32(max, 'max');
    return this.#received(() => this.raw.recv(max));
  }

  /** s2n_flush: 'not-blocked' when queued records went out, else 'on-write'. */
  flush() {
    return this.#status(() => this.raw.flush());
  }

  /** s2n_shutdown_send: close_notify after queued records; the write side closes at once. */
  shutdownSend() {
    return this.#status(() => this.raw.shutdownSend());
  }

  /** s2n_shutdown: close_notify both ways; 'on-read'/'on-write' until done. */
  shutdown() {
    return this.#status(() => this.raw.shutdown());
  }

  /** s2n_connection_set_dynamic_record_threshold. */
  setDynamicRecordThreshold(threshold, timeoutSecs = 0) {
    u32(threshold, 'threshold');
    if (!Number.isInteger(timeoutSecs) || timeoutSecs < 0 || timeoutSecs > 0xffff) {
      throw new TypeError('timeoutSecs must be an integer in 0..65535');
    }
    this.#unit(() => this.raw.setDynamicRecordThreshold(threshold, timeoutSecs));
  }

  /** s2n_connection_request_key_update (TLS 1.3). */
  requestKeyUpdate() {
    this.#unit(() => this.raw.requestKeyUpdate());
  }

  /** s2n_connection_set_recv_multi_record. */
  setRecvMultiRecord(enabled) {
    this.#call(() => this.raw.setRecvMultiRecord(!!enabled));
  }

  /** s2n_peek: unread plaintext bytes of the current record. */
  peek() {
    return this.#call(() => this.raw.peek());
  }

  /** s2n_peek_buffered: ciphertext read ahead (recv-buffering). */
  peekBuffered() {
    return this.#call(() => this.raw.peekBuffered());
  }

  /** `{ sent, received }` TLS 1.3 KeyUpdates. */
  keyUpdateCounts() {
    return this.#call(() => this.raw.keyUpdateCounts());
  }

  /** Nanoseconds left of the blinding delay (a Number). */
  delay() {
    return Number(this.#call(() => this.raw.delay()));
  }

  /** What the handshake negotiated, or undefined before it completes. */
  sessionInfo() {
    return this.#call(() => this.raw.sessionInfo()) ?? undefined;
  }

  /** Ciphertext bytes the transport accepted (a Number). */
  wireBytesOut() {
    return Number(this.#call(() => this.raw.wireBytesOut()));
  }

  /** Ciphertext bytes the transport delivered (a Number). */
  wireBytesIn() {
    return Number(this.#call(() => this.raw.wireBytesIn()));
  }

  /** The peer's fatal alert code, if any. */
  alertReceived() {
    return this.#call(() => this.raw.alertReceived()) ?? undefined;
  }

  // ---- early data and resumption (components built from a WIT that has them) ----

  /** s2n_send_early_data: `{ bytes, blocked, ioBlocked }` like `send`. */
  sendEarlyData(data) {
    const buf = bytes(data, 'data');
    this.#has('sendEarlyData');
    return this.#progress(() => this.raw.sendEarlyData(buf));
  }

  /** s2n_recv_early_data: `{ data, blocked, ioBlocked }` like `recv`. */
  recvEarlyData(max) {
    u32(max, 'max');
    this.#has('recvEarlyData');
    return this.#received(() => this.raw.recvEarlyData(max));
  }

  /** s2n_connection_get_early_data_status. */
  earlyDataStatus() {
    this.#has('earlyDataStatus');
    return this.#call(() => this.raw.earlyDataStatus());
  }

  /** s2n_connection_get_max_early_data_size. */
  maxEarlyDataSize() {
    this.#has('maxEarlyDataSize');
    return this.#call(() => this.raw.maxEarlyDataSize());
  }

  /** s2n_connection_get_remaining_early_data_size. */
  remainingEarlyDataSize() {
    this.#has('remainingEarlyDataSize');
    return this.#call(() => this.raw.remainingEarlyDataSize());
  }

  /** s2n_reject_early_data. */
  rejectEarlyData() {
    this.#has('rejectEarlyData');
    this.#unit(() => this.raw.rejectEarlyData());
  }

  /** s2n_connection_is_session_resumed. */
  sessionResumed() {
    this.#has('sessionResumed');
    return this.#call(() => this.raw.sessionResumed());
  }

  #has(method) {
    if (!this.raw) throw new TypeError('the connection has been freed');
    if (typeof this.raw[method] !== 'function') {
      throw new TypeError(`${method}: this build of the component has no such call (rebuild: npm run build)`);
    }
  }

  /** Frees the guest's connection state now (the transport is dropped with it). */
  free() {
    this.raw?.[symbolDispose]?.();
    this.raw = null;
  }

  [symbolDispose]() {
    this.free();
  }

  // Connection methods with a result return jco's `{ tag, val }` (scripts/build.mjs patches
  // the glue so that an `err` is not thrown); anything thrown is a trap or a raw unwind.
  #result(f) {
    if (!this.raw) throw new TypeError('the connection has been freed');
    let r;
    try {
      r = f();
    } catch (e) {
      throw this.#fail(e);
    }
    return r;
  }

  #status(f) {
    const r = this.#result(f);
    if (r.tag === 'ok') return NOT_BLOCKED;
    if (r.val.kind === 'blocked') return r.val.blocked;
    throw this.#fail(r.val);
  }

  #progress(f) {
    const r = this.#result(f);
    if (r.tag === 'ok') return { bytes: r.val.bytes, blocked: r.val.blocked, ioBlocked: false };
    if (r.val.kind === 'blocked') return { bytes: 0, blocked: r.val.blocked, ioBlocked: true };
    throw this.#fail(r.val);
  }

  #received(f) {
    const r = this.#result(f);
    if (r.tag === 'ok') return { data: r.val.data, blocked: r.val.blocked, ioBlocked: false };
    if (r.val.kind === 'blocked') return { data: EMPTY, blocked: r.val.blocked, ioBlocked: true };
    throw this.#fail(r.val);
  }

  #unit(f) {
    const r = this.#result(f);
    if (r.tag !== 'ok') throw this.#fail(r.val);
  }

  #call(f) {
    if (!this.raw) throw new TypeError('the connection has been freed');
    try {
      return f();
    } catch (e) {
      throw this.#fail(e);
    }
  }
}

function u32Safe(v, what) {
  if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`${what} must be a non-negative integer or a bigint`);
  return v;
}

/** Internals for tests: a connection whose transport's exceptions reach the guest as-is. */
export const internal = { TransportGuard };
