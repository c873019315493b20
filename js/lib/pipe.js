// An in-memory byte pipe: two transports whose sends land in each other's receive queue.

/** A queue of byte chunks read from the front. */
export class ByteQueue {
  constructor() {
    this.chunks = [];
    this.head = 0; // bytes of chunks[0] already consumed
    this.length = 0;
  }

  push(bytes) {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** Up to `max` bytes from the front (a view when they sit in one chunk). */
  take(max) {
    if (this.length === 0 || max === 0) return new Uint8Array(0);
    const first = this.chunks[0];
    const avail = first.length - this.head;
    if (avail >= max || this.chunks.length === 1) {
      const n = Math.min(avail, max);
      const out = first.subarray(this.head, this.head + n);
      this.consume(n);
      return out;
    }
    const n = Math.min(max, this.length);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const k = Math.min(chunk.length - this.head, n - filled);
      out.set(chunk.subarray(this.head, this.head + k), filled);
      filled += k;
      this.consume(k);
    }
    return out;
  }

  consume(n) {
    this.head += n;
    this.length -= n;
    if (this.head === this.chunks[0].length) {
      this.chunks.shift();
      this.head = 0;
    }
  }
}

/** One end of a memory pipe: a synchronous tlsbox transport. */
export class PipeEnd {
  constructor() {
    this.inbound = new ByteQueue();
    this.peer = null;
    this.eof = false; // the peer closed its write side
  }

  send(data) {
    // jco hands the transport a fresh copy of the guest's bytes: keep it as is.
    this.peer.inbound.push(data);
    return data.length;
  }

  recv(max) {
    if (this.inbound.length === 0) return this.eof ? null : undefined;
    return this.inbound.take(max);
  }

  /** Ends this side's writes: the peer reads end of stream once its queue is empty. */
  end() {
    this.peer.eof = true;
  }
}

/** Two connected pipe ends. */
export function memoryPipe() {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
