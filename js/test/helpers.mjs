// Test support: certificates made with openssl in a temp dir, child processes that are
// started and stopped by the tests (loopback only), and a scripted transport.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Config, Connection, createInstance, memoryPipe } from '../index.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HELLO = new TextEncoder().encode('hello world\0');

/** A CA and a P-256 server certificate for localhost / 127.0.0.1, as files and bytes. */
export function makePki(caName = 'tlsbox js test CA') {
  const dir = mkdtempSync(join(tmpdir(), 'tlsbox-js-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', `/CN=${caName}`, '-days', '2');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'ext');
  const file = (n) => join(dir, n);
  return {
    dir,
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    ca: readFileSync(file('ca.pem')),
    cert: readFileSync(file('server.pem')),
    key: readFileSync(file('server.key')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Spawns a process in its own process group and collects its output; `waitFor(re)` resolves
 * with the first match in stdout+stderr. `stop()` kills exactly this process group.
 */
export function startProcess(cmd, args, { timeoutMs = 60000 } = {}) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let output = '';
  const listeners = new Set();
  const onData = (d) => {
    output += d.toString('latin1');
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited = false;
  child.on('exit', () => {
    exited = true;
    for (const l of listeners) l();
  });
  return {
    child,
    output: () => output,
    waitFor(re) {
      return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${re} from ${cmd}; output: ${output}`));
        }, timeoutMs);
        const check = () => {
          const m = re.exec(output);
          if (m || exited) {
            clearTimeout(timer);
            listeners.delete(check);
            if (m) resolvePromise(m);
            else reject(new Error(`${cmd} exited before ${re}; output: ${output}`));
          }
        };
        listeners.add(check);
        check();
      });
    },
    stop() {
      if (!exited && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

/** Reads from a Duplex until `n` bytes arrived. */
export function readBytes(stream, n) {
  return new Promise((resolvePromise, reject) => {
    const chunks = [];
    let got = 0;
    const onData = (c) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        cleanup();
        resolvePromise(Buffer.concat(chunks));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`stream ended after ${got} of ${n} bytes`));
    };
    const onError = (e) => {
      cleanup();
      reject(e);
    };
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

/**
 * A transport over one end of a memory pipe that logs every call and follows a send
 * script: `{ allow: n }` takes at most n bytes, `'block'` is would-block, `'all'` takes
 * everything; once the script is used up every send takes everything.
 */
export class ScriptedTransport {
  constructor(end) {
    this.end = end;
    this.script = [];
    this.calls = [];
  }

  send(data) {
    const step = this.script.length ? this.script.shift() : 'all';
    let n;
    if (step === 'block') n = 0;
    else if (step === 'all') n = data.length;
    else n = Math.min(step.allow, data.length);
    if (n > 0) this.end.send(data.subarray(0, n));
    this.calls.push({ dir: 'send', requested: data.length, moved: n > 0 ? n : 'would-block' });
    return n;
  }

  recv(max) {
    const data = this.end.recv(max);
    const moved = data === null ? 'closed' : data === undefined || data.length === 0 ? 'would-block' : data.length;
    this.calls.push({ dir: 'recv', requested: max, moved });
    return data;
  }

  lens(dir) {
    return this.calls.filter((c) => c.dir === dir).map((c) => c.requested);
  }

  moved(dir) {
    return this.calls.filter((c) => c.dir === dir && typeof c.moved === 'number').reduce((a, c) => a + c.moved, 0);
  }
}

/** Runs both handshakes over an in-memory pipe until done. */
export function handshake(client, server) {
  for (let i = 0; i < 50; i++) {
    const a = client.negotiate();
    const b = server.negotiate();
    if (a === 'not-blocked' && b === 'not-blocked') return;
  }
  throw new Error('handshake did not complete');
}

/**
 * The contract's fixture (tests/common contract_pair): a TLS 1.3 AES-256-GCM client with
 * the s2n alert policy, handshaken against a server (here a second component connection),
 * its session tickets consumed, the call log cleared.
 */
export function contractPair(pki, clientOptions = {}) {
  const instance = createInstance();
  const clientConfig = new Config({
    role: 'client', serverName: 'localhost', trustAnchors: pki.ca,
    cipherSuites: ['tls13-aes-256-gcm-sha384'], alertPolicy: 's2n', ...clientOptions,
  }, { instance });
  const serverConfig = new Config({ role: 'server', certificateChain: pki.cert, privateKey: pki.key }, { instance });
  const [a, b] = memoryPipe();
  const wire = new ScriptedTransport(a);
  const client = new Connection(clientConfig, wire);
  const server = new Connection(serverConfig, b);
  handshake(client, server);
  // A record with no application data (a ticket) blocks.
  const r = client.recv(1);
  if (!r.ioBlocked || r.blocked !== 'on-read') throw new Error('ticket not consumed');
  wire.calls = [];
  return {
    instance, client, server, wire,
    /** The plaintext the server decrypts now. */
    peerReceive() {
      const parts = [];
      for (;;) {
        const got = server.recv(65536);
        if (got.ioBlocked || got.data.length === 0) break;
        parts.push(got.data);
      }
      return Buffer.concat(parts);
    },
  };
}
