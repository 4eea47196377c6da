/**
 * ICMPv4 (RFC 792): echo and destination-unreachable, the messages the gateway answers or
 * generates. Offsets are relative to the ICMP header.
 * @module
 */
import { setU16be, u16be } from './bytes.js';
import { checksum, fold, sumBytes } from './checksum.js';
import { Drop, type DropCode } from './drop.js';

/** Header length: type, code, checksum, 4 bytes rest-of-header (RFC 792). */
export const ICMP_HLEN = 8;
/** Message types. */
export const IcmpType = { EchoReply: 0, DestUnreachable: 3, EchoRequest: 8, TimeExceeded: 11 } as const;
/** Destination-unreachable codes. */
export const IcmpUnreach = { Net: 0, Host: 1, Protocol: 2, Port: 3, FragNeeded: 4, AdminProhibited: 13 } as const;
/** How much of the offending datagram an error quotes: its IP header plus 8 bytes (RFC 792). */
export const ICMP_QUOTE_EXTRA = 8;

/** Checks length and checksum of an ICMP message of `len` bytes. */
export function checkIcmp(b: Uint8Array, off: number, len: number, verifyChecksum = true): DropCode {
  if (len < ICMP_HLEN) return Drop.Truncated;
  // All ones (-0) only: an all-zero message sums to +0 and fails, as in Linux (RFC 1071 §1).
  if (verifyChecksum && fold(sumBytes(b, off, len)) !== 0xffff) return Drop.BadChecksum;
  return Drop.None;
}

/** Message type: {@link IcmpType}. */
export const icmpType = (b: Uint8Array, off: number): number => b[off]!;
/** Message code, e.g. {@link IcmpUnreach}. */
export const icmpCode = (b: Uint8Array, off: number): number => b[off + 1]!;
/** Echo identifier (RFC 792 echo, rest-of-header bytes 0-1). */
export const icmpEchoId = (b: Uint8Array, off: number): number => u16be(b, off + 4);
/** Echo sequence number (rest-of-header bytes 2-3). */
export const icmpEchoSeq = (b: Uint8Array, off: number): number => u16be(b, off + 6);

/** Writes type/code/rest-of-header and the checksum over `len` bytes (payload already in place). */
export function writeIcmp(b: Uint8Array, off: number, len: number, type: number, code: number, rest: number): void {
  b[off] = type;
  b[off + 1] = code;
  b[off + 2] = 0;
  b[off + 3] = 0;
  setU16be(b, off + 4, rest >>> 16);
  setU16be(b, off + 6, rest & 0xffff);
  setU16be(b, off + 2, checksum(b, off, len));
}
