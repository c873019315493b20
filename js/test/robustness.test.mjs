// A transport that throws, an async transport, re-entry and argument checks: each fails
// only its own call with a clear error; the instance and its other connections carry on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ASYNC_TRANSPORT, Config, Connection, TlsInternalError, TlsIoError, createInstance, memoryPipe,
} from '../index.js';
import { HELLO, handshake, makePki } from './helpers.mjs';

let pki;
before(() => {
  pki = makePki();
});
after(() => pki.remove());

function configs(instance) {
  return {
    client: new Config({ role: 'client', serverName: 'localhost', trustAnchors: pki.ca }, { instance }),
    server: new Config({ role: 'server', certificateChain: pki.cert, privateKey: pki.key }, { instance }),
  };
}

/** A client whose transport is `wrap(pipe end)`, and a server on the other end. */
function pair(cfg, wrap = (end) => end, options) {
  const [a, b] = memoryPipe();
  return { client: new Connection(cfg.client, wrap(a), options), server: new Connection(cfg.server, b), a, b };
}

/** A second connection on the same instance completes a handshake and an echo. */
function assertHealthy(cfg) {
  const p = pair(cfg);
  handshake(p.client, p.server);
  assert.equal(p.client.send(HELLO).bytes, 12);
  assert.deepEqual(Buffer.from(p.server.recv(100).data), Buffer.from(HELLO));
  assert.equal(p.server.send(HELLO).bytes, 12);
  let r = p.client.recv(100);
  for (let i = 0; i < 5 && r.ioBlocked; i++) r = p.client.recv(100);
  assert.deepEqual(Buffer.from(r.data), Buffer.from(HELLO));
}

test('a transport throwing a bare Error fails that call with an io error; a second connection completes', () => {
  const instance = createInstance();
  const cfg = configs(instance);
  const boom = new Error('socket exploded');
  const p = pair(cfg, (end) => ({ send: () => { throw boom; }, recv: (m) => end.recv(m) }));
  assert.throws(() => p.client.negotiate(), (e) => {
    assert.ok(e instanceof TlsIoError, `${e}`);
    assert.equal(e.kind, 'io');
    assert.equal(e.code, 'io');
    assert.match(e.message, /transport\.send threw Error: socket exploded/);
    assert.equal(e.cause, boom);
    return true;
  });
  // The connection itself stays usable (an `other` io error is not fatal): the same error again.
  assert.throws(() => p.client.negotiate(), TlsIoError);
  assertHealthy(cfg);
  assert.equal(instance.trap, null);
});

test('a bare Error unwinding through the guest (no guard) leaves the connection busy, not the instance trapped', () => {
  const instance = createInstance();
  const cfg = configs(instance);
  const boom = new Error('unwinds through wasm');
  const p = pair(cfg, (end) => ({ send: () => { throw boom; }, recv: (m) => end.recv(m) }), { unguarded: true });
  // jco rethrows the Error through the guest: the call never returns inside the guest.
  assert.throws(() => p.client.negotiate(), (e) => e === boom);
  // Before the fix the next call panicked "already borrowed" and trapped the instance.
  for (const call of [() => p.client.negotiate(), () => p.client.send(HELLO), () => p.client.recv(10)]) {
    assert.throws(call, (e) => {
      assert.ok(e instanceof TlsInternalError, `${e}`);
      assert.equal(e.code, 'busy');
      return true;
    });
  }
  assert.equal(p.client.peek(), 0);
  assert.equal(instance.trap, null);
  assertHealthy(cfg);
  p.client.free();
  assertHealthy(cfg);
});

test('a transport re-entering its own connection gets busy; the outer call completes', () => {
  const instance = createInstance();
  const cfg = configs(instance);
  let inner;
  let conn;
  const p = pair(cfg, (end) => ({
    send(data) {
      if (!inner) {
        try {
          conn.send(HELLO);
          inner = 'no error';
        } catch (e) {
          inner = e;
        }
      }
      return end.send(data);
    },
    recv: (m) => end.recv(m),
  }));
  conn = p.client;
  handshake(p.client, p.server);
  assert.ok(inner instanceof TlsInternalError, `${inner}`);
  assert.equal(inner.code, 'busy');
  assert.equal(p.client.send(HELLO).bytes, 12);
  assert.deepEqual(Buffer.from(p.server.recv(100).data), Buffer.from(HELLO));
});

test('an async transport function is refused at construction', () => {
  const cfg = configs(createInstance());
  const [a] = memoryPipe();
  assert.throws(
    () => new Connection(cfg.client, { async send(d) { return a.send(d); }, recv: (m) => a.recv(m) }),
    (e) => e instanceof TypeError && /transport\.send is an async function/.test(e.message),
  );
});

test('a transport returning a Promise is refused with a clear error, not a corrupted stream', async () => {
  const instance = createInstance();
  const cfg = configs(instance);
  let sends = 0;
  const p = pair(cfg, (end) => ({
    send(d) {
      sends += 1;
      return new Promise((resolve) => setImmediate(() => resolve(end.send(d))));
    },
    recv: (m) => end.recv(m),
  }));
  assert.throws(() => p.client.negotiate(), (e) => {
    assert.ok(e instanceof TlsIoError, `${e}`);
    assert.equal(e.code, ASYNC_TRANSPORT);
    assert.match(e.message, /transport\.send returned a Promise; tlsbox transports must be synchronous/);
    return true;
  });
  assert.throws(() => p.client.negotiate(), (e) => e.code === ASYNC_TRANSPORT);
  assert.equal(sends, 1, 'the transport is not called again once refused');
  await new Promise((r) => setImmediate(r));
  // The one ClientHello that went out is all the server sees: no duplicated records.
  assert.equal(p.server.negotiate(), 'on-read');
  assertHealthy(cfg);
});

test('bytes arguments: strings are a TypeError, views and ArrayBuffers are accepted', () => {
  const cfg = configs(createInstance());
  const p = pair(cfg);
  handshake(p.client, p.server);
  assert.throws(() => p.client.send('abc'), (e) => e instanceof TypeError && /not a string/.test(e.message));
  assert.throws(() => p.client.send(123), TypeError);
  assert.throws(() => p.client.recv(-1), TypeError);
  assert.throws(() => p.client.recv('5'), TypeError);
  assert.equal(p.client.send(new Uint16Array([1, 2])).bytes, 4);
  assert.equal(p.client.send(new ArrayBuffer(3)).bytes, 3);
  assert.equal(p.client.send(new DataView(new ArrayBuffer(8), 2, 5)).bytes, 5);
  assert.equal(p.server.recv(100).data.length, 4);
});

test('errors carry the tlsbox record: config errors and a closed peer', () => {
  const instance = createInstance();
  assert.throws(() => new Config({ role: 'client' }, { instance }), (e) => {
    assert.equal(e.name, 'TlsUsageError');
    assert.equal(e.kind, 'usage');
    assert.equal(e.code, 'missing-server-name');
    assert.equal(e.record.name, 'missing-server-name');
    return true;
  });
  assert.throws(() => new Config({ role: 'client', serverName: 'localhost', trustAnchors: 'not a pem' }, { instance }),
    (e) => e.kind === 'internal' && e.code === 'bad-certificate-data');
  assert.throws(() => new Config({ role: 'sideways' }, { instance }), TypeError);
  const cfg = configs(instance);
  const p = pair(cfg);
  p.b.end();
  assert.throws(() => p.client.negotiate(), (e) => e.name === 'TlsClosedError' && e.code === 'closed');
});
