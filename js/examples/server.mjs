#!/usr/bin/env node
// Like `tlsbox server`: echoes every received chunk, one connection after another.
//   node js/examples/server.mjs ADDR --cert FILE --key FILE     (ADDR: PORT or HOST:PORT)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createServer } from '../index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { cert: { type: 'string' }, key: { type: 'string' } },
});
const addr = positionals[0];
const m = addr && /^(?:(?:\[(.+)\]|([^:]+)):)?(\d+)$/.exec(addr);
if (!m || !values.cert || !values.key) {
  console.error('usage: server.mjs [HOST:]PORT --cert FILE --key FILE');
  process.exit(2);
}
const server = createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key) }, (tls) => {
  console.error(`connection from ${tls.remoteAddress}:${tls.remotePort}: ${tls.session.version} ${tls.session.cipherSuite}`);
  tls.pipe(tls); // echo; the peer's close_notify ends our side too
  tls.on('error', (e) => console.error(`connection error: ${e.code ?? e.name}: ${e.message}`));
});
server.on('tlsClientError', (e) => console.error(`handshake failed: ${e.code ?? e.name}: ${e.message}`));
const a = await server.listen(Number(m[3]), m[1] ?? m[2] ?? '127.0.0.1');
console.error(`listening on ${a.address}:${a.port}`);
