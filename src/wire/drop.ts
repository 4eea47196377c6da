/**
 * Why a frame was dropped. Hot paths return these numbers instead of throwing or allocating;
 * the caller bumps `counters[code]` and the counts surface in `stats()` and `/stats`.
 * @module
 */

/** Drop reasons; `0` means "not dropped". */
export const Drop = {
  None: 0,
  /** Shorter than its headers say. */
  Truncated: 1,
  /** IP version is not 4 (IPv6 frames land here too). */
  BadVersion: 2,
  /** IHL or TCP data offset out of range. */
  BadHeaderLength: 3,
  /** A length field disagrees with the bytes present. */
  BadLength: 4,
  BadChecksum: 5,
  /** Not addressed to anything we serve. */
  NotForUs: 6,
  /** Ethertype or IP protocol we do not handle. */
  Unsupported: 7,
  /** Refused by the egress policy. */
  Policy: 8,
  /** The destination port's transmit queue is over its high-water mark. */
  TxFull: 9,
  /** Larger than the port's negotiated maximum. */
  TooBig: 10,
  /** A limit (flows, rate) was reached. */
  Limit: 11,
  /** An IPv4 fragment we do not reassemble. */
  Fragment: 12,
  /** Dropped by network conditioning (loss, partition). */
  Conditioned: 13,
  /** A source address that is not allowed (spoofing, martian). */
  BadSource: 14,
} as const;

/** One of the {@link Drop} codes. */
export type DropCode = (typeof Drop)[keyof typeof Drop];

/** Number of distinct drop codes, for sizing counter arrays. */
export const DROP_CODES = 15;

/** Names of the drop codes, index = code, for stats output. */
export const dropNames: readonly string[] = (() => {
  const names: string[] = [];
  for (const [k, v] of Object.entries(Drop)) names[v] = k.charAt(0).toLowerCase() + k.slice(1);
  return names;
})();

/** Turns a counter array into `{ name: count }`, leaving out zeros and `none`. */
export function dropCountsToObject(counts: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 1; i < counts.length; i++) if (counts[i]! > 0) out[dropNames[i] ?? `code${i}`] = counts[i]!;
  return out;
}
