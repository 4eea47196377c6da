/**
 * The hole descriptor list of RFC 815 ("IP Datagram Reassembly Algorithms"): which byte ranges of
 * a datagram being reassembled are still missing. A new datagram has one hole, from 0 to
 * "infinity"; each fragment removes the part of the holes it covers; the datagram is complete
 * when no hole is left. The list is kept sorted and disjoint in one flat number array
 * (`[first0, end0, first1, end1, …]`, ends exclusive), searched by bisection, so a datagram cut
 * into thousands of 8-byte fragments arriving in any order stays cheap.
 *
 * Besides RFC 815's fill step, the list answers the question its algorithm never asks: which
 * parts of a new fragment were *already* received. The reassembler compares those bytes to detect
 * inconsistent overlaps (RFC 5722-style, see `ipv4-reassembly.ts`).
 * @module
 */

/** The end of the open hole a datagram has until its last fragment (MF = 0) arrives. */
export const OPEN_END = Number.POSITIVE_INFINITY;

/** The missing ranges of one datagram (RFC 815 §3). Reused across datagrams via {@link reset}. */
export class HoleList {
  private h: number[] = [0, OPEN_END];

  /** Back to "nothing received": one hole [0, ∞). */
  reset(): void {
    this.h.length = 0;
    this.h.push(0, OPEN_END);
  }

  /** Number of holes. */
  get count(): number {
    return this.h.length >>> 1;
  }

  /** Whether every byte up to the datagram's end has arrived (RFC 815 §3 step 8). */
  isEmpty(): boolean {
    return this.h.length === 0;
  }

  /** The holes as `[first, end)` pairs (for tests and debugging). */
  toArray(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.h.length; i += 2) out.push([this.h[i]!, this.h[i + 1]!]);
    return out;
  }

  /** Whether any byte of `[first, end)` is still missing. */
  anyMissing(first: number, end: number): boolean {
    const i = this.firstHoleEndingAfter(first);
    return i < this.h.length && this.h[i]! < end;
  }

  /**
   * Calls `visit(first, end)` for each part of `[first, end)` that is already filled (lies in no
   * hole), left to right. Stops early, returning false, when `visit` returns false.
   */
  forEachFilled(first: number, end: number, visit: (first: number, end: number) => boolean): boolean {
    const h = this.h;
    let pos = first;
    for (let i = this.firstHoleEndingAfter(first); i < h.length && pos < end; i += 2) {
      const hs = h[i]!;
      if (hs >= end) break;
      if (hs > pos && !visit(pos, hs)) return false;
      pos = Math.max(pos, h[i + 1]!);
    }
    if (pos < end) return visit(pos, end);
    return true;
  }

  /**
   * Removes `[first, end)` from the holes (RFC 815 §3 steps 1–6). When `more` is false this was
   * the last fragment: the datagram ends at `end`, so nothing at or beyond it is missing any more
   * (step 6 creates no trailing hole; holes past `end` are cut too, which only matters for input
   * the reassembler has already found inconsistent).
   */
  fill(first: number, end: number, more: boolean): void {
    const h = this.h;
    let i = this.firstHoleEndingAfter(first);
    while (i < h.length && h[i]! < end) {
      const hs = h[i]!;
      const he = h[i + 1]!;
      // Step 4: the hole is replaced by what is left of it on either side of the fragment.
      const left = first > hs;
      const right = end < he;
      if (left && right) {
        h.splice(i, 2, hs, first, end, he);
        i += 4;
      } else if (left) {
        h[i + 1] = first;
        i += 2;
      } else if (right) {
        h[i] = end;
        i += 2;
      } else {
        h.splice(i, 2);
      }
    }
    if (!more) this.truncate(end);
  }

  /** Drops every missing byte at or beyond `total`: the datagram's data ends there. */
  truncate(total: number): void {
    const h = this.h;
    let n = h.length;
    while (n > 0 && h[n - 2]! >= total) n -= 2;
    h.length = n;
    if (n > 0 && h[n - 1]! > total) h[n - 1] = total;
  }

  /** Index of the first hole whose end is after `pos` (bisection over the sorted holes). */
  private firstHoleEndingAfter(pos: number): number {
    const h = this.h;
    let lo = 0;
    let hi = h.length >>> 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (h[2 * mid + 1]! <= pos) lo = mid + 1;
      else hi = mid;
    }
    return 2 * lo;
  }
}
