/**
 * Reference Internet checksum (RFC 1071), written to be obviously correct rather than fast:
 * one 16-bit big-endian word at a time, folding the end-around carry after every addition, on a
 * copied array. The optimised `src/wire/checksum.ts` is checked against it.
 * @module
 */

/** One's-complement 16-bit addition with end-around carry (RFC 1071 §1). */
export function onesAdd(a: number, b: number): number {
  const s = a + b;
  return s > 0xffff ? s - 0xffff : s;
}

/**
 * Folded one's-complement sum of `bytes` taken as big-endian 16-bit words, an odd last byte
 * padded with a zero byte (RFC 1071 §4.1), starting from the already-folded `initial`.
 * The result is in [0, 0xffff]; it is 0 only when `initial` is 0 and every byte is zero.
 */
export function refSum(bytes: ArrayLike<number>, initial = 0): number {
  const a = Array.from(bytes);
  if (a.length % 2 === 1) a.push(0);
  let s = initial;
  for (let i = 0; i < a.length; i += 2) s = onesAdd(s, a[i]! * 256 + a[i + 1]!);
  return s;
}

/** Folds any non-negative integer sum to 16 bits the slow way (repeated end-around carry). */
export function refFold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value for `bytes` (with the field itself zeroed): the complement of the sum. */
export function refChecksum(bytes: ArrayLike<number>, initial = 0): number {
  return 0xffff - refSum(bytes, initial);
}

/**
 * Whether data whose checksum field is filled in verifies: its sum is all ones, "-0"
 * (RFC 1071 §1: "If the result is all 1 bits (-0 in 1's complement arithmetic), the check
 * succeeds"). An all-zero message sums to +0 and does not verify.
 */
export function refVerifies(bytes: ArrayLike<number>, initial = 0): boolean {
  return refSum(bytes, initial) === 0xffff;
}

/** Folded sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1) built as 12 real bytes. */
export function refPseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  const p = new Uint8Array(12);
  const v = new DataView(p.buffer);
  v.setUint32(0, src >>> 0);
  v.setUint32(4, dst >>> 0);
  p[8] = 0;
  p[9] = protocol;
  v.setUint16(10, length);
  return refSum(p);
}
