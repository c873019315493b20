#!/usr/bin/env node
// Speed of the jco path against node:tls, in one run:
//   node js/bench/bench.mjs [--mib 64] [--echo-mib 16] [--handshakes 50]
// - handshake: component client and server in one thread over an in-memory pipe, versus
//   node:tls client and server over loopback TCP;
// - bulk: both ends in the component over an in-memory pipe (one thread), versus node:tls
//   both ends over loopback TCP;
// - echo: 16 MiB through a node:tls echo server on loopback, tlsbox client versus node:tls;
// - per call: the JS wrapper plus jco glue plus guest entry for cheap calls.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { Config, Connection, connect, createInstance, memoryPipe } from '../index.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '64' },
    'echo-mib': { type: 'string', default: '16' },
    handshakes: { type: 'string', default: '50' },
  },
});
const MIB = Number(values.mib);
const ECHO_MIB = Number(values['echo-mib']);
const HANDSHAKES = Number(values.handshakes);

// ---- certificates -------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'tlsbox-bench-'));
const ssl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
  '-out', 'ca.pem', '-subj', '/CN=bench CA', '-days', '2');
ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key',
  '-out', 'server.csr', '-subj', '/CN=localhost');
writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out',
  'server.pem', '-days', '2', '-extfile', 'ext');
const ca = readFileSync(join(dir, 'ca.pem'));
const cert = readFileSync(join(dir, 'server.pem'));
const key = readFileSync(join(dir, 'server.key'));
rmSync(dir, { recursive: true, force: true });

const now = () => performance.now();
const mibps = (bytes, ms) => bytes / (1 << 20) / (ms / 1000);

// ---- component, in memory -----------------------------------------------------------------
const instance = createInstance();
const clientConfig = new Config({ role: 'client', serverName: 'localhost', trustAnchors: ca, recvMultiRecord: true }, { instance });
const serverConfig = new Config({ role: 'server', certificateChain: cert, privateKey: key, recvMultiRecord: true, recordSizing: 'prefer-throughput' }, { instance });

function componentPair() {
  const [a, b] = memoryPipe();
  const client = new Connection(clientConfig, a);
  const server = new Connection(serverConfig, b);
  for (;;) {
    const x = client.negotiate();
    const y = server.negotiate();
    if (x === 'not-blocked' && y === 'not-blocked') break;
  }
  return { client, server };
}

function componentHandshakeMs() {
  componentPair(); // warm-up
  const t = now();
  for (let i = 0; i < HANDSHAKES; i++) {
    const p = componentPair();
    p.client.free();
    p.server.free();
  }
  return (now() - t) / HANDSHAKES;
}

function componentBulk() {
  const { client, server } = componentPair();
  const chunk = new Uint8Array(16384 * 4).fill(7);
  const total = MIB << 20;
  let sent = 0;
  let received = 0;
  const t = now();
  while (received < total) {
    if (sent < total) {
      const p = server.send(chunk.subarray(0, Math.min(chunk.length, total - sent)));
      sent += p.bytes;
    }
    for (;;) {
      const r = client.recv(1 << 20);
      if (r.ioBlocked || r.data.length === 0) break;
      received += r.data.length;
    }
  }
  return mibps(total, now() - t);
}

function perCallUs() {
  const { client, server } = componentPair();
  const n = 200000;
  let t = now();
  for (let i = 0; i < n; i++) client.peek();
  const peek = ((now() - t) * 1000) / n;
  t = now();
  for (let i = 0; i < n; i++) client.recv(16);
  const recvBlocked = ((now() - t) * 1000) / n;
  const one = new Uint8Array(1);
  const m = 20000;
  t = now();
  for (let i = 0; i < m; i++) {
    client.send(one);
    server.recv(16);
  }
  const roundTrip = ((now() - t) * 1000) / m;
  return { peek, recvBlocked, roundTrip };
}

// ---- node:tls -----------------------------------------------------------------------------
async function nodeServer(onSocket) {
  // ChaCha20-Poly1305 first on the server (it picks), as the component prefers: the same AEAD
  // on both sides of every comparison. (Software AES-GCM in wasm runs ~7x slower.)
  const server = tls.createServer({ cert, key, ciphers: 'TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256', honorCipherOrder: true }, onSocket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

async function nodeHandshakeMs() {
  const server = await nodeServer((s) => s.end());
  const port = server.address().port;
  const one = async () => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    await once(s, 'secureConnect');
    s.destroy();
  };
  await one();
  const t = now();
  for (let i = 0; i < HANDSHAKES; i++) await one();
  const ms = (now() - t) / HANDSHAKES;
  server.close();
  return ms;
}

async function nodeBulk() {
  const total = MIB << 20;
  const chunk = Buffer.alloc(65536, 7);
  const server = await nodeServer((s) => {
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!s.write(chunk)) return s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  const s = tls.connect({ host: '127.0.0.1', port: server.address().port, ca, servername: 'localhost' });
  await once(s, 'secureConnect');
  const t = now();
  let received = 0;
  s.on('data', (d) => {
    received += d.length;
  });
  await once(s, 'end');
  const ms = now() - t;
  server.close();
  s.destroy();
  return mibps(received, ms);
}

async function echoServer() {
  return nodeServer((s) => s.pipe(s));
}

async function echoRun(sock, total) {
  const chunk = Buffer.alloc(65536, 9);
  let received = 0;
  const t = now();
  const done = new Promise((resolve, reject) => {
    sock.on('data', (d) => {
      received += d.length;
      if (received >= total) resolve();
    });
    sock.on('error', reject);
  });
  (async () => {
    for (let sent = 0; sent < total; sent += chunk.length) {
      if (!sock.write(chunk)) await once(sock, 'drain');
    }
  })();
  await done;
  return mibps(total, now() - t);
}

async function echoBoth() {
  const server = await echoServer();
  const port = server.address().port;
  const total = ECHO_MIB << 20;
  const a = await connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  const component = await echoRun(a, total);
  a.destroy();
  const b = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  await once(b, 'secureConnect');
  const node = await echoRun(b, total);
  b.destroy();
  server.close();
  return { component, node };
}

// ---- run ----------------------------------------------------------------------------------
const rows = [];
const hsC = componentHandshakeMs();
const hsN = await nodeHandshakeMs();
rows.push(['handshake (TLS 1.3, X25519, ECDSA P-256), ms', hsC.toFixed(2), hsN.toFixed(2),
  'component: both ends in one thread, in memory; node:tls: loopback TCP']);
const bulkC = componentBulk();
const bulkN = await nodeBulk();
rows.push([`bulk ${MIB} MiB one way, MiB/s`, bulkC.toFixed(0), bulkN.toFixed(0),
  'ChaCha20-Poly1305; component: both ends, in memory; node:tls: loopback']);
const echo = await echoBoth();
rows.push([`${ECHO_MIB} MiB echo via a node:tls server, MiB/s`, echo.component.toFixed(0), echo.node.toFixed(0),
  'client side differs; same node:tls echo server on loopback']);
const calls = perCallUs();
rows.push(['per call: peek(), µs', calls.peek.toFixed(2), '—', 'wrapper + jco glue + guest entry']);
rows.push(['per call: recv() that would block, µs', calls.recvBlocked.toFixed(2), '—', 'includes one transport call']);
rows.push(['per call: send(1 byte) + peer recv, µs', calls.roundTrip.toFixed(2), '—', 'two guest calls, two transport calls, AEAD']);

const header = ['measurement', 'tlsbox (jco)', 'node:tls', 'notes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(`Node ${process.version}, ${process.arch}`);
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const r of rows) console.log(line(r));
