// Error classes: every failure of a tlsbox call is a TlsboxError subclass chosen by the
// error record's `kind`, carrying the record itself. `blocked` is never thrown by the s2n
// calls (it is a status there); TlsBlockedError exists for completeness.

/** The base class. `code` is the record's stable `name` (`decrypt`, `closed`, ...). */
export class TlsboxError extends Error {
  constructor(record, options) {
    super(record.message || record.name, options);
    /** s2n's error type: io, closed, blocked, alert, protocol, internal, usage. */
    this.kind = record.kind;
    /** The stable kebab-case name from the README's error table. */
    this.code = record.name;
    /** The TLS alert code for `alert` (received) and protocol errors, else undefined. */
    this.alert = record.alert;
    /** s2n's blocked status that goes with the error. */
    this.blocked = record.blocked;
    /** The WIT `error` record as the guest returned it. */
    this.record = { kind: record.kind, name: record.name, message: record.message, blocked: record.blocked, alert: record.alert };
  }
}
TlsboxError.prototype.name = 'TlsboxError';

export class TlsIoError extends TlsboxError {}
TlsIoError.prototype.name = 'TlsIoError';
export class TlsClosedError extends TlsboxError {}
TlsClosedError.prototype.name = 'TlsClosedError';
export class TlsBlockedError extends TlsboxError {}
TlsBlockedError.prototype.name = 'TlsBlockedError';
export class TlsAlertError extends TlsboxError {}
TlsAlertError.prototype.name = 'TlsAlertError';
export class TlsProtocolError extends TlsboxError {}
TlsProtocolError.prototype.name = 'TlsProtocolError';
export class TlsInternalError extends TlsboxError {}
TlsInternalError.prototype.name = 'TlsInternalError';
export class TlsUsageError extends TlsboxError {}
TlsUsageError.prototype.name = 'TlsUsageError';

const BY_KIND = {
  io: TlsIoError,
  closed: TlsClosedError,
  blocked: TlsBlockedError,
  alert: TlsAlertError,
  protocol: TlsProtocolError,
  internal: TlsInternalError,
  usage: TlsUsageError,
};

/** The error for a WIT error record (`cause`: the transport's own exception, if any). */
export function fromRecord(record, cause) {
  const Class = BY_KIND[record.kind] ?? TlsboxError;
  return new Class(record, cause === undefined ? undefined : { cause });
}

/** Whether `e` is a WIT `error` record thrown by the jco glue. */
export function isRecord(e) {
  return e !== null && typeof e === 'object' && !(e instanceof Error) &&
    typeof e.kind === 'string' && typeof e.name === 'string';
}

/**
 * Thrown (or returned) by a transport to report a WIT `io-error`: `would-block`, `closed`,
 * `broken-pipe` or `other` (with a message). Any other exception a transport throws becomes
 * `other` with its message, and reaches the caller as the `cause` of the TlsIoError.
 */
export class TransportError extends Error {
  constructor(tag, message) {
    super(message ?? tag);
    if (!['would-block', 'closed', 'broken-pipe', 'other'].includes(tag)) {
      throw new TypeError(`TransportError: unknown io-error ${JSON.stringify(tag)}`);
    }
    this.tag = tag;
  }
}
TransportError.prototype.name = 'TransportError';
