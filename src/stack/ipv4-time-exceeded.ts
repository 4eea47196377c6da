/**
 * ICMP time exceeded, code 1 "fragment reassembly time exceeded" (RFC 792), sent by the
 * reassembler when a datagram whose fragment zero arrived is still incomplete at its deadline
 * (RFC 1122 §3.2.2.4). It quotes fragment zero as received — its IP header and first 8 data bytes —
 * and goes back to the source from the address the guest sent to: the gateway stands in for
 * every destination, so that is the host that failed to reassemble.
 * @module
 */
import { u32be } from '../wire/bytes.js';
import { IcmpType, ICMP_HLEN, ICMP_QUOTE_EXTRA, writeIcmp } from '../wire/icmpv4.js';
import { ipProtocol, IpProto } from '../wire/ipv4.js';
import type { Ipv4Output } from './ip-output.js';

/** The code of time exceeded for reassembly (RFC 792: 0 is TTL exceeded in transit). */
export const TIME_EXCEEDED_REASSEMBLY = 1;

/**
 * Sends time exceeded for the fragment zero whose header is `b[ip, ip+hl)`, followed by at least
 * 8 data bytes, to Ethernet `dstMac`. Returns whether it was sent: never about a datagram from
 * an unspecified or group source, to a broadcast or multicast destination, or carrying an ICMP
 * error (RFC 1122 §3.2.2, RFC 792 "no ICMP about ICMP errors").
 */
export function sendReassemblyTimeExceeded(out: Ipv4Output, b: Uint8Array, ip: number, hl: number, dstMac: number, isBroadcast?: (ip: number) => boolean): boolean {
  const src = u32be(b, ip + 12);
  const dst = u32be(b, ip + 16);
  if (src === 0 || src >>> 28 >= 14 || dst === 0xffffffff || dst >>> 28 === 14 || isBroadcast?.(dst) === true) return false;
  if (ipProtocol(b, ip) === IpProto.ICMP && !isIcmpQuery(b[ip + hl]!)) return false;
  const quoteLen = hl + ICMP_QUOTE_EXTRA;
  const len = ICMP_HLEN + quoteLen;
  const o = out.begin(dst, src, IpProto.ICMP, len, dstMac);
  if (o === undefined) return false;
  const l4 = out.l4;
  o.set(b.subarray(ip, ip + quoteLen), l4 + ICMP_HLEN);
  writeIcmp(o, l4, len, IcmpType.TimeExceeded, TIME_EXCEEDED_REASSEMBLY, 0);
  out.commit();
  return true;
}

/** Echo, timestamp, information and address-mask requests and replies (RFC 792, RFC 950): not errors. */
function isIcmpQuery(type: number): boolean {
  return type === IcmpType.EchoReply || type === IcmpType.EchoRequest || (type >= 13 && type <= 18);
}
