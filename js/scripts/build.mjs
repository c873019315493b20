// Transpiles the guest component into js/gen/ with jco: the component the Rust crate ships,
// host/component/tlsbox.wasm (built reproducibly from guest/; host/tests/component.rs checks
// it matches the sources), or the file TLSBOX_GUEST_WASM names.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const js = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(js, 'gen');
const wasm = process.env.TLSBOX_GUEST_WASM
  ? resolve(process.env.TLSBOX_GUEST_WASM)
  : join(js, '..', 'host', 'component', 'tlsbox.wasm');
if (!existsSync(wasm)) throw new Error(`guest component missing at ${wasm}`);

const jcoPkg = join(js, 'node_modules', '@bytecodealliance', 'jco', 'package.json');
if (!existsSync(jcoPkg)) throw new Error('jco is not installed: run `npm --prefix js ci` first');
const jcoVersion = JSON.parse(readFileSync(jcoPkg, 'utf8')).version;
const jcoCli = join(dirname(jcoPkg), JSON.parse(readFileSync(jcoPkg, 'utf8')).bin.jco);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const args = [
  jcoCli, 'transpile', wasm, '-o', out, '--name', 'tlsbox',
  // index.js instantiates the component itself (one instance per `createInstance()`), with
  // its own transport class and the WASI shim: no import specifiers baked into the output.
  '--instantiation', 'sync',
  // The package ships a hand-written index.d.ts with docs for its own API.
  '--no-typescript',
  '--no-namespaced-exports',
  // Error results are thrown as the plain WIT `error` record, not wrapped in a
  // `ComponentError` (whose construction captures a stack trace on every blocked call);
  // lib/core.js turns them into statuses or TlsboxError subclasses.
  '--no-component-error-wrapping',
  // The guest is ours and validated by its own tests: skip jco's per-value lifting checks.
  '--valid-lifting-optimization',
  '--quiet',
];
const r = spawnSync(process.execPath, args, { cwd: js, stdio: 'inherit' });
if (r.status !== 0) throw new Error('jco transpile failed');

// jco's generated glue calls `_debugLog(...)` several times per call, and each call reads
// `globalThis.process.env.JCO_DEBUG` (a slow property lookup in Node). Read it once at load.
const glue = join(out, 'tlsbox.js');
let code = readFileSync(glue, 'utf8');
const hook = 'if (!globalThis?.process?.env?.JCO_DEBUG) { return; }';
const count = code.split(hook).length - 1;
if (count !== 1) throw new Error(`expected jco's debug hook once in ${glue}, found it ${count} times`);
code = code.replace(hook, 'if (!JCO_DEBUG_AT_LOAD) { return; }');
// After jco's "use components" prologue line, if any.
const nl = code.startsWith('"use') ? code.indexOf('\n') + 1 : 0;
code = `${code.slice(0, nl)}const JCO_DEBUG_AT_LOAD = !!globalThis?.process?.env?.JCO_DEBUG;\n${code.slice(nl)}`;
// jco turns every `err` of an exported method into a thrown exception, and a throw through
// its nested try/catch/finally wrappers costs ~25 µs in V8 — on every blocked call, which
// is how non-blocking I/O spends most calls. Connection methods return jco's internal
// `{ tag: 'ok' | 'err', val }` instead; lib/core.js reads it. Constructors keep throwing.
const methods = code.indexOf('Connection.prototype.');
if (methods < 0) throw new Error(`no Connection methods found in ${glue}`);
const throwing = /if \(typeof retCopy === 'object' && retCopy\.tag === 'err'\) \{\s*throw retCopy\.val;\s*\}\s*return retCopy\.val;/g;
const tail = code.slice(methods);
const patched = (tail.match(throwing) ?? []).length;
if (patched < 9) throw new Error(`expected jco's result throw in every Connection method, found ${patched}`);
code = code.slice(0, methods) + tail.replace(throwing, 'return retCopy; // tlsbox: results as { tag, val }');
writeFileSync(glue, code);

// jco writes typings even with --no-typescript in instantiation mode; index.d.ts is the API.
rmSync(join(out, 'interfaces'), { recursive: true, force: true });
rmSync(join(out, 'tlsbox.d.ts'), { force: true });

const bytes = readFileSync(wasm);
writeFileSync(join(out, 'source.json'), JSON.stringify({
  component: process.env.TLSBOX_GUEST_WASM ? wasm : 'host/component/tlsbox.wasm',
  bytes: bytes.length,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  jco: jcoVersion,
}, null, 2) + '\n');
console.log(`tlsbox: transpiled ${wasm} (${bytes.length} bytes) with jco ${jcoVersion} into ${out}`);
