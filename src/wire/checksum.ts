/**
 * The Internet checksum (RFC 1071): a one's-complement sum of 16-bit big-endian words. Sums are
 * kept unfolded in a double (exact far beyond any frame size) and folded once at the end. The
 * pseudo-header is added as integers, never as a concatenated buffer (RFC 9293 §3.1, RFC 768).
 * @module
 */

/**
 * Adds the bytes `b[off, off+len)` as big-endian 16-bit words to `sum` (an odd trailing byte is
 * padded with zero, RFC 1071 §4.1). Returns the unfolded sum.
 */
export function sumBytes(b: Uint8Array, off: number, len: number, sum = 0): number {
  let i = off;
  const end = off + len;
  const end8 = off + (len & ~7);
  // Unrolled by four words: the per-frame cost is dominated by this loop for large segments.
  while (i < end8) {
    sum += ((b[i]! << 8) | b[i + 1]!) + ((b[i + 2]! << 8) | b[i + 3]!) + ((b[i + 4]! << 8) | b[i + 5]!) + ((b[i + 6]! << 8) | b[i + 7]!);
    i += 8;
  }
  while (i + 1 < end) {
    sum += (b[i]! << 8) | b[i + 1]!;
    i += 2;
  }
  if (i < end) sum += b[i]! << 8;
  return sum;
}

/** Folds an unfolded sum to 16 bits with end-around carry. */
export function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for data whose unfolded sum is `sum`: the complement of the fold. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Unfolded sum of the IPv4 pseudo-header for TCP/UDP: source, destination, protocol, length. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** Checksum of `b[off, off+len)` alone (IPv4 header, ICMP). */
export function checksum(b: Uint8Array, off: number, len: number): number {
  return finish(sumBytes(b, off, len));
}

/**
 * Incremental update of a checksum when one 16-bit word changes from `oldWord` to `newWord`
 * (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')), e.g. after rewriting an address or a TTL.
 */
export function updateChecksum16(check: number, oldWord: number, newWord: number): number {
  return ~fold((~check & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** Incremental update for a 32-bit field (an IPv4 address) changing from `oldV` to `newV`. */
export function updateChecksum32(check: number, oldV: number, newV: number): number {
  const c = updateChecksum16(check, oldV >>> 16, newV >>> 16);
  return updateChecksum16(c, oldV & 0xffff, newV & 0xffff);
}
