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

const INITIAL_RING = 64 * 1024;
/** Range arrays of a queue that never held anything. */
const NO_RANGES = new Float64Array(0);

/** Out-of-order data of one connection. */
export class Reassembly {
  private ring: Buffer | undefined;
  private base = 0;
  private starts = NO_RANGES;
  private ends = NO_RANGES;
  /** Number of disjoint ranges held. */
  count = 0;
  /** Index of the range that took the most recent segment (first SACK block, RFC 2018 §4). */
  private latest = -1;
  /** Offset of a FIN that arrived beyond a hole, or -1. */
  finOffset = -1;

  constructor(
    /** Largest offset (exclusive) that may be held: the receive window bound. */
    readonly maxBytes: number,
    readonly maxRanges: number,
    private readonly pool: BufferPool = sharedBufferPool,
  ) {}

  /** Whether anything is queued. */
  get isEmpty(): boolean {
    return this.count === 0;
  }

  /**
   * Copies `len` bytes of `src[srcOff…]` that belong `offset` (> 0) bytes after RCV.NXT.
   * Returns false when the segment was dropped (too many ranges, or entirely beyond the bound).
   */
  insert(offset: number, src: Uint8Array, srcOff: number, len: number): boolean {
    if (offset + len > this.maxBytes) len = this.maxBytes - offset;
    if (len <= 0) return false;
    const s = offset;
    const e = offset + len;
    // Where the new range lands: i = first range ending at or after s, j = last range starting at or before e.
    let i = 0;
    while (i < this.count && this.ends[i]! < s) i++;
    let j = i;
    while (j < this.count && this.starts[j]! <= e) j++;
    // ranges[i, j) touch [s, e) and merge with it; none touching means one more range.
    if (j === i && this.count >= this.maxRanges) return false;
    if (this.starts.length === 0) {
      this.starts = new Float64Array(this.maxRanges);
      this.ends = new Float64Array(this.maxRanges);
    }
    this.store(offset, src, srcOff, len);
    const ns = j > i ? Math.min(s, this.starts[i]!) : s;
    const ne = j > i ? Math.max(e, this.ends[j - 1]!) : e;
    const removed = j - i;
    if (removed === 0) {
      for (let k = this.count; k > i; k--) {
        this.starts[k] = this.starts[k - 1]!;
        this.ends[k] = this.ends[k - 1]!;
      }
      this.count++;
    } else if (removed > 1) {
      for (let k = j; k < this.count; k++) {
        this.starts[k - removed + 1] = this.starts[k]!;
        this.ends[k - removed + 1] = this.ends[k]!;
      }
      this.count -= removed - 1;
    }
    this.starts[i] = ns;
    this.ends[i] = ne;
    this.latest = i;
    return true;
  }

  /** RCV.NXT moved forward by `n`: shift every range and drop what is now behind it. */
  advance(n: number): void {
    if (this.finOffset >= 0) this.finOffset = Math.max(0, this.finOffset - n);
    if (this.count === 0) return;
    const cap = this.ring!.length;
    this.base = (this.base + n) % cap;
    let drop = 0;
    for (let k = 0; k < this.count; k++) {
      this.starts[k] = Math.max(0, this.starts[k]! - n);
      this.ends[k] = this.ends[k]! - n;
      if (this.ends[k]! <= 0) drop++;
    }
    if (drop > 0) {
      for (let k = drop; k < this.count; k++) {
        this.starts[k - drop] = this.starts[k]!;
        this.ends[k - drop] = this.ends[k]!;
      }
      this.count -= drop;
      this.latest = this.latest - drop;
    }
    if (this.count === 0) {
      this.base = 0;
      this.latest = -1;
    }
  }

  /** Bytes available in order right at RCV.NXT (0 while the first hole is open). */
  contiguous(): number {
    return this.count > 0 && this.starts[0] === 0 ? this.ends[0]! : 0;
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
    let n = 0;
    if (this.latest >= 0 && this.latest < this.count) {
      out[0] = (rcvNxt + this.starts[this.latest]!) >>> 0;
      out[1] = (rcvNxt + this.ends[this.latest]!) >>> 0;
      n = 1;
    }
    for (let k = 0; k < this.count && n < max; k++) {
      if (k === this.latest) continue;
      out[2 * n] = (rcvNxt + this.starts[k]!) >>> 0;
      out[2 * n + 1] = (rcvNxt + this.ends[k]!) >>> 0;
      n++;
    }
    return n;
  }

  /** Bytes held (for stats and tests). */
  get bytesHeld(): number {
    let b = 0;
    for (let k = 0; k < this.count; k++) b += this.ends[k]! - this.starts[k]!;
    return b;
  }

  /** Forgets everything. */
  clear(): void {
    this.count = 0;
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
