/**
 * The sender's record of what the peer reported holding beyond SND.UNA (RFC 2018 §3 SACK blocks,
 * RFC 6675 §3 scoreboard). Ranges are offsets from SND.UNA ({@link OffsetRanges}), so an ACK
 * shifts them instead of rewriting sequence numbers. Loss recovery walks the holes between them.
 * @module
 */
import { OffsetRanges } from './offset-ranges.js';

const MAX_RANGES = 16;

/** SACKed ranges of one connection's send sequence space. */
export class SackScoreboard {
  private readonly ranges = new OffsetRanges(MAX_RANGES);

  /** Number of disjoint ranges. */
  get count(): number {
    return this.ranges.count;
  }

  /** Total SACKed bytes. */
  get sackedBytes(): number {
    return this.ranges.covered;
  }

  /** Records that `[start, end)` (offsets from SND.UNA) reached the peer. When full, the oldest information wins. */
  add(start: number, end: number): void {
    if (start < 0) start = 0;
    if (end <= start) return;
    this.ranges.insert(start, end);
  }

  /** SND.UNA advanced by `n`. */
  advance(n: number): void {
    if (this.ranges.count === 0 || n <= 0) return;
    this.ranges.shift(n);
  }

  /** Forgets everything (after an RTO, RFC 2018 §8: the receiver may have reneged). */
  clear(): void {
    this.ranges.clear();
  }

  /** End offset of the highest SACKed byte, 0 when none. */
  get highest(): number {
    const r = this.ranges;
    return r.count > 0 ? r.end(r.count - 1) : 0;
  }

  /** The first offset ≥ `off` that is not SACKed. */
  nextUnsacked(off: number): number {
    const r = this.ranges;
    for (let k = 0; k < r.count; k++) {
      if (r.start(k) > off) break;
      if (r.end(k) > off) return r.end(k);
    }
    return off;
  }

  /** Where the SACKed range after `off` begins (`Infinity` when none): a hole ends there. */
  nextSackedStart(off: number): number {
    const r = this.ranges;
    for (let k = 0; k < r.count; k++) if (r.start(k) > off) return r.start(k);
    return Infinity;
  }

  /** SACKed bytes in [0, off). */
  sackedBelow(off: number): number {
    const r = this.ranges;
    let b = 0;
    for (let k = 0; k < r.count; k++) {
      if (r.start(k) >= off) break;
      b += Math.min(off, r.end(k)) - r.start(k);
    }
    return b;
  }
}
