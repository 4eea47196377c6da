/**
 * Free lists of byte buffers, one per size. Buffers of 64 KiB and more live outside the V8 heap;
 * allocating one per connection or per turn makes V8 count "external memory" and run full
 * garbage collections for it even while the JavaScript heap stays small (the guest-path profile
 * showed 15–29 % of the CPU in GC under connection churn). Taking buffers back once their user
 * is done with them — a connection closed, a socket write completed — removes that churn.
 *
 * Whoever releases a buffer promises that nothing reads or writes it afterwards: a buffer handed
 * to `socket.write` goes back only from the write's callback. A released buffer keeps its old
 * bytes; users only ever read what they wrote after acquiring it. The pool keeps at most
 * {@link BufferPool.retainBytes} per size and {@link BufferPool.maxFreeBytes} in all, so a burst
 * of big buffers does not stay resident.
 * @module
 */

/** Counters of a {@link BufferPool}, for tests and stats. */
export interface BufferPoolStats {
  /** Buffers created because the free list of their size was empty. */
  allocated: number;
  /** Acquisitions served from a free list. */
  reused: number;
  /** Releases dropped because the free list of that size was full (left to the GC). */
  discarded: number;
  /** Bytes currently held in free lists. */
  freeBytes: number;
}

/** Size-keyed free lists of `Buffer`s allocated with `allocUnsafeSlow` (each owns its memory). */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private readonly counts: BufferPoolStats = { allocated: 0, reused: 0, discarded: 0, freeBytes: 0 };

  constructor(
    /** Bytes kept per size at most; one buffer of any size is kept while {@link maxFreeBytes} allows. */
    readonly retainBytes = 4 * 1024 * 1024,
    /** Bytes kept in all free lists together at most. */
    readonly maxFreeBytes = 16 * 1024 * 1024,
  ) {}

  /** A buffer of exactly `size` bytes with unspecified contents. */
  acquire(size: number): Buffer {
    const list = this.free.get(size);
    if (list !== undefined && list.length > 0) {
      this.counts.reused++;
      this.counts.freeBytes -= size;
      return list.pop()!;
    }
    this.counts.allocated++;
    return Buffer.allocUnsafeSlow(size);
  }

  /**
   * Gives `b` back. It must be a whole buffer (not a view into a larger one), and its last user
   * must be done with it.
   */
  release(b: Buffer): void {
    const size = b.length;
    if (b.byteOffset !== 0 || b.buffer.byteLength !== size) return; // a view: not ours to recycle
    let list = this.free.get(size);
    if (list === undefined) {
      list = [];
      this.free.set(size, list);
    }
    if ((list.length > 0 && (list.length + 1) * size > this.retainBytes) || this.counts.freeBytes + size > this.maxFreeBytes) {
      this.counts.discarded++;
      return;
    }
    list.push(b);
    this.counts.freeBytes += size;
  }

  /** Drops every free buffer (their memory returns once the GC collects them). */
  trim(): void {
    this.free.clear();
    this.counts.freeBytes = 0;
  }

  /** A snapshot of the counters. */
  stats(): BufferPoolStats {
    return { ...this.counts };
  }
}

/**
 * The process-wide pool that TCP send rings, per-flow write batches and NIC output batches share.
 * One pool for all of them: a buffer freed by a closing connection serves the next one, whatever
 * network it belongs to.
 */
export const sharedBufferPool = new BufferPool();
