/**
 * UDP header view (RFC 768). `checkUdp` validates the length field against the IP payload and,
 * when present (non-zero), the checksum over the pseudo-header. Offsets relative to the UDP header.
 * @module
 */
import { setU16be, u16be } from './bytes.js';
import { finish, fold, pseudoHeaderSum, sumBytes } from './checksum.js';
import { Drop, type DropCode } from './drop.js';
import { IpProto } from './ipv4.js';

/** Header length (RFC 768). */
export const UDP_HLEN = 8;

/** Validates a UDP datagram occupying `ipPayloadLen` bytes of IP payload. */
export function checkUdp(b: Uint8Array, off: number, ipPayloadLen: number, src: number, dst: number, verifyChecksum = true): DropCode {
  if (ipPayloadLen < UDP_HLEN) return Drop.Truncated;
  const len = u16be(b, off + 4);
  if (len < UDP_HLEN) return Drop.BadLength;
  if (len > ipPayloadLen) return Drop.Truncated;
  if (verifyChecksum && u16be(b, off + 6) !== 0) {
    const s = sumBytes(b, off, len, pseudoHeaderSum(src, dst, IpProto.UDP, len));
    if (fold(s) !== 0xffff) return Drop.BadChecksum;
  }
  return Drop.None;
}

/** Source port (0 = none, RFC 768). */
export const udpSrcPort = (b: Uint8Array, off: number): number => u16be(b, off);
/** Destination port. */
export const udpDstPort = (b: Uint8Array, off: number): number => u16be(b, off + 2);
/** Length field: header + data. */
export const udpLength = (b: Uint8Array, off: number): number => u16be(b, off + 4);

/** Writes a UDP header and its checksum; the payload must already be in place after it. */
export function writeUdp(b: Uint8Array, off: number, srcPort: number, dstPort: number, len: number, src: number, dst: number): void {
  setU16be(b, off, srcPort);
  setU16be(b, off + 2, dstPort);
  setU16be(b, off + 4, len);
  setU16be(b, off + 6, 0);
  const c = finish(sumBytes(b, off, len, pseudoHeaderSum(src, dst, IpProto.UDP, len)));
  // RFC 768: a computed checksum of zero is sent as all ones (zero means "none").
  setU16be(b, off + 6, c === 0 ? 0xffff : c);
}
