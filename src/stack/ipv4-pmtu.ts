/**
 * Path MTU for guest UDP leaving through host sockets (RFC 1191). A guest that sets Don't
 * Fragment asks to hear "fragmentation needed" (ICMP type 3 code 4, with the next-hop MTU in the
 * second word, RFC 1191 §4) from the first hop that cannot carry its datagram whole. Through the
 * NAT that hop is the host socket, so the question is what MTU a host UDP socket has.
 *
 * - Loopback (the host-loopback alias → 127.0.0.1): the `lo` device carries any IPv4 datagram
 *   whole (its MTU is 65,536), so nothing is ever too big: the limit is the protocol's, 65,535.
 * - Other destinations: a Node UDP socket leaves the kernel's default, `IP_PMTUDISC_WANT` on
 *   Linux: the host kernel runs PMTU discovery on the real path and fragments locally what does
 *   not fit. Any datagram up to 65,507 bytes of payload is carried, so by default we send no
 *   fragmentation-needed either (the limit is again 65,535). Clamping here would cost every
 *   Linux guest a lost datagram per destination and PMTU-cache expiry, since Linux sets DF on all
 *   UDP that fits its PMTU by default, and would force big-MTU guests (65,520) into fragmenting.
 * - `clampMtu` opts into vpnkit's behaviour (protocols.md §4.6: DF datagrams above 1452 bytes
 *   get fragmentation-needed with 1452), for users whose real path is narrower than the host
 *   believes (a VPN that drops fragments) and whose guests probe the path (tracepath, QUIC
 *   DPLPMTUD). Unlike vpnkit we compare the whole IP packet with the MTU we announce, so a guest
 *   that obeys the announced value is never refused again. The clamp never applies to loopback.
 * @module
 */
import type { FrameInfo } from '../wire/frame-info.js';
import { IcmpUnreach } from '../wire/icmpv4.js';
import { ipDontFragment } from '../wire/ipv4.js';
import type { IcmpLayer } from './icmp.js';
import { IPV4_MIN_MTU } from './ipv4-fragmenter.js';

/** The protocol limit: a datagram this size always fits (RFC 791 §3.1 total length). */
export const NO_CLAMP = 65535;
/** vpnkit's `safe_outgoing_mtu` (protocols.md §4.6), for {@link PmtuGuardOptions.clampMtu}. */
export const VPNKIT_SAFE_MTU = 1452;

/** Options of {@link PmtuGuard}. */
export interface PmtuGuardOptions {
  /** MTU announced for DF datagrams to non-loopback hosts. Default {@link NO_CLAMP}; at least 68. */
  readonly clampMtu?: number;
}

/** Decides, per outbound guest datagram, whether DF forbids sending it through a host socket. */
export class PmtuGuard {
  /** Fragmentation-needed messages sent. */
  fragNeededSent = 0;
  private readonly clamp: number;

  constructor(
    private readonly icmp: IcmpLayer,
    opts: PmtuGuardOptions = {},
  ) {
    // RFC 1191 §3: no MTU below the IPv4 minimum is ever announced.
    this.clamp = Math.min(NO_CLAMP, Math.max(IPV4_MIN_MTU, Math.floor(opts.clampMtu ?? NO_CLAMP)));
  }

  /** The MTU toward host address `hostDst` (after the address map: 127.x for the alias). */
  egressMtu(hostDst: number): number {
    // Loopback is never clamped; an unroutable destination (< 0) is refused by the policy instead.
    return hostDst < 0 || hostDst >>> 24 === 127 ? NO_CLAMP : this.clamp;
  }

  /**
   * Checks a guest datagram (checked `info`, a whole datagram) bound for `hostDst`. When DF is set
   * and it exceeds the egress MTU, sends fragmentation-needed to the guest, from the address it
   * sent to, quoting the datagram (RFC 792: header + 8 bytes), and returns true: do not forward.
   */
  refuse(info: FrameInfo, hostDst: number): boolean {
    const mtu = this.egressMtu(hostDst);
    if (info.ipTotalLen <= mtu || !ipDontFragment(info.buf, info.l3)) return false;
    this.icmp.sendUnreachable(info.dstIp, info.buf, info.l3, info.ipTotalLen, IcmpUnreach.FragNeeded, mtu, info.srcMac);
    this.fragNeededSent++;
    return true;
  }
}
