// The Node package over real TCP on loopback: the component as client against
// `tlsbox server` (the Rust CLI, debug build) and `openssl s_server`, and serving in Node
// against `openssl s_client`. Every peer process is started and stopped here.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect, createServer } from '../index.js';
import { ROOT, makePki, readBytes, startProcess } from './helpers.mjs';

let pki;
const processes = [];
before(() => {
  pki = makePki();
});
after(() => {
  for (const p of processes) p.stop();
  pki.remove();
});

function start(cmd, args) {
  const p = startProcess(cmd, args);
  processes.push(p);
  return p;
}

const TLSBOX = process.env.TLSBOX_BIN ?? join(ROOT, 'target', 'debug', 'tlsbox');

test('client handshake and echo against `tlsbox server`', async () => {
  assert.ok(existsSync(TLSBOX), `${TLSBOX} is not built: run cargo build -p tlsbox (or cargo test --workspace)`);
  const server = start(TLSBOX, ['server', '127.0.0.1:0', '--cert', pki.certFile, '--key', pki.keyFile]);
  const [, port] = await server.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
  const tls = await connect({ host: '127.0.0.1', port: Number(port), ca: pki.ca, servername: 'localhost' });
  assert.equal(tls.session.version, 'tls13');
  assert.equal(tls.session.cipherSuite, 'tls13-chacha20-poly1305-sha256');
  // Small, then 1 MiB: several records each way, echoed chunk by chunk.
  for (const size of [12, 1 << 20]) {
    const data = Buffer.alloc(size, 0).map((_, i) => (i * 31 + size) & 0xff);
    const echoed = readBytes(tls, size);
    tls.write(data);
    assert.ok((await echoed).equals(data), `echo of ${size} bytes`);
  }
  tls.end();
  await new Promise((resolve) => tls.once('close', resolve).resume());
  server.stop();
});

test('client against `openssl s_server` (TLS 1.3 and TLS 1.2, ALPN)', async () => {
  for (const version of ['-tls1_3', '-tls1_2']) {
    const server = start('openssl', ['s_server', '-accept', '127.0.0.1:0', '-naccept', '1', '-rev',
      '-cert', pki.certFile, '-key', pki.keyFile, version, '-alpn', 'h2,http/1.1']);
    const [, port] = await server.waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/);
    const tls = await connect({ host: '127.0.0.1', port: Number(port), ca: pki.ca, servername: 'localhost', alpn: ['http/1.1'] });
    assert.equal(tls.session.version, version === '-tls1_3' ? 'tls13' : 'tls12');
    assert.equal(tls.alpnProtocol, 'http/1.1');
    const reply = readBytes(tls, 15);
    tls.write('hello s_server\n'); // the Duplex takes strings (UTF-8) like any Node stream
    assert.equal((await reply).toString(), 'revres_s olleh\n');
    tls.destroy();
    await server.waitFor(/Ciphersuite:|CIPHER is/);
    server.stop();
  }
});

test('the component serving in Node against `openssl s_client`', async () => {
  const server = createServer({ cert: pki.cert, key: pki.key }, (tls) => tls.pipe(tls));
  const errors = [];
  server.on('tlsClientError', (e) => errors.push(e));
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    for (const version of ['-tls1_3', '-tls1_2']) {
      const client = start('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.caFile,
        '-servername', 'localhost', '-verify_return_error', version, '-quiet']);
      client.child.stdin.write(`ping ${version}\n`);
      await client.waitFor(new RegExp(`ping ${version}\\n`));
      assert.match(client.output(), /verify return:1/);
      client.child.stdin.end();
      client.stop();
    }
    assert.deepEqual(errors, []);
  } finally {
    await server.close();
  }
});

test('an untrusted server is rejected with a protocol error carrying its name and alert', async () => {
  const other = makePki('some other CA');
  const server = start('openssl', ['s_server', '-accept', '127.0.0.1:0', '-naccept', '1', '-rev',
    '-cert', pki.certFile, '-key', pki.keyFile]);
  try {
    const [, port] = await server.waitFor(/ACCEPT 127\.0\.0\.1:(\d+)/);
    await assert.rejects(connect({ host: '127.0.0.1', port: Number(port), ca: other.ca, servername: 'localhost' }), (e) => {
      assert.equal(e.name, 'TlsProtocolError');
      assert.equal(e.kind, 'protocol');
      assert.equal(e.code, 'untrusted-certificate');
      assert.equal(typeof e.alert, 'number');
      return true;
    });
  } finally {
    server.stop();
    other.remove();
  }
});
