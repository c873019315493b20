// s2n contract scenarios T1, T5 and T31 (docs/contract.md) with a
// scripted JS transport, asserting the figures tests/send.rs and tests/recv.rs assert.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HELLO, contractPair, makePki } from './helpers.mjs';

let pki;
before(() => {
  pki = makePki();
});
after(() => pki.remove());

const ok = (bytes) => ({ bytes, blocked: 'not-blocked', ioBlocked: false });
const blocked = () => ({ bytes: 0, blocked: 'on-write', ioBlocked: true });
const got = (text, status) => ({ data: Buffer.from(text), blocked: status, ioBlocked: false });
const recvBlocked = () => ({ data: Buffer.alloc(0), blocked: 'on-read', ioBlocked: true });
const norm = (r) => ({ ...r, data: Buffer.from(r.data) });

test('T1 basic send: 12 bytes are one 34-byte record (R11, R18)', () => {
  const p = contractPair(pki);
  const before = p.client.wireBytesOut();
  assert.deepEqual(p.client.send(HELLO), ok(12));
  assert.deepEqual(p.wire.lens('send'), [34]);
  assert.equal(p.client.wireBytesOut() - before, 34);
  assert.deepEqual(p.peerReceive(), Buffer.from(HELLO));
});

test('T5 block before the first record completes (R21, R23)', () => {
  const p = contractPair(pki);
  p.wire.script = [{ allow: 10 }, 'block', { allow: 10 }, 'block'];
  assert.deepEqual(p.client.send(HELLO), blocked());
  assert.equal(p.wire.moved('send'), 10);
  assert.deepEqual(p.client.send(HELLO), blocked());
  assert.equal(p.wire.moved('send'), 20);
  assert.deepEqual(p.client.send(HELLO), ok(12));
  assert.equal(p.wire.moved('send'), 34);
  assert.deepEqual(p.peerReceive(), Buffer.from(HELLO));
});

test('T31 recv request sizes and peek (R7, R43, R48, R52)', () => {
  const p = contractPair(pki);
  const before = p.server.wireBytesOut();
  assert.deepEqual(p.server.send(HELLO), ok(12));
  assert.equal(p.server.wireBytesOut() - before, 34, 'one 34-byte record');
  assert.deepEqual(norm(p.client.recv(5)), got('hello', 'on-read'));
  assert.deepEqual(p.wire.lens('recv'), [5, 29]);
  assert.equal(p.client.peek(), 7);
  assert.deepEqual(norm(p.client.recv(0)), got('', 'on-read'));
  assert.deepEqual(norm(p.client.recv(100)), got(' world\0', 'not-blocked'));
  assert.deepEqual(p.wire.lens('recv'), [5, 29], 'no new callback call');
  assert.equal(p.client.peek(), 0);
  assert.deepEqual(norm(p.client.recv(100)), recvBlocked());
  assert.deepEqual(norm(p.client.recv(0)), got('', 'not-blocked'));
  assert.deepEqual(p.wire.lens('recv'), [5, 29, 5]);
});
