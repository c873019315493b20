// tlsbox for Node.js: the tlsbox guest component (TLS inside WebAssembly), transpiled by jco.
export {
  Config, Connection, Instance, MemorySessionStore, createInstance, defaultInstance, defaultSessionStore, ASYNC_TRANSPORT,
} from './lib/core.js';
export {
  TlsboxError, TlsIoError, TlsClosedError, TlsBlockedError, TlsAlertError, TlsProtocolError,
  TlsInternalError, TlsUsageError, TransportError,
} from './lib/errors.js';
export { NetTransport, STREAM_DEFAULTS, TlsSocket, TlsServer, connect, createServer, drive } from './lib/net.js';
export { memoryPipe, PipeEnd } from './lib/pipe.js';
