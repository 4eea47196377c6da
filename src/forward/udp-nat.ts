/**
 * Outbound UDP NAT: each guest flow (guest address and port → destination address and port) gets
 * its own host UDP socket connected to the real destination (the host-loopback alias maps to
 * 127.0.0.1). Connected sockets are deliberate: the kernel then reports ICMP port-unreachable as
 * ECONNREFUSED, which we turn back into an ICMP port-unreachable to the guest (RFC 1122 §4.1.3.1),
 * and a reply can only come from the peer the guest addressed.
 *
 * Flows expire after an idle timeout (vpnkit: 60 s, protocols.md §4.7); a DNS flow (destination
 * port 53) is freed as soon as every query it carried has been answered. A cap bounds the number
 * of flows: at the cap the least recently used flow is closed. Datagrams to broadcast or multicast
 * addresses are not forwarded. DNS to the gateway itself never reaches here (the DNS service is
 * bound to the gateway's port 53).
 *
 * Flow events ({@link FlowEventSink}): `flowEvents.enabled` is read when a flow opens; a reported
 * flow's close says why (`idle`, `limit`, `nic-gone`, `shutdown`, `closed` for an answered DNS
 * flow, `reset` for a host socket error); a denied first datagram reports a close alone.
 * @module
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Timer } from '../runtime/scheduler.js';
import type { Runtime } from '../runtime/runtime.js';
import type { IcmpLayer } from '../stack/icmp.js';
import type { UdpLayer } from '../stack/udp.js';
import { formatIpv4, parseIpv4 } from '../wire/address.js';
import type { FrameInfo } from '../wire/frame-info.js';
import { IcmpUnreach } from '../wire/icmpv4.js';
import type { AddressMap } from './address-map.js';
import type { EgressPolicy } from './egress-policy.js';
import { noFlowEvents, type FlowCloseReason, type FlowEventSink, type FlowHandle, type FlowTuple } from './flow-events.js';
import { addGuestCount, type GuestCounts } from './guest-counts.js';

/** Options of the UDP NAT. */
export interface UdpNatOptions {
  /** Idle time after which a flow is closed, ms. Default 60 000. */
  idleTimeoutMs?: number;
  /** Most concurrent flows. Default 4096. */
  maxFlows?: number;
  /** Where flows are reported (default: nowhere). Can be replaced later through {@link UdpNat.flowEvents}. */
  flowEvents?: FlowEventSink;
}

/** Counters of the UDP NAT. */
export interface UdpNatStats {
  flows: number;
  opened: number;
  expired: number;
  evicted: number;
  denied: number;
  refused: number;
  datagramsOut: number;
  datagramsIn: number;
  bytesOut: number;
  bytesIn: number;
  /** Replies that could not be delivered to the guest (NIC full, too big for its MTU). */
  dropped: number;
}

/** Creates the host socket of a flow (injectable for tests). */
export type UdpSocketFactory = () => UdpSocket;

/** How much of a datagram an ICMP error quotes: IPv4 header (up to 60) + 8 bytes. */
const QUOTE_MAX = 68;

class Flow {
  lastActive = 0;
  connected = false;
  closed = false;
  /** Queries sent and not yet answered (DNS flows are freed at 0). */
  outstanding = 0;
  readonly pending: Buffer[] = [];
  readonly quote = Buffer.alloc(QUOTE_MAX);
  quoteLen = 0;
  /** Payload bytes each way (for flow events; plain counters, no cost). */
  bytesOut = 0;
  bytesIn = 0;
  /** The flow's report handle when flow events were on at open. */
  events: FlowHandle | undefined;
  /** Where the socket is connected (the mapped destination). */
  hostIp = 0;
  readonly timer: Timer;
  constructor(
    readonly key: number,
    readonly dstKey: number,
    readonly guestIp: number,
    readonly guestPort: number,
    readonly dstIp: number,
    readonly dstPort: number,
    readonly socket: UdpSocket,
    fire: (f: Flow, now: number) => void,
  ) {
    this.timer = new Timer((now) => fire(this, now));
  }
}

/** The outbound UDP NAT of one network. */
export class UdpNat {
  private readonly flows = new Map<number, Map<number, Flow>>();
  private count = 0;
  readonly stats: UdpNatStats = {
    flows: 0,
    opened: 0,
    expired: 0,
    evicted: 0,
    denied: 0,
    refused: 0,
    datagramsOut: 0,
    datagramsIn: 0,
    bytesOut: 0,
    bytesIn: 0,
    dropped: 0,
  };
  /** Where flows are reported; read once per new flow. */
  flowEvents: FlowEventSink;
  private readonly idleMs: number;
  private readonly maxFlows: number;
  private readonly onTimer = (f: Flow, now: number): void => {
    if (f.closed) return;
    if (now - f.lastActive >= this.idleMs) {
      this.stats.expired++;
      this.closeFlow(f, 'idle');
    } else this.rt.scheduler.arm(f.timer, f.lastActive + this.idleMs);
  };

  constructor(
    private readonly rt: Runtime,
    private readonly udp: UdpLayer,
    private readonly icmp: IcmpLayer,
    private readonly policy: EgressPolicy,
    private readonly map: AddressMap,
    opts: UdpNatOptions = {},
    private readonly socketFactory: UdpSocketFactory = () => createSocket({ type: 'udp4' }),
  ) {
    this.idleMs = opts.idleTimeoutMs ?? 60_000;
    this.maxFlows = opts.maxFlows ?? 4096;
    this.flowEvents = opts.flowEvents ?? noFlowEvents;
  }

  /** A guest datagram for somewhere other than the gateway's services. */
  input(info: FrameInfo): void {
    const dst = info.dstIp;
    // Broadcast and multicast stay on the bridge (vpnkit ignores 255.255.255.255 too, §4.7).
    if (dst === 0xffffffff || dst >>> 28 === 14 || info.dstPort === 0) return;
    const key = info.srcIp * 65536 + info.srcPort;
    const dstKey = dst * 65536 + info.dstPort;
    let f = this.flows.get(key)?.get(dstKey);
    const now = this.rt.clock.now();
    if (f === undefined) {
      const hostDst = this.map.toHost(dst);
      if (!this.policy.permits(hostDst, 'udp')) {
        this.stats.denied++;
        this.icmp.sendUnreachable(dst, info.buf, info.l3, info.l4 + 8 - info.l3, IcmpUnreach.AdminProhibited, 0, info.srcMac);
        if (this.flowEvents.enabled) this.flowEvents.reject(tupleOf(info.srcIp, info.srcPort, dst, info.dstPort, hostDst), 'denied');
        return;
      }
      f = this.open(key, dstKey, info, hostDst, now);
    }
    f.lastActive = now;
    const qlen = Math.min(QUOTE_MAX, info.l4 + 8 - info.l3);
    info.buf instanceof Buffer
      ? info.buf.copy(f.quote, 0, info.l3, info.l3 + qlen)
      : f.quote.set(info.buf.subarray(info.l3, info.l3 + qlen));
    f.quoteLen = qlen;
    // dgram keeps the buffer until the send completes and frames are borrowed: copy.
    const data = Buffer.from(info.buf.subarray(info.payload, info.payload + info.payloadLen));
    if (f.dstPort === 53) f.outstanding++;
    this.stats.datagramsOut++;
    this.stats.bytesOut += data.length;
    f.bytesOut += data.length;
    if (f.connected) f.socket.send(data);
    else f.pending.push(data);
  }

  /** Closes every flow of a guest address (its NIC went away). */
  closeForGuest(ip: number): number {
    let n = 0;
    for (const byDst of this.flows.values()) {
      for (const f of byDst.values()) {
        if (f.guestIp === ip) {
          this.closeFlow(f, 'nic-gone');
          n++;
        }
      }
    }
    return n;
  }

  /** Adds each guest address's open flows to `into` (O(guest address and port pairs); for stats). */
  flowsByGuest(into: GuestCounts = new Map()): GuestCounts {
    // Keyed by guest address * 65536 + port: every destination of one key is the same guest.
    for (const [key, byDst] of this.flows) addGuestCount(into, Math.floor(key / 65536), byDst.size);
    return into;
  }

  /** Snapshot of the flow table (for stats and debugging). */
  table(): Array<{ guest: string; destination: string; idleMs: number; outstanding: number }> {
    const now = this.rt.clock.now();
    const out = [];
    for (const byDst of this.flows.values())
      for (const f of byDst.values())
        out.push({ guest: `${formatIpv4(f.guestIp)}:${f.guestPort}`, destination: `${formatIpv4(f.dstIp)}:${f.dstPort}`, idleMs: now - f.lastActive, outstanding: f.outstanding });
    return out;
  }

  /** Closes every flow. */
  close(): void {
    for (const byDst of [...this.flows.values()]) for (const f of [...byDst.values()]) this.closeFlow(f, 'shutdown');
  }

  private open(key: number, dstKey: number, info: FrameInfo, hostDst: number, now: number): Flow {
    if (this.count >= this.maxFlows) this.evictOldest();
    const socket = this.socketFactory();
    const f = new Flow(key, dstKey, info.srcIp, info.srcPort, info.dstIp, info.dstPort, socket, this.onTimer);
    f.lastActive = now;
    f.hostIp = hostDst;
    let byDst = this.flows.get(key);
    if (byDst === undefined) {
      byDst = new Map();
      this.flows.set(key, byDst);
    }
    byDst.set(dstKey, f);
    this.count++;
    this.stats.flows = this.count;
    this.stats.opened++;
    socket.on('message', (msg) => this.reply(f, msg));
    socket.on('error', (e: NodeJS.ErrnoException) => this.socketError(f, e));
    socket.connect(f.dstPort, formatIpv4(hostDst), () => {
      if (f.closed) return;
      f.connected = true;
      for (const d of f.pending.splice(0)) socket.send(d);
    });
    this.rt.scheduler.arm(f.timer, now + this.idleMs);
    if (this.flowEvents.enabled) f.events = this.flowEvents.open(tupleOf(f.guestIp, f.guestPort, f.dstIp, f.dstPort, hostDst));
    return f;
  }

  private reply(f: Flow, msg: Buffer): void {
    if (f.closed) return;
    f.lastActive = this.rt.clock.now();
    this.stats.datagramsIn++;
    this.stats.bytesIn += msg.length;
    f.bytesIn += msg.length;
    const src = this.map.toGuest(parseIpv4(f.socket.remoteAddress().address) ?? f.dstIp, f.dstIp);
    if (this.udp.send(src, f.dstPort, f.guestIp, f.guestPort, msg) !== 0) this.stats.dropped++;
    if (f.dstPort === 53 && f.outstanding > 0 && --f.outstanding === 0) this.closeFlow(f, 'closed');
  }

  private socketError(f: Flow, e: NodeJS.ErrnoException): void {
    if (f.closed) return;
    if (e.code === 'ECONNREFUSED') {
      // The destination port is closed: tell the guest as its kernel would hear it (RFC 1122 §4.1.3.1).
      this.stats.refused++;
      if (f.quoteLen > 0) this.icmp.sendUnreachable(f.dstIp, f.quote, 0, f.quoteLen, IcmpUnreach.Port);
      return;
    }
    if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') {
      if (f.quoteLen > 0) this.icmp.sendUnreachable(f.dstIp, f.quote, 0, f.quoteLen, e.code === 'EHOSTUNREACH' ? IcmpUnreach.Host : IcmpUnreach.Net);
      return;
    }
    this.closeFlow(f, 'reset');
  }

  private evictOldest(): void {
    let oldest: Flow | undefined;
    for (const byDst of this.flows.values()) for (const f of byDst.values()) if (oldest === undefined || f.lastActive < oldest.lastActive) oldest = f;
    if (oldest !== undefined) {
      this.stats.evicted++;
      this.closeFlow(oldest, 'limit');
    }
  }

  private closeFlow(f: Flow, reason: FlowCloseReason): void {
    if (f.closed) return;
    f.closed = true;
    const h = f.events;
    if (h !== undefined) {
      f.events = undefined;
      this.flowEvents.close(h, f.bytesIn, f.bytesOut, reason);
    }
    this.rt.scheduler.disarm(f.timer);
    const byDst = this.flows.get(f.key);
    byDst?.delete(f.dstKey);
    if (byDst !== undefined && byDst.size === 0) this.flows.delete(f.key);
    this.count--;
    this.stats.flows = this.count;
    f.pending.length = 0;
    try {
      f.socket.close();
    } catch {
      // already closed by an error
    }
  }
}

/** A flow's addresses for an event (built only when someone listens). */
function tupleOf(guestIp: number, guestPort: number, dstIp: number, dstPort: number, hostIp: number): FlowTuple {
  return { protocol: 'udp', guestIp, guestPort, remoteIp: dstIp, remotePort: dstPort, hostIp, hostPort: dstPort };
}
