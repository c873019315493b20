// Node networking: a transport over net.Socket, a Duplex TLS socket, connect() and
// createServer().
import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { Config, Connection } from './core.js';
import { TlsClosedError, TlsboxError } from './errors.js';
import { ByteQueue } from './pipe.js';

const EMPTY = new Uint8Array(0);
const BROKEN_PIPE = Object.freeze({ tag: 'err', val: Object.freeze({ tag: 'broken-pipe' }) });
const HIGH_WATER = 256 * 1024;

/**
 * A synchronous tlsbox transport over a `net.Socket`. Received data is buffered (the socket
 * is paused above `highWaterMark`); `recv` returns what is buffered or would-block; `send`
 * queues the bytes on the socket, or would-block once `highWaterMark` bytes wait to be
 * written. `readable()`/`writable()` resolve when it is worth calling again. It never
 * throws: socket errors become `closed` (receive) and `broken-pipe` (send), and are kept in
 * `error`.
 */
export class NetTransport {
  constructor(socket, { highWaterMark = HIGH_WATER } = {}) {
    this.socket = socket;
    this.highWaterMark = highWaterMark;
    this.inbound = new ByteQueue();
    this.ended = false;
    this.error = null;
    this.paused = false;
    this.readWaiters = [];
    this.writeWaiters = [];
    socket.on('data', (chunk) => {
      this.inbound.push(chunk);
      if (this.inbound.length >= this.highWaterMark && !this.paused) {
        this.paused = true;
        socket.pause();
      }
      this.#wake(this.readWaiters);
    });
    socket.on('end', () => {
      this.ended = true;
      this.#wake(this.readWaiters);
    });
    socket.on('error', (e) => {
      this.error ??= e;
      this.#wakeAll();
    });
    socket.on('close', () => {
      this.ended = true;
      this.#wakeAll();
    });
    socket.on('drain', () => this.#wake(this.writeWaiters));
  }

  send(data) {
    const s = this.socket;
    if (this.error || s.destroyed || s.writableEnded) return BROKEN_PIPE;
    if (s.writableLength >= this.highWaterMark) return 0;
    // jco hands over a fresh copy of the guest's bytes, so the socket may keep it.
    s.write(data);
    return data.length;
  }

  recv(max) {
    if (this.inbound.length === 0) {
      return this.ended || this.error ? null : EMPTY;
    }
    const out = this.inbound.take(max);
    if (this.paused && this.inbound.length < this.highWaterMark / 2) {
      this.paused = false;
      this.socket.resume();
    }
    return out;
  }

  /** Resolves once received bytes, end of stream or an error are there. */
  readable() {
    if (this.inbound.length > 0 || this.ended || this.error) return Promise.resolve();
    return new Promise((resolve) => this.readWaiters.push(resolve));
  }

  /** Resolves once the socket takes bytes again (or failed). */
  writable() {
    const s = this.socket;
    if (this.error || s.destroyed || s.writableLength < this.highWaterMark) return Promise.resolve();
    return new Promise((resolve) => this.writeWaiters.push(resolve));
  }

  #wake(list) {
    const waiters = list.splice(0);
    for (const w of waiters) w();
  }

  #wakeAll() {
    this.#wake(this.readWaiters);
    this.#wake(this.writeWaiters);
  }
}

/** Calls `step` until it reports 'not-blocked', waiting for readiness in between. */
export async function drive(transport, step) {
  for (;;) {
    const status = step();
    if (status === 'not-blocked') return;
    await (status === 'on-write' ? transport.writable() : transport.readable());
  }
}

const RECV_MAX = 65536;

/**
 * A TLS connection as a Node `Duplex`: write plaintext, read plaintext. Ending the writable
 * side sends close_notify (TLS 1.3 keeps reading: a half-close); the peer's close_notify
 * ends the readable side. `connection` is the s2n-level Connection underneath.
 */
export class TlsSocket extends Duplex {
  constructor(connection, transport, socket, { allowHalfOpen = false } = {}) {
    super({ allowHalfOpen });
    this.connection = connection;
    this.transport = transport;
    this.socket = socket;
    this.reading = false;
    this.chunk = Math.max(connection.config.fragment, Math.floor(65536 / connection.config.fragment) * connection.config.fragment);
    const info = connection.sessionInfo();
    /** What the handshake negotiated (version, cipherSuite, kxGroup, alpn, ...). */
    this.session = info;
    /** The negotiated ALPN protocol, or false (node:tls's convention). */
    this.alpnProtocol = info?.alpn ?? false;
    this.remoteAddress = socket?.remoteAddress;
    this.remotePort = socket?.remotePort;
  }

  _read() {
    if (!this.reading) this.#pump();
  }

  async #pump() {
    this.reading = true;
    try {
      for (;;) {
        if (this.destroyed || !this.connection.raw) return;
        const r = this.connection.recv(RECV_MAX);
        if (r.ioBlocked) {
          await this.transport.readable();
          continue;
        }
        if (r.data.length === 0) {
          if (r.blocked === 'not-blocked') {
            this.push(null); // close_notify
            return;
          }
          await this.transport.readable();
          continue;
        }
        if (!this.push(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.length))) return;
      }
    } catch (e) {
      if (e instanceof TlsClosedError && !this.transport.error) {
        // Transport EOF without close_notify (s2n: `closed`): end the stream like node:tls.
        this.push(null);
      } else {
        this.destroy(this.transport.error && e instanceof TlsboxError && !e.cause
          ? Object.assign(e, { cause: this.transport.error }) : e);
      }
    } finally {
      this.reading = false;
    }
  }

  _write(chunk, encoding, callback) {
    this.#writeAll(chunk).then(() => callback(), callback);
  }

  async #writeAll(data) {
    let off = 0;
    while (off < data.length) {
      // Whole-record chunks keep the guest's linear memory small.
      const end = Math.min(data.length, off + this.chunk);
      const p = this.connection.send(data.subarray(off, end));
      off += p.bytes;
      if (p.blocked === 'on-write') await this.transport.writable();
    }
  }

  _final(callback) {
    (async () => {
      try {
        await drive(this.transport, () => this.connection.shutdownSend());
      } catch (e) {
        // The peer already closed and went away: nothing left to tell it.
        const gone = this.readableEnded && e instanceof TlsboxError && (e.kind === 'closed' || e.code === 'broken-pipe');
        if (!gone) throw e;
      }
      // TCP half-close after close_notify; reading continues until the peer closes.
      if (this.socket && !this.socket.writableEnded) {
        this.socket.end();
        if (this.socket.writableLength > 0) await once(this.socket, 'finish').catch(() => {});
      }
    })().then(() => callback(), callback);
  }

  _destroy(err, callback) {
    this.connection.free();
    if (this.socket && !this.socket.destroyed) {
      if (err || !this.socket.writableEnded || this.socket.writableFinished) this.socket.destroy();
      else this.socket.once('finish', () => this.socket.destroy());
    }
    callback(err);
  }
}

/**
 * Config defaults for streams (override with `options.tls`): full-size records batched into
 * one transport write per call (s2n's multi-record send), and reads that take several
 * records and read ahead — fewer calls across the component boundary and into the socket.
 */
export const STREAM_DEFAULTS = Object.freeze({
  recordSizing: 'prefer-throughput',
  sendBufferSize: 4 * (16384 + 256) + 1024,
  recvMultiRecord: true,
  recvBuffering: true,
});

function clientConfig(o) {
  if (o.config) return o.config;
  return new Config({
    role: 'client',
    serverName: o.servername ?? o.serverName ?? o.host ?? 'localhost',
    trustAnchors: o.ca,
    certificateChain: o.cert,
    privateKey: o.key,
    alpn: o.alpn ?? o.ALPNProtocols,
    ...STREAM_DEFAULTS,
    ...o.tls,
  }, { instance: o.instance });
}

/**
 * Connects over TCP (or over `options.socket`, an already connected net.Socket), runs the
 * handshake in the component and resolves with a TlsSocket.
 */
export async function connect(options) {
  const o = options ?? {};
  const config = clientConfig(o);
  let socket = o.socket;
  if (!socket) {
    socket = net.connect({ host: o.host ?? 'localhost', port: o.port });
    await once(socket, 'connect');
  }
  socket.setNoDelay(true);
  const transport = new NetTransport(socket);
  const connection = new Connection(config, transport);
  try {
    await drive(transport, () => connection.negotiate());
  } catch (e) {
    connection.free();
    socket.destroy();
    throw e;
  }
  return new TlsSocket(connection, transport, socket, { allowHalfOpen: o.allowHalfOpen });
}

/**
 * A TLS server: each accepted TCP connection gets a component connection from one shared
 * Config; after its handshake, `handler(tlsSocket)` runs and 'secureConnection' is emitted.
 * Handshake failures emit 'tlsClientError' (error, net.Socket).
 */
export class TlsServer extends EventEmitter {
  constructor(options, handler) {
    super();
    const o = options ?? {};
    this.config = o.config ?? new Config({
      role: 'server',
      certificateChain: o.cert,
      privateKey: o.key,
      trustAnchors: o.ca,
      clientAuth: o.requestCert ? (o.rejectUnauthorized === false ? 'optional' : 'required') : 'none',
      alpn: o.alpn ?? o.ALPNProtocols,
      ...STREAM_DEFAULTS,
      ...o.tls,
    }, { instance: o.instance });
    this.allowHalfOpen = o.allowHalfOpen;
    /** Milliseconds a client may take to finish its handshake (node:tls's default, 120 s). */
    this.handshakeTimeout = o.handshakeTimeout ?? 120000;
    if (handler) this.on('secureConnection', handler);
    this.server = net.createServer((socket) => this.#accept(socket));
    this.server.on('error', (e) => this.emit('error', e));
  }

  async #accept(socket) {
    socket.setNoDelay(true);
    const transport = new NetTransport(socket);
    // A stalled handshake ends in a closed socket, which fails negotiate() as `closed`.
    socket.setTimeout(this.handshakeTimeout, () => socket.destroy());
    let connection;
    try {
      connection = new Connection(this.config, transport);
      await drive(transport, () => connection.negotiate());
      socket.setTimeout(0);
    } catch (e) {
      connection?.free();
      socket.destroy();
      this.emit('tlsClientError', e, socket);
      return;
    }
    this.emit('secureConnection', new TlsSocket(connection, transport, socket, { allowHalfOpen: this.allowHalfOpen }));
  }

  /** Listens; resolves with the bound address ({ address, family, port }). */
  async listen(port = 0, host = '127.0.0.1') {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return this.server.address();
  }

  address() {
    return this.server.address();
  }

  /** Stops accepting; resolves when open connections have closed. */
  close() {
    return new Promise((resolve, reject) => this.server.close((e) => (e ? reject(e) : resolve())));
  }
}

/** `new TlsServer(options, handler)`. */
export function createServer(options, handler) {
  return new TlsServer(options, handler);
}
