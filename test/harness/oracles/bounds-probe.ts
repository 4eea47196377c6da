/**
 * Helpers for proving that a parser stays inside `[off, off+len)`:
 * - {@link embed} places a frame inside a larger buffer filled with a sentinel byte, so a test can
 *   run the same frame with two sentinels and require identical results (catches every read,
 *   including word-sized ones through other views of the same memory);
 * - {@link probe} wraps a `Uint8Array` in a Proxy that records every indexed read, so a test can
 *   name the exact out-of-range index a byte-wise accessor touched.
 * @module
 */

/** Copies `frame` into a new buffer of `before + frame.length + after` bytes filled with `sentinel`. */
export function embed(frame: Uint8Array, before: number, after: number, sentinel: number): Uint8Array {
  const b = new Uint8Array(before + frame.length + after).fill(sentinel);
  b.set(frame, before);
  return b;
}

/** A recording view: `reads` collects every integer index read through `view`. */
export interface Probe {
  readonly view: Uint8Array;
  readonly reads: number[];
}

/**
 * Wraps `b` so indexed reads are recorded. Non-index properties (`length`, `buffer`, `byteOffset`,
 * `subarray`…) are served from the real array, with methods bound to it, so code that takes
 * other views of the memory still works (those reads are covered by {@link embed} instead).
 */
export function probe(b: Uint8Array): Probe {
  const reads: number[] = [];
  const view = new Proxy(b, {
    get(target, prop) {
      if (typeof prop === 'string' && /^-?(?:0|[1-9]\d*)$/.test(prop)) {
        const i = Number(prop);
        reads.push(i);
        return target[i];
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { view, reads };
}

/** Indices in `reads` outside `[lo, hi)`, deduplicated, for an assertion message. */
export function outside(reads: readonly number[], lo: number, hi: number): number[] {
  return [...new Set(reads.filter((i) => i < lo || i >= hi))].sort((a, b) => a - b);
}
