// Typings for the tlsbox Node.js package (hand-written; the runtime is index.js).
//
// tlsbox is a TLS endpoint inside a WebAssembly component: handshake, keys and records live
// in the guest's linear memory, and the host (here Node) only moves ciphertext. This package
// runs the same component the Rust host embeds, transpiled by jco, and offers:
// - `connect()` / `createServer()`: Node-style streams over TCP (`net.Socket`);
// - `Config` / `Connection`: s2n-tls's calls with s2n's results over any synchronous
//   transport (blocked is a status, never an exception);
// - error classes carrying the tlsbox error record (kind, name as `code`, alert).
//
// Bytes: every s2n call that takes bytes accepts a Uint8Array (Buffer included), any other
// ArrayBuffer view, or an ArrayBuffer; a string is a TypeError (encode it yourself: strings
// have no single obvious byte form). Certificates and keys (PEM is text) may be strings and
// are UTF-8 encoded. The Duplex stream takes strings like any Node stream (its encoding).

import type { Duplex } from 'node:stream';
import type { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';

// ---- vocabulary (the WIT's names) ---------------------------------------------------------

/** s2n's blocked status: what the caller must wait for before calling again. */
export type Blocked = 'not-blocked' | 'on-read' | 'on-write' | 'on-application-input' | 'on-early-data';

/** s2n's error type: decide retry versus give up on this. */
export type ErrorKind = 'io' | 'closed' | 'blocked' | 'alert' | 'protocol' | 'internal' | 'usage';

export type Role = 'client' | 'server';
export type ProtocolVersion = 'tls12' | 'tls13';
export type CipherSuite =
  | 'tls13-chacha20-poly1305-sha256'
  | 'tls13-aes-128-gcm-sha256'
  | 'tls13-aes-256-gcm-sha384'
  | 'tls-ecdhe-ecdsa-with-chacha20-poly1305-sha256'
  | 'tls-ecdhe-rsa-with-chacha20-poly1305-sha256'
  | 'tls-ecdhe-ecdsa-with-aes-128-gcm-sha256'
  | 'tls-ecdhe-rsa-with-aes-128-gcm-sha256'
  | 'tls-ecdhe-ecdsa-with-aes-256-gcm-sha384'
  | 'tls-ecdhe-rsa-with-aes-256-gcm-sha384';
export type KxGroup =
  | 'x25519' | 'secp256r1' | 'secp384r1' | 'secp521r1'
  | 'x25519mlkem768' | 'secp256r1mlkem768' | 'x448';
export type ClientAuth = 'none' | 'optional' | 'required';
export type RecordSizing = 'default' | 'prefer-throughput' | 'prefer-low-latency';
export type AlertPolicy = 'rfc' | 's2n';
export type EarlyDataStatus = 'pending' | 'not-requested' | 'rejected' | 'accepted' | 'end';

/** Bytes accepted by the s2n calls. */
export type BytesLike = Uint8Array | ArrayBufferView | ArrayBuffer;
/** A certificate or key: PEM (text or bytes) or DER bytes. */
export type PemOrDer = string | BytesLike;

/** The WIT `error` record, as the guest returned it. */
export interface ErrorRecord {
  kind: ErrorKind;
  /** Stable kebab-case name from the README's error table (`decrypt`, `closed`, `busy`...). */
  name: string;
  /** Human-readable; wording may change. */
  message: string;
  blocked: Blocked;
  /** TLS alert description: received (kind `alert`) or the one a protocol error maps to. */
  alert?: number;
}

// ---- errors --------------------------------------------------------------------------------

/**
 * Every failure of a tlsbox call. `name` is the class name (Node's convention); the tlsbox
 * name is `code`. Subclasses by kind: TlsIoError, TlsClosedError, TlsBlockedError (never
 * thrown by the s2n calls), TlsAlertError, TlsProtocolError, TlsInternalError, TlsUsageError.
 * `cause` is the transport's own exception when a transport threw.
 */
export class TlsboxError extends Error {
  /** s2n's error type. */
  readonly kind: ErrorKind;
  /**
   * The stable tlsbox name (`io-blocked`, `decrypt`, `untrusted-certificate`, ...), plus two
   * from the package: `async-transport` (a transport returned a Promise) and `trap` (the
   * instance trapped; it is not entered again and the default instance is replaced).
   */
  readonly code: string;
  /** The TLS alert code, if any. */
  readonly alert?: number;
  readonly blocked: Blocked;
  /** The full error record. */
  readonly record: ErrorRecord;
}
export class TlsIoError extends TlsboxError {}
export class TlsClosedError extends TlsboxError {}
export class TlsBlockedError extends TlsboxError {}
export class TlsAlertError extends TlsboxError {}
export class TlsProtocolError extends TlsboxError {}
export class TlsInternalError extends TlsboxError {}
export class TlsUsageError extends TlsboxError {}

/** The `code` of the error a refused asynchronous transport produces. */
export const ASYNC_TRANSPORT: 'async-transport';

/** The WIT `io-error`, which a transport may return or throw (inside a TransportError). */
export type IoError =
  | { tag: 'would-block' }
  | { tag: 'closed' }
  | { tag: 'broken-pipe' }
  | { tag: 'other'; val: string };

/** Thrown by a transport to report an io-error. */
export class TransportError extends Error {
  constructor(tag: IoError['tag'], message?: string);
  readonly tag: IoError['tag'];
}

// ---- transports ----------------------------------------------------------------------------

/**
 * The raw byte stream under a Connection. Both methods must be synchronous and must never
 * call back into the connection. Anything they throw other than a TransportError becomes an
 * `io` error whose `cause` is the exception (the guest never sees a bare throw). An
 * `async` method is refused when the Connection is made; a returned Promise is refused at
 * the call (`code` `async-transport`) and the connection is failed from then on, since the
 * promised operation may have moved bytes.
 */
export interface Transport {
  /**
   * Takes the leading bytes of `data`; returns how many (0 = would-block). May keep `data`
   * (it is a fresh copy). Return or throw an IoError for `closed`, `broken-pipe`, `other`.
   */
  send(data: Uint8Array): number | IoError;
  /**
   * Up to `max` bytes. An empty array or `undefined` = would-block; `null` = end of stream.
   * The guest asks for exactly what it needs (5 header bytes, then the rest of the record).
   */
  recv(max: number): Uint8Array | null | undefined | IoError;
}

/** A Transport that can also say when it is worth calling again. */
export interface ReadyTransport extends Transport {
  readable(): Promise<void>;
  writable(): Promise<void>;
}

/**
 * A Transport over a `net.Socket`: received data is buffered (the socket pauses above
 * `highWaterMark`, default 256 KiB), `recv` returns what is buffered or would-block, `send`
 * queues on the socket until `highWaterMark` bytes wait to be written. Socket errors become
 * `closed` (receive) and `broken-pipe` (send); the error itself is kept in `error`.
 */
export class NetTransport implements ReadyTransport {
  constructor(socket: Socket, options?: { highWaterMark?: number });
  readonly socket: Socket;
  readonly error: Error | null;
  send(data: Uint8Array): number | IoError;
  recv(max: number): Uint8Array | null | IoError;
  readable(): Promise<void>;
  writable(): Promise<void>;
}

/** One end of an in-memory pipe (a synchronous Transport); `end()` is EOF for the peer. */
export class PipeEnd implements Transport {
  send(data: Uint8Array): number;
  recv(max: number): Uint8Array | null | undefined;
  end(): void;
}
/** Two connected in-memory pipe ends. */
export function memoryPipe(): [PipeEnd, PipeEnd];

// ---- instances, configs, connections -------------------------------------------------------

/**
 * One instantiation of the component (its own linear memory). Connections of one instance
 * are independent: one failing, or a transport throwing, never affects another.
 */
export class Instance {
  /** The trap that killed this instance, if any. */
  readonly trap: unknown;
}
/** The instance Configs use unless given one (replaced by a fresh one after a trap). */
export function defaultInstance(): Instance;
/** A fresh, isolated instance; it shares `defaultSessionStore` unless given a store. */
export function createInstance(options?: { sessionStore?: SessionStore }): Instance;

/**
 * The imported `session-store`: where servers keep resumable sessions (0-RTT). Values are
 * sealed by the guest under a key only the client's ticket gives, and keys are hashes; a tampered
 * value resumes nothing. Must be synchronous; an exception counts as
 * "not kept" (put) or "none" (get, take).
 */
export interface SessionStore {
  /** Keeps `value` under `key`; false if not kept. */
  put(key: Uint8Array, value: Uint8Array): boolean;
  /** The value under `key`, left in place. */
  get(key: Uint8Array): Uint8Array | undefined;
  /** The value under `key`, removed: a session resumes at most once. */
  take(key: Uint8Array): Uint8Array | undefined;
}
/** A bounded in-memory SessionStore (oldest entries evicted beyond `capacity`, default 10000). */
export class MemorySessionStore implements SessionStore {
  constructor(options?: { capacity?: number });
  put(key: Uint8Array, value: Uint8Array): boolean;
  get(key: Uint8Array): Uint8Array | undefined;
  take(key: Uint8Array): Uint8Array | undefined;
}
/** The store every instance shares unless created with its own. */
export const defaultSessionStore: MemorySessionStore;

/** Everything a configuration is built from (the WIT `config-options`); all optional but `role`. */
export interface ConfigOptions {
  /** Default 'client'. */
  role?: Role;
  /** Clients: SNI and the name the server certificate must match (required for clients). */
  serverName?: string;
  /** Certificates to trust: PEM bundles or DER certificates (one or a list). */
  trustAnchors?: PemOrDer | PemOrDer[];
  /**
   * Clients: also trust Node's bundled Mozilla CA set (`tls.rootCertificates`), taken apart
   * once per process and looked up by name per connection. Default: true for a client with
   * no `trustAnchors`, false otherwise.
   */
  hostTrustStore?: boolean;
  /** Our chain, leaf first (servers; clients for client auth). */
  certificateChain?: PemOrDer | PemOrDer[];
  /** The leaf's private key: PKCS#8, SEC1 or PKCS#1; ECDSA P-256/P-384, Ed25519 or RSA. */
  privateKey?: PemOrDer;
  /** ALPN protocols in preference order. */
  alpn?: string[];
  /** Default TLS 1.3 and 1.2. */
  versions?: ProtocolVersion[];
  /** Default all, ChaCha20-Poly1305 first (fastest in wasm). */
  cipherSuites?: CipherSuite[];
  kxGroups?: KxGroup[];
  /** Servers: whether to request client certificates. */
  clientAuth?: ClientAuth;
  /** 8087-byte fragments by default, 16384 'prefer-throughput', 1435 'prefer-low-latency'. */
  recordSizing?: RecordSizing;
  /** A cap on fragment size, 512..=16384. */
  maxFragmentLength?: number;
  /** s2n's multi-record send: records batch in a buffer of this size (>= 1034). */
  sendBufferSize?: number;
  /** `recv` reads records until the request is filled (s2n_config_set_recv_multi_record). */
  recvMultiRecord?: boolean;
  /** `recv` reads ahead up to 16 KiB (s2n_connection_set_recv_buffering). */
  recvBuffering?: boolean;
  /** 'rfc' (default): the alert the failure calls for; 's2n': blinding, close_notify later. */
  alertPolicy?: AlertPolicy;
  /** With 's2n': the blinding delay's upper bound in seconds (default 30). */
  maxBlindingDelaySecs?: number;
  /** Session tickets (components whose WIT has resumption). */
  sessionTickets?: number;
  ticketKeys?: BytesLike[];
  maxEarlyData?: number;
  earlyData?: boolean;
}

/** A validated, reusable configuration (s2n_config): certificates and keys parsed once. */
export class Config implements Disposable {
  /** Throws TlsUsageError (`missing-server-name`, ...) or TlsInternalError (`bad-private-key`, ...). */
  constructor(options: ConfigOptions, opts?: { instance?: Instance });
  readonly instance: Instance;
  /** Frees the guest's copy now (the garbage collector does it otherwise). */
  free(): void;
  [Symbol.dispose](): void;
}

/** s2n_send's result. */
export interface Progress {
  /** Bytes acknowledged (their records went out whole). */
  bytes: number;
  /** 'not-blocked' when everything went out; 'on-write': retry with the data after `bytes`. */
  blocked: Blocked;
  /** No record of this call went out (s2n's -1 / IO_BLOCKED): retry with the same data. */
  ioBlocked: boolean;
}

/** s2n_recv's result. */
export interface Received {
  /** Plaintext. Empty, 'not-blocked' and not ioBlocked: the peer's close_notify (or max 0). */
  data: Uint8Array;
  /** 'on-read' with data: plaintext remains in the current record (see peek). */
  blocked: Blocked;
  /** Nothing to read yet (s2n's -1 / IO_BLOCKED): wait until readable, call again. */
  ioBlocked: boolean;
}

export interface SessionInfo {
  version: ProtocolVersion;
  cipherSuite: CipherSuite;
  kxGroup?: KxGroup;
  alpn?: string;
  serverName?: string;
  /** DER, leaf first. */
  peerCertificates: Uint8Array[];
}

/**
 * One TLS connection over one transport (s2n_connection) with s2n's calls. Calls that can
 * block return a status (`negotiate`, `flush`, `shutdown`...) or a result with `blocked`
 * and `ioBlocked` (`send`, `recv`); everything else that fails throws a TlsboxError.
 * A transport calling back into its own connection gets TlsInternalError `busy`.
 */
export class Connection implements Disposable {
  constructor(config: Config, transport: Transport);
  readonly config: Config;
  readonly transport: Transport;
  /** s2n_negotiate: 'not-blocked' once the handshake is complete. */
  negotiate(): Blocked;
  /** s2n_send. */
  send(data: BytesLike): Progress;
  /** s2n_sendv_with_offset over the concatenation of `bufs` after `offset` bytes. */
  sendvWithOffset(bufs: BytesLike[], offset?: number | bigint): Progress;
  /** s2n_recv: at most `max` bytes from at most one record (more with multi-record). */
  recv(max: number): Received;
  /** s2n_flush: pushes encrypted records the transport has not taken yet. */
  flush(): Blocked;
  /** s2n_shutdown_send: close_notify; TLS 1.3 keeps reading (half-close). */
  shutdownSend(): Blocked;
  /** s2n_shutdown: close_notify both ways. */
  shutdown(): Blocked;
  /** s2n_connection_set_dynamic_record_threshold. */
  setDynamicRecordThreshold(threshold: number, timeoutSecs?: number): void;
  /** s2n_connection_request_key_update (TLS 1.3; TlsUsageError `invalid-state` before). */
  requestKeyUpdate(): void;
  setRecvMultiRecord(enabled: boolean): void;
  /** Unread plaintext of the current record (s2n_peek). */
  peek(): number;
  /** Ciphertext read ahead (s2n_peek_buffered). */
  peekBuffered(): number;
  keyUpdateCounts(): { sent: number; received: number };
  /** Nanoseconds left of the blinding delay. */
  delay(): number;
  sessionInfo(): SessionInfo | undefined;
  wireBytesOut(): number;
  wireBytesIn(): number;
  /** The peer's fatal alert, if any. */
  alertReceived(): number | undefined;
  /** Early data and resumption: TypeError if the component was built without them. */
  sendEarlyData(data: BytesLike): Progress;
  recvEarlyData(max: number): Received;
  earlyDataStatus(): EarlyDataStatus;
  maxEarlyDataSize(): number;
  remainingEarlyDataSize(): number;
  rejectEarlyData(): void;
  sessionResumed(): boolean;
  /** Frees the guest's state now (the garbage collector does it otherwise). */
  free(): void;
  [Symbol.dispose](): void;
}

/** Calls `step` until it returns 'not-blocked', awaiting readiness in between. */
export function drive(transport: ReadyTransport, step: () => Blocked): Promise<void>;

// ---- streams -------------------------------------------------------------------------------

/** Config defaults for connect()/createServer(): full-size batched records, read-ahead. */
export const STREAM_DEFAULTS: Readonly<ConfigOptions>;

/**
 * A TLS connection as a Duplex of plaintext. Ending the writable side sends close_notify
 * (TLS 1.3: half-close, reading goes on); the peer's close_notify (or a bare TCP EOF) ends
 * the readable side. Failures are TlsboxErrors emitted as 'error'.
 */
export class TlsSocket extends Duplex {
  /** The s2n-level connection underneath. */
  readonly connection: Connection;
  readonly transport: NetTransport;
  readonly socket: Socket;
  /** What the handshake negotiated. */
  readonly session: SessionInfo;
  /** The negotiated ALPN protocol or false (node:tls's convention). */
  readonly alpnProtocol: string | false;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

export interface ConnectOptions {
  host?: string;
  port?: number;
  /** An already connected socket instead of host/port. */
  socket?: Socket;
  /** Trust anchors (PEM/DER, one or a list); default: Node's Mozilla set (`tls.rootCertificates`). */
  ca?: PemOrDer | PemOrDer[];
  /** SNI and the name to verify; defaults to `host`. */
  servername?: string;
  alpn?: string[];
  /** Client certificate chain and key. */
  cert?: PemOrDer | PemOrDer[];
  key?: PemOrDer;
  /** Extra Config options (override STREAM_DEFAULTS). */
  tls?: Partial<ConfigOptions>;
  /** A prebuilt client Config instead of the options above. */
  config?: Config;
  instance?: Instance;
  /** Keep the writable side open after the peer's close_notify (default false). */
  allowHalfOpen?: boolean;
}

/** Connects, completes the handshake in the component, resolves with a TlsSocket. */
export function connect(options: ConnectOptions): Promise<TlsSocket>;

export interface ServerOptions {
  cert: PemOrDer | PemOrDer[];
  key: PemOrDer;
  /** Trust anchors for client certificates. */
  ca?: PemOrDer | PemOrDer[];
  /** Ask for a client certificate (required unless rejectUnauthorized is false). */
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  alpn?: string[];
  tls?: Partial<ConfigOptions>;
  config?: Config;
  instance?: Instance;
  allowHalfOpen?: boolean;
  /** Milliseconds a client may take to finish its handshake (default 120000). */
  handshakeTimeout?: number;
}

/**
 * A TLS server sharing one Config across connections. Events: 'secureConnection'
 * (TlsSocket), 'tlsClientError' (error, net.Socket) for failed handshakes, 'error'.
 */
export class TlsServer extends EventEmitter {
  constructor(options: ServerOptions, handler?: (socket: TlsSocket) => void);
  readonly config: Config;
  /** Resolves with the bound address; defaults to an ephemeral port on 127.0.0.1. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  address(): AddressInfo | string | null;
  /** Stops accepting; resolves when open connections have closed. */
  close(): Promise<void>;
}

export function createServer(options: ServerOptions, handler?: (socket: TlsSocket) => void): TlsServer;
