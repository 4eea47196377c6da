/**
 * The out-of-order queue of the receive side (RFC 9293 §3.10.7.4 step 7: segments beyond RCV.NXT
 * are held until the gap fills). In-order data is never copied here — it is handed to the consumer
 * straight from the frame — only segments that arrive after a hole are, into a ring whose position
 * 0 is RCV.NXT. Ranges are offsets from RCV.NXT, kept sorted and merged; their count is bounded
 * (a segment that would need one more range is dropped, as smoltcp's assembler does) and so are the
 * bytes (by the window we advertised). The ring and the range arrays are allocated on the first
 * hole (most connections never see one), the ring grows on demand, and {@link Reassembly.release}
 * gives it back to its pool when the connection ends.
 * @module
 */
import { sharedBufferPool, type BufferPool } from '../../runtime/buffer-pool.js';

import { OffsetRanges } from './offset-ranges.js';

const INITIAL_RING = 64 * 1024;

/** Out-of-order data of one connection. */
export class Reassembly {
  private ring: Buffer | undefined;
  private base = 0;
  private readonly ranges: OffsetRanges;
  /** Index of the range that took the most recent segment (first SACK block, RFC 2018 §4). */
  private latest = -1;
  /** Offset of a FIN that arrived beyond a hole, or -1. */
  finOffset = -1;

  constructor(
    /** Largest offset (exclusive) that may be held: the receive window bound. */
    readonly maxBytes: number,
    readonly maxRanges: number,
    private readonly pool: BufferPool = sharedBufferPool,
  ) {
    this.ranges = new OffsetRanges(maxRanges);
  }

  /** Number of disjoint ranges held. */
  get count(): number {
    return this.ranges.count;
  }

  /** Whether anything is queued. */
  get isEmpty(): boolean {
    return this.ranges.count === 0;
  }

  /**
   * Copies `len` bytes of `src[srcOff…]` that belong `offset` (> 0) bytes after RCV.NXT.
   * Returns false when the segment was dropped (too many ranges, or entirely beyond the bound).
   */
  insert(offset: number, src: Uint8Array, srcOff: number, len: number): boolean {
    if (offset + len > this.maxBytes) len = this.maxBytes - offset;
    if (len <= 0) return false;
    const i = this.ranges.insert(offset, offset + len);
    if (i < 0) return false;
    this.store(offset, src, srcOff, len);
    this.latest = i;
    return true;
  }

  /** RCV.NXT moved forward by `n`: shift every range and drop what is now behind it. */
  advance(n: number): void {
    if (this.finOffset >= 0) this.finOffset = Math.max(0, this.finOffset - n);
    if (this.ranges.count === 0) return;
    const cap = this.ring!.length;
    this.base = (this.base + n) % cap;
    this.latest -= this.ranges.shift(n);
    if (this.ranges.count === 0) {
      this.base = 0;
      this.latest = -1;
    }
  }

  /** Bytes available in order right at RCV.NXT (0 while the first hole is open). */
  contiguous(): number {
    const r = this.ranges;
    return r.count > 0 && r.start(0) === 0 ? r.end(0) : 0;
  }

  /** The ring holding queued bytes (valid while {@link contiguous} > 0). */
  get buffer(): Uint8Array {
    return this.ring!;
  }

  /** Where RCV.NXT's byte sits in {@link buffer}; `min(contiguous, buffer.length - headOffset)` bytes are linear there. */
  get headOffset(): number {
    return this.base;
  }

  /**
   * Writes up to `max` SACK blocks (RFC 2018 §3) as [left, right) sequence pairs into `out`,
   * the range holding the latest segment first (RFC 2018 §4), then the others in order.
   */
  sackBlocks(rcvNxt: number, out: Uint32Array, max: number): number {
    const r = this.ranges;
    let n = 0;
    if (this.latest >= 0 && this.latest < r.count) {
      out[0] = (rcvNxt + r.start(this.latest)) >>> 0;
      out[1] = (rcvNxt + r.end(this.latest)) >>> 0;
      n = 1;
    }
    for (let k = 0; k < r.count && n < max; k++) {
      if (k === this.latest) continue;
      out[2 * n] = (rcvNxt + r.start(k)) >>> 0;
      out[2 * n + 1] = (rcvNxt + r.end(k)) >>> 0;
      n++;
    }
    return n;
  }

  /** Bytes held (for stats and tests). */
  get bytesHeld(): number {
    return this.ranges.covered;
  }

  /** Forgets everything. */
  clear(): void {
    this.ranges.clear();
    this.base = 0;
    this.latest = -1;
    this.finOffset = -1;
  }

  /** Forgets everything and gives the ring back to its pool (the connection is over). */
  release(): void {
    this.clear();
    const r = this.ring;
    this.ring = undefined;
    if (r !== undefined) this.pool.release(r);
  }

  private store(offset: number, src: Uint8Array, srcOff: number, len: number): void {
    const need = offset + len;
    if (this.ring === undefined) {
      let cap = INITIAL_RING;
      while (cap < need) cap *= 2;
      this.ring = this.pool.acquire(Math.min(cap, Math.max(need, this.maxBytes)));
      this.base = 0;
    } else if (need > this.ring.length) {
      let cap = this.ring.length;
      while (cap < need) cap *= 2;
      cap = Math.min(cap, Math.max(need, this.maxBytes));
      const nr = this.pool.acquire(cap);
      const old = this.ring;
      const first = old.length - this.base;
      nr.set(old.subarray(this.base), 0);
      nr.set(old.subarray(0, this.base), first);
      this.ring = nr;
      this.base = 0;
      this.pool.release(old);
    }
    const ring = this.ring;
    const cap = ring.length;
    let p = this.base + offset;
    if (p >= cap) p -= cap;
    const first = Math.min(len, cap - p);
    ring.set(src.subarray(srcOff, srcOff + first), p);
    if (first < len) ring.set(src.subarray(srcOff + first, srcOff + len), 0);
  }
}
