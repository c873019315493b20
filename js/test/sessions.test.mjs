// The imported session-store, implemented in JS: a server session made in one instance
// resumes in another instance sharing the store, once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Config, Connection, MemorySessionStore, createInstance, memoryPipe } from '../index.js';
import { handshake, makePki } from './helpers.mjs';

let pki;
before(() => {
  pki = makePki();
});
after(() => pki.remove());

test('a session stored by one instance resumes in another sharing the JS store', () => {
  const store = new MemorySessionStore();
  const client = new Config({ role: 'client', serverName: 'localhost', trustAnchors: pki.ca, earlyData: true });
  const serverConfig = (instance) => new Config({
    role: 'server', certificateChain: pki.cert, privateKey: pki.key, maxEarlyData: 16384,
  }, { instance });
  const run = (server, early) => {
    const [a, b] = memoryPipe();
    const c = new Connection(client, a);
    const s = new Connection(server, b);
    if (early) assert.equal(c.sendEarlyData(Buffer.from('early')).bytes, 5);
    handshake(c, s);
    // The server's tickets reach the client with the first data.
    assert.equal(s.send(Buffer.from('hi')).bytes, 2);
    let r = c.recv(10);
    for (let i = 0; i < 5 && r.ioBlocked; i++) r = c.recv(10);
    assert.equal(Buffer.from(r.data).toString(), 'hi');
    return { resumed: c.sessionResumed() && s.sessionResumed() };
  };
  assert.deepEqual(run(serverConfig(createInstance({ sessionStore: store }))), { resumed: false });
  assert.ok(store.map.size > 0, 'the server kept its sessions in the JS store');
  assert.deepEqual(run(serverConfig(createInstance({ sessionStore: store })), true), { resumed: true });
});

test('a throwing session store reads as "not kept": full handshakes, no failure', () => {
  const store = { put() { throw new Error('disk full'); }, get() { throw new Error('x'); }, take() { throw new Error('x'); } };
  const instance = createInstance({ sessionStore: store });
  const client = new Config({ role: 'client', serverName: 'localhost', trustAnchors: pki.ca }, { instance });
  const server = new Config({ role: 'server', certificateChain: pki.cert, privateKey: pki.key, maxEarlyData: 16384 }, { instance });
  for (let i = 0; i < 2; i++) {
    const [a, b] = memoryPipe();
    const c = new Connection(client, a);
    const s = new Connection(server, b);
    handshake(c, s);
    assert.equal(s.sessionResumed(), false);
  }
});
