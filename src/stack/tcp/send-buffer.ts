/**
 * The send side's byte store: a ring holding every byte from SND.UNA onward — sent but
 * unacknowledged, then not yet sent (RFC 9293 §3.3.1 figure 3). Retransmissions copy from it and
 * ACKs release from its head. The ring is taken from a {@link BufferPool} on the first write, so a
 * connection that never sends (or has not yet) holds no memory; it doubles up to a bound, so
 * `write` reports backpressure once the bound is reached, and goes back to the pool when the
 * connection no longer needs it ({@link SendBuffer.release}). Under connection churn this keeps
 * the 64 KiB-per-connection allocations (and the garbage collections they caused) away.
 * @module
 */
import { sharedBufferPool, type BufferPool } from '../../runtime/buffer-pool.js';

/** The ring of a buffer that holds none yet. */
const NO_RING = Buffer.alloc(0);

/** A bounded, growable byte ring. */
export class SendBuffer {
  private buf: Buffer = NO_RING;
  private head = 0;
  /** Bytes stored. */
  length = 0;
  /** Size of the first ring. */
  private readonly initial: number;

  constructor(
    initial: number,
    /** Most bytes ever stored. */
    readonly max: number,
    private readonly pool: BufferPool = sharedBufferPool,
  ) {
    this.initial = Math.max(1, Math.min(initial, max));
  }

  /** Room left before {@link max}. */
  get free(): number {
    return this.max - this.length;
  }

  /** Current capacity of the ring, 0 before the first write and after {@link release} (for tests and stats). */
  get capacity(): number {
    return this.buf.length;
  }

  /** Appends up to `len` bytes of `src[off…]`; returns how many were taken (0 when full). */
  write(src: Uint8Array, off: number, len: number): number {
    const n = Math.min(len, this.max - this.length);
    if (n <= 0) return 0;
    if (this.length + n > this.buf.length) this.grow(this.length + n);
    const cap = this.buf.length;
    let tail = this.head + this.length;
    if (tail >= cap) tail -= cap;
    const first = Math.min(n, cap - tail);
    this.buf.set(src.subarray(off, off + first), tail);
    if (first < n) this.buf.set(src.subarray(off + first, off + n), 0);
    this.length += n;
    return n;
  }

  /** Releases `n` bytes from the head (they were acknowledged). */
  consume(n: number): void {
    if (n <= 0) return;
    if (n >= this.length) {
      this.head = 0;
      this.length = 0;
      return;
    }
    this.head += n;
    if (this.head >= this.buf.length) this.head -= this.buf.length;
    this.length -= n;
  }

  /** Copies `len` bytes starting `offset` bytes after the head into `dst[dstOff…]`. */
  copyOut(offset: number, dst: Uint8Array, dstOff: number, len: number): void {
    const cap = this.buf.length;
    let p = this.head + offset;
    if (p >= cap) p -= cap;
    const first = Math.min(len, cap - p);
    dst.set(this.buf.subarray(p, p + first), dstOff);
    if (first < len) dst.set(this.buf.subarray(0, len - first), dstOff + first);
  }

  /**
   * Gives the ring back to the pool and forgets what it held: the connection is over, or every
   * byte was acknowledged and nothing more will be sent. A later `write` takes a fresh ring.
   */
  release(): void {
    const b = this.buf;
    this.buf = NO_RING;
    this.head = 0;
    this.length = 0;
    if (b.length > 0) this.pool.release(b);
  }

  private grow(need: number): void {
    let cap = this.buf.length > 0 ? this.buf.length : this.initial;
    while (cap < need) cap *= 2;
    cap = Math.min(cap, this.max);
    const old = this.buf;
    const nb = this.pool.acquire(cap);
    if (this.length > 0) this.copyOut(0, nb, 0, this.length);
    this.buf = nb;
    this.head = 0;
    if (old.length > 0) this.pool.release(old);
  }
}
