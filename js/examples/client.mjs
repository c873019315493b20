#!/usr/bin/env node
// Like `tlsbox client`: stdin to the peer, the peer's data to stdout.
//   node js/examples/client.mjs HOST:PORT --ca FILE [--servername N] [--alpn h2,http/1.1]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connect } from '../index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { ca: { type: 'string' }, servername: { type: 'string' }, alpn: { type: 'string' } },
});
const target = positionals[0];
const m = target && /^(?:\[(.+)\]|([^:]+)):(\d+)$/.exec(target);
if (!m || !values.ca) {
  console.error('usage: client.mjs HOST:PORT --ca FILE [--servername N] [--alpn P1,P2]');
  process.exit(2);
}
const host = m[1] ?? m[2];
try {
  const tls = await connect({
    host,
    port: Number(m[3]),
    ca: readFileSync(values.ca),
    servername: values.servername ?? host,
    alpn: values.alpn ? values.alpn.split(',') : [],
    allowHalfOpen: true, // stdin's end sends close_notify; keep printing until the peer closes
  });
  const s = tls.session;
  console.error(`connected: ${s.version} ${s.cipherSuite} ${s.kxGroup ?? ''}${s.alpn ? ` alpn=${s.alpn}` : ''}`);
  process.stdin.pipe(tls);
  tls.pipe(process.stdout);
  tls.on('error', (e) => {
    console.error(`error: ${e.code ?? e.name}: ${e.message}`);
    process.exitCode = 1;
  });
  tls.on('end', () => process.stdin.destroy());
} catch (e) {
  console.error(`error: ${e.code ?? e.name}: ${e.message}`);
  process.exit(1);
}
