/**
 * ICMPv4 on the gateway: echo replies for the gateway's own addresses (RFC 792, RFC 1122
 * §3.2.2.6: the reply carries the request's identifier, sequence and data), and the error
 * messages the stack generates — destination unreachable (port, host, admin-prohibited,
 * fragmentation-needed with the next-hop MTU of RFC 1191) quoting the offending header.
 * @module
 */
import { Drop, type DropCode } from '../wire/drop.js';
import type { FrameInfo } from '../wire/frame-info.js';
import { icmpType, IcmpType, ICMP_HLEN, ICMP_QUOTE_EXTRA, writeIcmp, IcmpUnreach } from '../wire/icmpv4.js';
import { ipSrc, IpProto, ipHeaderLength } from '../wire/ipv4.js';
import type { Ipv4Emitter } from './ipv4-fragmenter.js';

/** Counters of the ICMP layer. */
export interface IcmpStats {
  echoReplies: number;
  errorsSent: number;
  /** Echo requests to addresses we do not own and could not forward. */
  echoDropped: number;
}

/** The gateway's ICMP. */
export class IcmpLayer {
  readonly stats: IcmpStats = { echoReplies: 0, errorsSent: 0, echoDropped: 0 };
  /** Echo requests to other addresses; unset = dropped and counted (never forged). */
  forwardEcho: ((info: FrameInfo) => void) | undefined;

  constructor(
    private readonly out: Ipv4Emitter,
    /** Whether the gateway answers echo for `ip`. */
    private readonly owns: (ip: number) => boolean,
  ) {}

  /** Handles a checked ICMP message. */
  input(info: FrameInfo): DropCode {
    const b = info.buf;
    if (icmpType(b, info.l4) !== IcmpType.EchoRequest) return Drop.None;
    if (!this.owns(info.dstIp)) {
      if (this.forwardEcho !== undefined) this.forwardEcho(info);
      else this.stats.echoDropped++;
      return Drop.None;
    }
    const len = info.l4Len;
    const o = this.out.begin(info.dstIp, info.srcIp, IpProto.ICMP, len, info.srcMac);
    if (o === undefined) return this.out.lastDrop;
    const l4 = this.out.l4;
    o.set(b.subarray(info.l4 + 4, info.l4 + len), l4 + 4);
    writeIcmp(o, l4, len, IcmpType.EchoReply, 0, (o[l4 + 4]! << 24) | (o[l4 + 5]! << 16) | (o[l4 + 6]! << 8) | o[l4 + 7]!);
    this.out.commit();
    this.stats.echoReplies++;
    return Drop.None;
  }

  /**
   * Sends a destination-unreachable for the IPv4 packet whose header starts at `quote[qOff]`
   * (its IP header plus at least 8 bytes must be present), from `from` back to the packet's source.
   * `nextHopMtu` is used with code {@link IcmpUnreach.FragNeeded} (RFC 1191 §4).
   */
  sendUnreachable(from: number, quote: Uint8Array, qOff: number, qLen: number, code: number, nextHopMtu = 0, dstMac = -1): DropCode {
    const hl = ipHeaderLength(quote, qOff);
    const take = Math.min(qLen, hl + ICMP_QUOTE_EXTRA);
    const len = ICMP_HLEN + take;
    const dst = ipSrc(quote, qOff);
    const o = this.out.begin(from, dst, IpProto.ICMP, len, dstMac);
    if (o === undefined) return this.out.lastDrop;
    const l4 = this.out.l4;
    o.set(quote.subarray(qOff, qOff + take), l4 + ICMP_HLEN);
    writeIcmp(o, l4, len, IcmpType.DestUnreachable, code, code === IcmpUnreach.FragNeeded ? nextHopMtu & 0xffff : 0);
    this.out.commit();
    this.stats.errorsSent++;
    return Drop.None;
  }
}
