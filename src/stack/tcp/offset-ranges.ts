/**
 * Sorted, merged, disjoint [start, end) ranges of byte offsets from a moving origin (RCV.NXT for
 * the out-of-order queue, SND.UNA for the SACK scoreboard), at most `max` of them. The origin
 * moving forward shifts the ranges instead of rewriting sequence numbers. The two arrays are
 * allocated on the first insert: typed arrays live outside the heap and cost a finalizer each,
 * and most connections never see a hole or a SACK block.
 * @module
 */

/** Range arrays of a set that never held anything. */
const NO_RANGES = new Float64Array(0);

/** A bounded set of disjoint offset ranges, kept sorted. */
export class OffsetRanges {
  private starts = NO_RANGES;
  private ends = NO_RANGES;
  /** Number of disjoint ranges. */
  count = 0;
  /** Bytes covered by all ranges. */
  covered = 0;

  constructor(
    /** Most ranges held; a range that would need one more is refused. */
    readonly max: number,
  ) {}

  /** Start of range `k` (0 ≤ k < count). */
  start(k: number): number {
    return this.starts[k]!;
  }

  /** End (exclusive) of range `k` (0 ≤ k < count). */
  end(k: number): number {
    return this.ends[k]!;
  }

  /**
   * Adds [s, e) (s < e), merging every range it touches. Returns the index of the range that now
   * holds it, or -1 (nothing changed) when it touches none and the set is full.
   */
  insert(s: number, e: number): number {
    // i = first range ending at or after s, j = first range starting after e: ranges[i, j) merge.
    let i = 0;
    while (i < this.count && this.ends[i]! < s) i++;
    let j = i;
    while (j < this.count && this.starts[j]! <= e) j++;
    if (j === i && this.count >= this.max) return -1;
    if (this.starts.length === 0) {
      this.starts = new Float64Array(this.max);
      this.ends = new Float64Array(this.max);
    }
    const ns = j > i ? Math.min(s, this.starts[i]!) : s;
    const ne = j > i ? Math.max(e, this.ends[j - 1]!) : e;
    for (let k = i; k < j; k++) this.covered -= this.ends[k]! - this.starts[k]!;
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
    this.covered += ne - ns;
    return i;
  }

  /** The origin moved forward by `n` (> 0): shifts every range, drops those now behind it. Returns how many were dropped. */
  shift(n: number): number {
    let drop = 0;
    this.covered = 0;
    for (let k = 0; k < this.count; k++) {
      const s = Math.max(0, this.starts[k]! - n);
      const e = this.ends[k]! - n;
      this.starts[k] = s;
      this.ends[k] = e;
      if (e <= 0) drop++;
      else this.covered += e - s;
    }
    if (drop > 0) {
      for (let k = drop; k < this.count; k++) {
        this.starts[k - drop] = this.starts[k]!;
        this.ends[k - drop] = this.ends[k]!;
      }
      this.count -= drop;
    }
    return drop;
  }

  /** Forgets every range (the arrays are kept). */
  clear(): void {
    this.count = 0;
    this.covered = 0;
  }
}
