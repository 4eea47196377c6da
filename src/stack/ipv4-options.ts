/**
 * IPv4 options as fragmentation sees them (RFC 791 §3.1 "Options", §3.2 "Fragmentation"): the
 * first fragment keeps the whole header; every later fragment carries only the options whose
 * *copied* flag (the high bit of the option type) is set, such as Loose/Strict Source Route and
 * Security, padded with End-of-Option-List to a multiple of 4 bytes. Record Route and Timestamp
 * are not copied, and neither is No-Operation (type 1, copied flag clear).
 * @module
 */
import { IPV4_HLEN } from '../wire/ipv4.js';

/** The copied flag of an option type octet (RFC 791 §3.1: "copied flag", bit 0). */
export const OPTION_COPIED = 0x80;
/** End of Option List (RFC 791 §3.1, type 0). */
export const OPTION_EOL = 0;
/** No Operation (RFC 791 §3.1, type 1). */
export const OPTION_NOP = 1;

/**
 * Writes into `out[0, …)` the header of a non-first fragment of the packet whose header is
 * `b[off, off+hl)`: the 20 fixed bytes, then the copied options, padded with EOL. Sets the IHL of
 * the new header and returns its length. Total length, flags, offset and checksum are the
 * caller's to set. A malformed option (length < 2 or past the header) ends the walk there: what
 * follows cannot be trusted, and leaving it out is always safe for a non-first fragment.
 */
export function writeLaterFragmentHeader(b: Uint8Array, off: number, hl: number, out: Uint8Array): number {
  out.set(b.subarray(off, off + IPV4_HLEN), 0);
  let n = IPV4_HLEN;
  for (let i = off + IPV4_HLEN, end = off + hl; i < end; ) {
    const type = b[i]!;
    if (type === OPTION_EOL) break;
    if (type === OPTION_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) break;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) break;
    if ((type & OPTION_COPIED) !== 0) {
      out.set(b.subarray(i, i + len), n);
      n += len;
    }
    i += len;
  }
  while ((n & 3) !== 0) out[n++] = OPTION_EOL;
  out[0] = 0x40 | (n >>> 2);
  return n;
}
