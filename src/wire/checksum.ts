/**
 * The Internet checksum (RFC 1071): a one's-complement sum of 16-bit big-endian words. Sums are
 * kept unfolded in a double (exact far beyond any frame size) and folded once at the end. The
 * pseudo-header is added as integers, never as a concatenated buffer (RFC 9293 §3.1, RFC 768).
 * @module
 */

/**
 * Byte ranges shorter than this are summed a byte pair at a time: below it, creating the
 * `Uint32Array` view costs more than the word loop saves (measured break-even ~150-200 bytes).
 */
const WORD_PATH_MIN = 192;
/** Words per block of the word loop; each block's sum stays below 2^53, so it is exact. */
const BLOCK_WORDS = 1 << 20;
/** The word loop reads host-order words; it is written for little-endian hosts (all Node targets). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/*
 * Word views over whole ArrayBuffers, for the two buffers seen last. Building a `Uint32Array` for
 * every call cost about as much as summing a 1500-byte frame; the frame path alternates between
 * two buffers (a NIC's read chunk when verifying, its output batch when sending), so two entries
 * make nearly every call a hit. Holding the last two buffers keeps at most their memory alive.
 */
let viewBuf0: ArrayBufferLike | undefined;
let view0: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let viewBuf1: ArrayBufferLike | undefined;
let view1: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** A `Uint32Array` over all of `ab` (its length rounded down to whole words). */
function wordView(ab: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  if (ab === viewBuf0) return view0;
  const v = ab === viewBuf1 ? view1 : new Uint32Array(ab, 0, ab.byteLength >>> 2);
  viewBuf1 = viewBuf0;
  view1 = view0;
  viewBuf0 = ab;
  view0 = v;
  return v;
}

/**
 * Adds the bytes `b[off, off+len)` as big-endian 16-bit words to `sum` (an odd trailing byte is
 * padded with zero, RFC 1071 §4.1). Returns an unfolded sum: compare or finish it through
 * {@link fold}, {@link finish} or `% 0xffff`, which give the word-by-word result exactly. (The
 * raw number may differ from a plain word-by-word total by a multiple of 0xffff; it is zero only
 * when `sum` is zero and every byte is zero, so fold() never confuses +0 and -0.)
 *
 * Speed (RFC 1071 §2): long ranges are read as aligned little-endian 32-bit words through a
 * `Uint32Array` over the same memory. Modulo 0xffff a 32-bit word is the sum of its two 16-bit
 * halves (§2(C), 2^16 ≡ 1), and the one's-complement sum is byte-order independent (§2(B)):
 * summing little-endian words gives the byte-swapped sum when the range starts at an even
 * absolute address, and the sum itself when it starts at an odd one (then every data word
 * straddles two host words the other way round). Unaligned head and tail bytes are added with the
 * same per-address weight (1 at even addresses, 256 at odd ones), so any offset and length work.
 * Measured with `test/bench/wire-checksum.bench.ts` (Node 20.20, AMD EPYC, shared 2-vCPU VM under
 * load, median MB/s): 1500 bytes 1668 -> 5978 (3.6x; odd offset 1578 -> 6161), 65535 bytes
 * 1497 -> 9075 (6.1x; odd offset 1504 -> 9096), before = the byte-pair loop below.
 */
export function sumBytes(b: Uint8Array, off: number, len: number, sum = 0): number {
  if (len < WORD_PATH_MIN || !LITTLE_ENDIAN || off < 0 || off + len > b.length) return sumBytePairs(b, off, len, sum);
  const base = b.byteOffset;
  const end = off + len;
  let i = off;
  // `acc` weighs each byte 1 at an even absolute address and 256 at an odd one, like a
  // little-endian word read does.
  let acc = 0;
  while (((base + i) & 3) !== 0) {
    acc += ((base + i) & 1) === 0 ? b[i]! : b[i]! << 8;
    i++;
  }
  const words = (end - i) >>> 2;
  const w = wordView(b.buffer);
  let k = (base + i) >>> 2;
  const kEnd = k + words;
  // A view made before a (resizable) buffer grew does not reach: take the plain loop.
  if (kEnd > w.length) return sumBytePairs(b, off, len, sum);
  while (k < kEnd) {
    const stop = Math.min(kEnd, k + BLOCK_WORDS);
    const stop8 = stop - ((stop - k) & 7);
    // Two accumulators let the CPU overlap the additions.
    let a0 = 0;
    let a1 = 0;
    while (k < stop8) {
      a0 += w[k]! + w[k + 1]! + w[k + 2]! + w[k + 3]!;
      a1 += w[k + 4]! + w[k + 5]! + w[k + 6]! + w[k + 7]!;
      k += 8;
    }
    while (k < stop) a0 += w[k++]!;
    acc = fold(acc + a0 + a1);
  }
  i += words * 4;
  while (i < end) {
    acc += ((base + i) & 1) === 0 ? b[i]! : b[i]! << 8;
    i++;
  }
  const f = fold(acc);
  // Even start: data words are big-endian pairs (even, odd) but were weighed (1, 256): swap.
  return sum + (((base + off) & 1) === 0 ? ((f & 0xff) << 8) | (f >>> 8) : f);
}

/** The plain loop: big-endian byte pairs, unrolled by four words. */
function sumBytePairs(b: Uint8Array, off: number, len: number, sum: number): number {
  let i = off;
  const end = off + len;
  const end8 = off + (len & ~7);
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
