/**
 * IPv4 fragmentation toward guests (RFC 791 §3.2 "Fragmentation"). The gateway originates
 * datagrams larger than a guest's link MTU — a 60 KiB UDP reply from a host server through the
 * NAT — and must cut them into fragments the link carries, which the guest's kernel reassembles.
 *
 * Each fragment is written through {@link Ipv4Output}'s in-place path: `begin` reserves the frame
 * in the destination port's buffer and writes Ethernet + a 20-byte IPv4 header; we then lay the
 * fragment's real header over it (options included: the first fragment keeps all of them, later
 * ones only the "copied" ones, see `ipv4-options.ts`), set total length, MF, offset and the
 * datagram's one identification, recompute the header checksum and copy the data slice. Data is
 * split at 8-byte boundaries (the offset field counts 8-byte units). Nothing is allocated per
 * packet; the complete datagram being cut lives in the caller's buffer, or in one scratch buffer
 * for {@link Ipv4Fragmenter.sendUdp}.
 *
 * Don't Fragment. We only cut packets whose DF bit is clear: what we originate toward a guest
 * (UDP replies are built without DF when they do not fit). A packet with DF that does not fit the
 * destination is refused with {@link Drop.TooBig}; {@link Ipv4Fragmenter.forward} then tells its
 * source with ICMP fragmentation-needed carrying the destination's MTU (RFC 1191 §4).
 * @module
 */
import type { Switch } from '../switch/switch.js';
import { setU16be } from '../wire/bytes.js';
import { checksum } from '../wire/checksum.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import type { FrameInfo } from '../wire/frame-info.js';
import { IcmpUnreach } from '../wire/icmpv4.js';
import {
  DEFAULT_TTL,
  ipDst,
  ipFlagsFrag,
  ipHeaderLength,
  ipId,
  ipProtocol,
  ipSrc,
  IpProto,
  ipTtl,
  IPV4_DF,
  IPV4_HLEN,
  IPV4_MF,
  writeIpv4,
} from '../wire/ipv4.js';
import { UDP_HLEN, writeUdp } from '../wire/udp.js';
import type { IcmpLayer } from './icmp.js';
import type { Ipv4Output } from './ip-output.js';
import { writeLaterFragmentHeader } from './ipv4-options.js';

/** Largest IPv4 packet (16-bit total length, RFC 791 §3.1). */
const IPV4_MAX = 65535;
/** Largest UDP payload in one IPv4 datagram: 65535 − 20 (IP) − 8 (UDP). */
export const UDP_MAX_PAYLOAD = IPV4_MAX - IPV4_HLEN - UDP_HLEN;
/** Smallest MTU an IPv4 link may have: a 60-byte header plus 8 data bytes (RFC 791 §3.2). */
export const IPV4_MIN_MTU = 68;
/** The fragment-offset field (13 bits, 8-byte units) and the reserved flag bit. */
const OFFSET_MASK = 0x1fff;
const RESERVED_FLAG = 0x8000;

/** What {@link Ipv4Fragmenter.commit} has to send: nothing, a packet written in place by the output, or one built in the scratch buffer to cut. */
const Pending = { None: 0, InPlace: 1, Scratch: 2 } as const;
type Pending = (typeof Pending)[keyof typeof Pending];

/**
 * The emission contract `UdpLayer` and `IcmpLayer` use of {@link Ipv4Output}; an
 * {@link Ipv4Fragmenter} fulfils it too, so either can be given to them.
 */
export type Ipv4Emitter = Pick<Ipv4Output, 'begin' | 'l4' | 'lastDrop'> & { commit(): unknown };

/** Options of {@link Ipv4Fragmenter}. */
export interface Ipv4FragmenterOptions {
  /** The gateway's IPv4 output (its `mtu` is the network's link MTU). */
  readonly output: Ipv4Output;
  /** When given, a destination port with a smaller `maxFrame` lowers the MTU toward it. */
  readonly switch?: Switch;
  /** Needed by {@link Ipv4Fragmenter.forward} to send fragmentation-needed. */
  readonly icmp?: IcmpLayer;
  /** The gateway address fragmentation-needed comes from (the router on the path, RFC 1191 §4). */
  readonly routerIp?: number;
}

/** Counters of the fragmenter. */
export interface Ipv4FragmenterStats {
  /** Packets sent whole. */
  whole: number;
  /** Packets sent as fragments, and the fragments they made. */
  fragmented: number;
  fragments: number;
  /** Packets refused because DF was set (or the MTU is below 68). */
  tooBig: number;
  /** ICMP fragmentation-needed sent by {@link Ipv4Fragmenter.forward}. */
  fragNeededSent: number;
  /** Packets cut short because a fragment could not be queued (the guest reassembles nothing). */
  partial: number;
}

/** Splits the gateway's oversized packets to the destination's MTU. */
export class Ipv4Fragmenter {
  readonly stats: Ipv4FragmenterStats = { whole: 0, fragmented: 0, fragments: 0, tooBig: 0, fragNeededSent: 0, partial: 0 };
  /** The MTU the last {@link Drop.TooBig} was about (the next-hop MTU of RFC 1191). */
  lastMtu = 0;
  /** Offset of the L4 header in the buffer returned by {@link begin}. */
  l4 = 0;
  /** Why the last {@link begin} returned undefined or the last {@link commit} failed. */
  lastDrop: DropCode = Drop.None;
  private pending: Pending = Pending.None;
  private pendingLen = 0;
  private pendingMac = -1;
  private readonly out: Ipv4Output;
  /** A complete datagram too big for one frame, built by {@link begin} and cut by {@link commit}. */
  private readonly scratch = Buffer.allocUnsafeSlow(IPV4_MAX);
  /** The header of non-first fragments (copied options only). */
  private readonly laterHeader = new Uint8Array(60);

  constructor(private readonly opts: Ipv4FragmenterOptions) {
    this.out = opts.output;
  }

  /**
   * The largest IP packet that reaches `dst` (through `dstMac`, or the neighbour cache when -1)
   * in one frame: the link MTU, lowered by the destination port's `maxFrame` when known.
   */
  mtuTo(dst: number, dstMac = -1): number {
    let mtu = this.out.mtu;
    const sw = this.opts.switch;
    if (sw !== undefined) {
      const pid = dstMac >= 0 ? sw.portIdOf(dstMac) : this.out.portIdOf(dst);
      const port = pid >= 0 ? sw.port(pid) : undefined;
      if (port !== undefined && port.maxFrame - ETH_HLEN < mtu) mtu = port.maxFrame - ETH_HLEN;
    }
    return mtu;
  }

  /**
   * Starts a packet of `payloadLen` bytes of IP payload, like {@link Ipv4Output.begin} (same
   * arguments, same contract: write the L4 header and payload at {@link l4}, then {@link commit}).
   * What fits the MTU toward `dst` is written in place in the destination port's buffer, with
   * `flagsFrag` as given. What does not is built in the scratch buffer *without* DF — what we
   * originate may be fragmented, as Linux does for sockets in `IP_PMTUDISC_WANT` — and
   * {@link commit} cuts it. So a layer that emits through this object instead of the output gets
   * fragmentation without other changes. Returns undefined (see {@link lastDrop}) when not possible.
   */
  begin(src: number, dst: number, protocol: number, payloadLen: number, dstMac = -1, flagsFrag = IPV4_DF, ttl = DEFAULT_TTL): Uint8Array | undefined {
    const total = IPV4_HLEN + payloadLen;
    if (total <= this.mtuTo(dst, dstMac)) {
      const b = this.out.begin(src, dst, protocol, payloadLen, dstMac, flagsFrag, ttl);
      this.lastDrop = this.out.lastDrop;
      if (b === undefined) return undefined;
      this.l4 = this.out.l4;
      this.pending = Pending.InPlace;
      return b;
    }
    if (total > IPV4_MAX) {
      this.stats.tooBig++;
      this.lastMtu = IPV4_MAX;
      this.lastDrop = Drop.TooBig;
      return undefined;
    }
    writeIpv4(this.scratch, 0, total, 0, ttl, protocol, src, dst, flagsFrag & ~(IPV4_DF | IPV4_MF | OFFSET_MASK));
    this.l4 = IPV4_HLEN;
    this.pending = Pending.Scratch;
    this.pendingLen = total;
    this.pendingMac = dstMac;
    this.lastDrop = Drop.None;
    return this.scratch;
  }

  /** Sends the packet started by {@link begin}: as it is, or cut into fragments. Returns why not (all of it) sent, or 0. */
  commit(): DropCode {
    const p = this.pending;
    this.pending = Pending.None;
    if (p === Pending.InPlace) {
      this.out.commit();
      this.stats.whole++;
      return Drop.None;
    }
    if (p !== Pending.Scratch) return Drop.None;
    this.lastDrop = this.send(this.scratch, 0, this.pendingLen, this.pendingMac, false);
    return this.lastDrop;
  }

  /**
   * Sends a UDP datagram of `data` (copied) toward a guest, through {@link begin}/{@link commit}:
   * whole with DF when 28 + `data.length` fits the MTU toward it (like `UdpLayer.send`), else
   * without DF and fragmented, its UDP checksum computed once over the whole datagram (RFC 768).
   * Returns why it was not sent, or 0.
   */
  sendUdp(src: number, srcPort: number, dst: number, dstPort: number, data: Uint8Array, dstMac = -1): DropCode {
    const len = data.length;
    const b = this.begin(src, dst, IpProto.UDP, UDP_HLEN + len, dstMac);
    if (b === undefined) return this.lastDrop;
    const l4 = this.l4;
    b.set(data, l4 + UDP_HLEN);
    writeUdp(b, l4, srcPort, dstPort, UDP_HLEN + len, src, dst);
    return this.commit();
  }

  /**
   * Sends the complete IPv4 packet `b[off, off+len)` toward its destination: whole when it fits,
   * else fragmented (RFC 791 §3.2) unless DF is set, which gives {@link Drop.TooBig} with the MTU
   * in {@link lastMtu}. `keepId` false gives the datagram a fresh identification from the output
   * (what we originate); true keeps the packet's own (what we relay: a router never changes it).
   * The packet may itself be a fragment: its offset and MF carry over to the last piece.
   */
  send(b: Uint8Array, off: number, len: number, dstMac = -1, keepId = true): DropCode {
    const hl = ipHeaderLength(b, off);
    const flags = ipFlagsFrag(b, off);
    const mtu = this.mtuTo(ipDst(b, off), dstMac);
    if (len <= mtu) {
      const r = this.emit(b, off, hl, b, off + hl, len - hl, flags, keepId ? ipId(b, off) : -1, dstMac);
      if (r < 0) return this.out.lastDrop;
      this.stats.whole++;
      return Drop.None;
    }
    // Even the smallest fragment needs header + 8 bytes (RFC 791 §3.2: the 68-byte minimum).
    if ((flags & IPV4_DF) !== 0 || mtu - hl < 8) {
      this.stats.tooBig++;
      this.lastMtu = mtu;
      return Drop.TooBig;
    }
    const laterHl = writeLaterFragmentHeader(b, off, hl, this.laterHeader);
    const baseUnits = flags & OFFSET_MASK;
    const lastMf = flags & IPV4_MF;
    const keep = flags & RESERVED_FLAG;
    const dataLen = len - hl;
    let id = keepId ? ipId(b, off) : -1;
    let rel = 0;
    let pieces = 0;
    while (rel < dataLen) {
      const first = rel === 0;
      const fhl = first ? hl : laterHl;
      // Every fragment but the last carries a multiple of 8 bytes (the offset's unit).
      const room = ((mtu - fhl) >>> 3) << 3;
      const n = Math.min(room, dataLen - rel);
      const last = rel + n === dataLen;
      const ff = keep | (last ? lastMf : IPV4_MF) | (baseUnits + (rel >>> 3));
      id = this.emit(first ? b : this.laterHeader, first ? off : 0, fhl, b, off + hl + rel, n, ff, id, dstMac);
      if (id < 0) {
        if (pieces > 0) this.stats.partial++;
        return this.out.lastDrop;
      }
      pieces++;
      rel += n;
    }
    this.stats.fragmented++;
    this.stats.fragments += pieces;
    return Drop.None;
  }

  /**
   * Relays a packet a guest sent (`info`, checked) toward another guest through the gateway:
   * fragmented if it is too big and DF is clear; with DF set, ICMP fragmentation-needed goes back
   * to its source carrying the destination's MTU (RFC 1191 §4) and {@link Drop.TooBig} is returned.
   */
  forward(info: FrameInfo, dstMac = -1): DropCode {
    const r = this.send(info.buf, info.l3, info.ipTotalLen, dstMac, true);
    if (r !== Drop.TooBig || this.opts.icmp === undefined) return r;
    const from = this.opts.routerIp ?? info.dstIp;
    const q = this.opts.icmp.sendUnreachable(from, info.buf, info.l3, info.ipTotalLen, IcmpUnreach.FragNeeded, this.lastMtu, info.srcMac);
    if (q === Drop.None) this.stats.fragNeededSent++;
    return r;
  }

  /**
   * Writes one packet: header `hdr[hOff, hOff+hl)` with total length, flags/offset `ff` and
   * identification `id` (-1: keep what the output assigned), then `data[dOff, dOff+n)`.
   * Returns the identification used, or -1 when the output could not take the packet.
   */
  private emit(hdr: Uint8Array, hOff: number, hl: number, data: Uint8Array, dOff: number, n: number, ff: number, id: number, dstMac: number): number {
    const src = ipSrc(hdr, hOff);
    const dst = ipDst(hdr, hOff);
    const o = this.out.begin(src, dst, ipProtocol(hdr, hOff), hl - IPV4_HLEN + n, dstMac, ff, ipTtl(hdr, hOff));
    if (o === undefined) return -1;
    const ip = this.out.l4 - IPV4_HLEN;
    // The output numbered this packet; a datagram's fragments must all share one number (RFC 791 §3.2).
    const useId = id < 0 ? ipId(o, ip) : id;
    o.set(hdr.subarray(hOff, hOff + hl), ip);
    setU16be(o, ip + 2, hl + n);
    setU16be(o, ip + 4, useId);
    setU16be(o, ip + 6, ff);
    setU16be(o, ip + 10, 0);
    setU16be(o, ip + 10, checksum(o, ip, hl));
    o.set(data.subarray(dOff, dOff + n), ip + hl);
    this.out.commit();
    return useId;
  }
}
