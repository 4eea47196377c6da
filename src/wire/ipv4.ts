/**
 * IPv4 header view (RFC 791). `checkIpv4` validates version, IHL, total length against the bytes
 * present (trailing link padding is allowed and ignored: senders pad short frames to 60 bytes),
 * and the header checksum. After it passes, every getter is in bounds.
 * Offsets are relative to the IP header.
 * @module
 */
import { setU16be, setU32be, u16be, u32be } from './bytes.js';
import { checksum, fold, sumBytes } from './checksum.js';
import { Drop, type DropCode } from './drop.js';

/** Minimum (and our emitted) header length. */
export const IPV4_HLEN = 20;
/** Protocol numbers. */
export const IpProto = { ICMP: 1, TCP: 6, UDP: 17 } as const;
/** Flag bits in the flags/fragment-offset word. */
export const IPV4_DF = 0x4000;
/** More Fragments flag bit (RFC 791 §3.1). */
export const IPV4_MF = 0x2000;
/** Default TTL of packets we originate (Linux's default). */
export const DEFAULT_TTL = 64;

/** Validates an IPv4 header in `b[off, off+len)`. */
export function checkIpv4(b: Uint8Array, off: number, len: number, verifyChecksum = true): DropCode {
  if (len < IPV4_HLEN) return Drop.Truncated;
  const vihl = b[off]!;
  if (vihl >>> 4 !== 4) return Drop.BadVersion;
  const hlen = (vihl & 15) * 4;
  if (hlen < IPV4_HLEN) return Drop.BadHeaderLength;
  if (hlen > len) return Drop.Truncated;
  const total = u16be(b, off + 2);
  if (total < hlen) return Drop.BadLength;
  if (total > len) return Drop.Truncated;
  // A correct header sums to all ones, -0 (RFC 1071 §1).
  if (verifyChecksum && fold(sumBytes(b, off, hlen)) !== 0xffff) return Drop.BadChecksum;
  return Drop.None;
}

/** Header length in bytes (IHL × 4). */
export const ipHeaderLength = (b: Uint8Array, off: number): number => (b[off]! & 15) * 4;
/** Total length: header + data, without link padding. */
export const ipTotalLength = (b: Uint8Array, off: number): number => u16be(b, off + 2);
/** Identification (groups fragments, RFC 791; RFC 6864). */
export const ipId = (b: Uint8Array, off: number): number => u16be(b, off + 4);
/** Flags (DF, MF) and fragment offset in 8-byte units, as one word. */
export const ipFlagsFrag = (b: Uint8Array, off: number): number => u16be(b, off + 6);
/** Time to live. */
export const ipTtl = (b: Uint8Array, off: number): number => b[off + 8]!;
/** Payload protocol: {@link IpProto}. */
export const ipProtocol = (b: Uint8Array, off: number): number => b[off + 9]!;
/** Header checksum field as sent. */
export const ipChecksum = (b: Uint8Array, off: number): number => u16be(b, off + 10);
/** Source address as a u32. */
export const ipSrc = (b: Uint8Array, off: number): number => u32be(b, off + 12);
/** Destination address as a u32. */
export const ipDst = (b: Uint8Array, off: number): number => u32be(b, off + 16);
/** Type of service / DSCP+ECN byte (RFC 2474, RFC 3168). */
export const ipTos = (b: Uint8Array, off: number): number => b[off + 1]!;
/** Whether this packet is a fragment (MF set or a non-zero offset). */
export const ipIsFragment = (b: Uint8Array, off: number): boolean => (u16be(b, off + 6) & 0x3fff) !== 0;
/** Whether Don't Fragment is set. */
export const ipDontFragment = (b: Uint8Array, off: number): boolean => (u16be(b, off + 6) & IPV4_DF) !== 0;
/** Fragment offset in bytes. */
export const ipFragOffset = (b: Uint8Array, off: number): number => (u16be(b, off + 6) & 0x1fff) * 8;
/** Whether More Fragments is set. */
export const ipMoreFragments = (b: Uint8Array, off: number): boolean => (u16be(b, off + 6) & IPV4_MF) !== 0;

/**
 * Writes a 20-byte IPv4 header with its checksum. `flagsFrag` defaults to DF, as every packet
 * we originate toward a guest fits the link MTU.
 */
export function writeIpv4(
  b: Uint8Array,
  off: number,
  totalLength: number,
  id: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
  flagsFrag: number = IPV4_DF,
): void {
  b[off] = 0x45;
  b[off + 1] = 0;
  setU16be(b, off + 2, totalLength);
  setU16be(b, off + 4, id);
  setU16be(b, off + 6, flagsFrag);
  b[off + 8] = ttl;
  b[off + 9] = protocol;
  b[off + 10] = 0;
  b[off + 11] = 0;
  setU32be(b, off + 12, src);
  setU32be(b, off + 16, dst);
  setU16be(b, off + 10, checksum(b, off, IPV4_HLEN));
}
