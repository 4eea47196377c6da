/**
 * The sender's record of what the peer reported holding beyond SND.UNA (RFC 2018 §3 SACK blocks,
 * RFC 6675 §3 scoreboard). Ranges are offsets from SND.UNA, sorted and merged, so an ACK shifts
 * them instead of rewriting sequence numbers. Loss recovery walks the holes between them.
 * @module
 */

const MAX_RANGES = 16;
/** Range arrays of a scoreboard that never saw a SACK block (most connections). */
const NO_RANGES = new Float64Array(0);

/** SACKed ranges of one connection's send sequence space. */
export class SackScoreboard {
  // Allocated on the first block: typed arrays this size live outside the heap and cost a
  // finalizer each, which showed up as GC time when connections churn.
  private starts = NO_RANGES;
  private ends = NO_RANGES;
  /** Number of disjoint ranges. */
  count = 0;
  /** Total SACKed bytes. */
  sackedBytes = 0;

  /** Records that `[start, end)` (offsets from SND.UNA) reached the peer. */
  add(start: number, end: number): void {
    if (start < 0) start = 0;
    if (end <= start) return;
    if (this.starts.length === 0) {
      this.starts = new Float64Array(MAX_RANGES);
      this.ends = new Float64Array(MAX_RANGES);
    }
    let i = 0;
    while (i < this.count && this.ends[i]! < start) i++;
    let j = i;
    while (j < this.count && this.starts[j]! <= end) j++;
    if (j === i && this.count >= MAX_RANGES) return; // full: the oldest information wins
    const ns = j > i ? Math.min(start, this.starts[i]!) : start;
    const ne = j > i ? Math.max(end, this.ends[j - 1]!) : end;
    for (let k = i; k < j; k++) this.sackedBytes -= this.ends[k]! - this.starts[k]!;
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
    this.sackedBytes += ne - ns;
  }

  /** SND.UNA advanced by `n`. */
  advance(n: number): void {
    if (this.count === 0 || n <= 0) return;
    let drop = 0;
    this.sackedBytes = 0;
    for (let k = 0; k < this.count; k++) {
      const s = Math.max(0, this.starts[k]! - n);
      const e = this.ends[k]! - n;
      this.starts[k] = s;
      this.ends[k] = e;
      if (e <= 0) drop++;
      else this.sackedBytes += e - s;
    }
    if (drop > 0) {
      for (let k = drop; k < this.count; k++) {
        this.starts[k - drop] = this.starts[k]!;
        this.ends[k - drop] = this.ends[k]!;
      }
      this.count -= drop;
    }
  }

  /** Forgets everything (after an RTO, RFC 2018 §8: the receiver may have reneged). */
  clear(): void {
    this.count = 0;
    this.sackedBytes = 0;
  }

  /** End offset of the highest SACKed byte, 0 when none. */
  get highest(): number {
    return this.count > 0 ? this.ends[this.count - 1]! : 0;
  }

  /** The first offset ≥ `off` that is not SACKed. */
  nextUnsacked(off: number): number {
    for (let k = 0; k < this.count; k++) {
      if (this.starts[k]! > off) break;
      if (this.ends[k]! > off) return this.ends[k]!;
    }
    return off;
  }

  /** Where the SACKed range after `off` begins (`Infinity` when none): a hole ends there. */
  nextSackedStart(off: number): number {
    for (let k = 0; k < this.count; k++) if (this.starts[k]! > off) return this.starts[k]!;
    return Infinity;
  }

  /** SACKed bytes in [0, off). */
  sackedBelow(off: number): number {
    let b = 0;
    for (let k = 0; k < this.count; k++) {
      if (this.starts[k]! >= off) break;
      b += Math.min(off, this.ends[k]!) - this.starts[k]!;
    }
    return b;
  }
}
