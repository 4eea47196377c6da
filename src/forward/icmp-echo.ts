/**
 * Honest ICMP echo (user-needs row 8): a guest's ping to an address the gateway does not own is
 * never answered by us. It goes to the real destination through the host's unprivileged ICMP
 * datagram socket ({@link PingSocket}: Linux with `net.ipv4.ping_group_range`), and the guest gets
 * back what the host got back, or nothing.
 *
 * One socket per guest flow (guest address, guest echo identifier, destination). The kernel gives
 * each ping socket its own identifier, stamps it on requests and delivers a reply only to the
 * socket it names: no id table of ours, sequence numbers and payloads untouched, and two guests
 * using the same identifier never see each other's replies. vpnkit shares one socket and rewrites
 * identifiers (protocols.md §4.6); a Linux ping socket picks its identifier itself, so sharing
 * would mean rewriting sequence numbers. The price, one descriptor per active flow, is bounded
 * by `maxFlows` (least recently used evicted) and a 60 s idle expiry, like vpnkit's mappings.
 *
 * - Replies go back with the guest's identifier, from the address the guest pinged (the NAT
 *   view: a ping to a mapped address is answered by that address), or, for a reply from another
 *   source, from that source mapped back.
 * - The egress policy is asked once per new flow with the mapped host address; a denied ping
 *   gets ICMP destination unreachable, code 13 "communication administratively prohibited"
 *   (RFC 1812 §5.2.7.1): the guest's `ping` says "Packet filtered" at once instead of a timeout
 *   that looks like a dead host, and the UDP NAT answers denied datagrams the same way.
 *   `deniedReply: 'silent'` drops instead.
 * - A send that fails with ENETUNREACH/EHOSTUNREACH becomes ICMP net/host unreachable to the
 *   guest (RFC 792), quoting its request. Ping sockets report routers' TTL-exceeded and
 *   unreachable messages only with IP_RECVERR, which the addon does not set: not translated.
 * - When no socket can be opened (addon missing, EACCES from `ping_group_range`), requests are
 *   dropped and counted (`echoDropped`), the reason is logged once, and opening is retried at
 *   most once a minute (the operator may fix the sysctl while we run).
 *
 * Replies on macOS ICMP datagram sockets start with the IP header; it is skipped when present.
 * @module
 */
import type { Result } from 'neverthrow';
import type { VnetError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { PingSocket } from '../native/ping-socket.js';
import type { Runtime } from '../runtime/runtime.js';
import { Timer } from '../runtime/scheduler.js';
import { formatIpv4, parseIpv4 } from '../wire/address.js';
import { u16be } from '../wire/bytes.js';
import { Drop } from '../wire/drop.js';
import type { FrameInfo } from '../wire/frame-info.js';
import { ICMP_HLEN, icmpEchoId, IcmpType, IcmpUnreach } from '../wire/icmpv4.js';
import type { AddressMap } from './address-map.js';
import type { EgressPolicy } from './egress-policy.js';
import { noFlowEvents, type FlowCloseReason, type FlowEventSink, type FlowHandle, type FlowTuple } from './flow-events.js';
import { addGuestCount, type GuestCounts } from './guest-counts.js';
import type { EchoSocket, EchoSocketOpener, IcmpEchoSender } from './icmp-echo-io.js';

/** Options of an {@link IcmpEchoForwarder}. */
export interface IcmpEchoForwarderOptions {
  runtime: Runtime;
  sender: IcmpEchoSender;
  /** Asked once per new flow, with the mapped host address. */
  policy: Pick<EgressPolicy, 'permits'>;
  /** Guest destination → host destination (the host-loopback alias → 127.0.0.1). */
  addressMap: Pick<AddressMap, 'toHost' | 'toGuest'>;
  logger?: Logger;
  /** Destinations that are never sent to the host (the guest subnet: nothing there is the host's business). */
  isLocal?: (ip: number) => boolean;
  /** A flow with no request or reply for this long is closed, ms (default 60 000, protocols.md §4.6). */
  idleTimeoutMs?: number;
  /** Most flows (open sockets) at once; the least recently used goes (default 256). */
  maxFlows?: number;
  /** What a denied request gets (default `'admin-prohibited'`). */
  deniedReply?: 'admin-prohibited' | 'silent';
  /** After a failed open, wait this long before trying again, ms (default 60 000). */
  retryOpenMs?: number;
  /** Opens the host sockets (default `PingSocket.open(4)`). */
  openSocket?: EchoSocketOpener;
  /** Where flows are reported (protocol `icmp`, ports = echo identifiers). */
  flowEvents?: FlowEventSink;
}

/**
 * Counters of the forwarder: `flows` open now (one socket each); `requests` sent and `replies`
 * relayed; `replyDrops` (the guest's NIC refused); `ignored` (not our echo replies); `denied` by
 * the policy; `dropped` (no socket, a local destination, a failed send); `sendErrors`;
 * `unreachableSent` (destination unreachable sent to guests).
 */
export interface IcmpEchoStats {
  flows: number;
  opened: number;
  expired: number;
  evicted: number;
  requests: number;
  replies: number;
  replyDrops: number;
  ignored: number;
  denied: number;
  dropped: number;
  sendErrors: number;
  unreachableSent: number;
}

/** How much of a request an ICMP error quotes: IPv4 header (up to 60) + 8 bytes. */
const QUOTE_MAX = 68;

class EchoFlow {
  lastActive = 0;
  closed = false;
  readonly quote = Buffer.alloc(QUOTE_MAX);
  quoteLen = 0;
  bytesToGuest = 0;
  bytesFromGuest = 0;
  events: FlowHandle | undefined;
  readonly timer: Timer;
  constructor(
    readonly key: number,
    readonly guestIp: number,
    readonly guestId: number,
    /** The destination as the guest addressed it. */
    readonly dstIp: number,
    readonly hostIp: number,
    /** `hostIp` as the socket API wants it, formatted once. */
    readonly hostLiteral: string,
    readonly guestMac: number,
    readonly socket: EchoSocket,
    fire: (f: EchoFlow, now: number) => void,
  ) {
    this.timer = new Timer((now) => fire(this, now));
  }
}

/** Forwards guests' echo requests through host ping sockets (install `input` as `icmp.forwardEcho`). */
export class IcmpEchoForwarder {
  readonly stats: IcmpEchoStats = {
    flows: 0,
    opened: 0,
    expired: 0,
    evicted: 0,
    requests: 0,
    replies: 0,
    replyDrops: 0,
    ignored: 0,
    denied: 0,
    dropped: 0,
    sendErrors: 0,
    unreachableSent: 0,
  };
  /** Where flows are reported; read once per new flow. */
  flowEvents: FlowEventSink;
  /** Guest address * 65536 + guest identifier → destination → flow. */
  private readonly flows = new Map<number, Map<number, EchoFlow>>();
  private readonly idleMs: number;
  private readonly maxFlows: number;
  private readonly retryMs: number;
  private readonly openSocket: EchoSocketOpener;
  private readonly log: Logger;
  private unavailable: string | undefined;
  private retryAt = -Infinity;
  private isClosed = false;
  private readonly onTimer = (f: EchoFlow, now: number): void => {
    if (f.closed) return;
    if (now - f.lastActive >= this.idleMs) {
      this.stats.expired++;
      this.closeFlow(f, 'idle');
    } else this.o.runtime.scheduler.arm(f.timer, f.lastActive + this.idleMs);
  };
  /** The installable hook: `net.icmp.forwardEcho = forwarder.input`. */
  readonly input = (info: FrameInfo): void => this.request(info);

  constructor(private readonly o: IcmpEchoForwarderOptions) {
    this.idleMs = o.idleTimeoutMs ?? 60_000;
    this.maxFlows = o.maxFlows ?? 256;
    this.retryMs = o.retryOpenMs ?? 60_000;
    this.openSocket = o.openSocket ?? ((): Result<EchoSocket, VnetError> => PingSocket.open(4));
    this.log = o.logger ?? silentLogger;
    this.flowEvents = o.flowEvents ?? noFlowEvents;
  }

  /** Why requests cannot be forwarded now (the last open failure), or undefined. */
  get unavailableReason(): string | undefined {
    return this.unavailable;
  }

  /** Closes every flow of guest `ip` (its NIC went away). Returns how many. */
  closeForGuest(ip: number): number {
    let n = 0;
    for (const byDst of [...this.flows.values()]) {
      for (const f of [...byDst.values()]) {
        if (f.guestIp !== ip) continue;
        this.closeFlow(f, 'nic-gone');
        n++;
      }
    }
    return n;
  }

  /** Closes every flow; later requests are dropped and counted. */
  close(): void {
    this.isClosed = true;
    for (const byDst of [...this.flows.values()]) for (const f of [...byDst.values()]) this.closeFlow(f, 'shutdown');
  }

  /** Adds each guest address's open flows (one ping socket each) to `into`; for stats. */
  flowsByGuest(into: GuestCounts = new Map()): GuestCounts {
    // Keyed by guest address * 65536 + echo identifier.
    for (const [key, byDst] of this.flows) addGuestCount(into, Math.floor(key / 65536), byDst.size);
    return into;
  }

  /** Snapshot of the flows (stats, debugging). */
  table(): Array<{ guest: string; id: number; destination: string; host: string; hostId: number; idleMs: number }> {
    const now = this.o.runtime.clock.now();
    const out = [];
    for (const byDst of this.flows.values())
      for (const f of byDst.values())
        out.push({ guest: formatIpv4(f.guestIp), id: f.guestId, destination: formatIpv4(f.dstIp), host: f.hostLiteral, hostId: f.socket.identifier, idleMs: now - f.lastActive });
    return out;
  }

  /** A checked echo request for an address the gateway does not own. */
  private request(info: FrameInfo): void {
    const b = info.buf;
    const dst = info.dstIp;
    if (this.isClosed || dst === 0 || (this.o.isLocal !== undefined && this.o.isLocal(dst))) return this.drop();
    const key = info.srcIp * 65536 + icmpEchoId(b, info.l4);
    let f = this.flows.get(key)?.get(dst);
    const now = this.o.runtime.clock.now();
    const fresh = f === undefined;
    if (f === undefined) {
      const hostDst = this.o.addressMap.toHost(dst);
      if (!this.o.policy.permits(hostDst, 'icmp')) return this.deny(info, hostDst);
      f = this.open(key, info, hostDst, now);
      if (f === undefined) return this.drop();
    }
    f.lastActive = now;
    const qlen = Math.min(QUOTE_MAX, info.l4 + ICMP_HLEN - info.l3);
    f.quote.set(b.subarray(info.l3, info.l3 + qlen));
    f.quoteLen = qlen;
    // The send is synchronous, so the borrowed frame needs no copy.
    const r = f.socket.send(f.hostLiteral, b, info.l4, info.l4Len);
    if (r.isErr()) {
      this.stats.sendErrors++;
      const code = r.error.code === 'ENETUNREACH' ? IcmpUnreach.Net : r.error.code === 'EHOSTUNREACH' ? IcmpUnreach.Host : -1;
      if (code >= 0) this.unreachable(f, code);
      else this.drop();
    } else {
      this.stats.requests++;
      f.bytesFromGuest += info.l4Len - ICMP_HLEN;
    }
    // Reported after the first send: only then has the kernel bound the socket's identifier.
    if (fresh && this.flowEvents.enabled) f.events = this.flowEvents.open(tupleOf(f));
  }

  private open(key: number, info: FrameInfo, hostDst: number, now: number): EchoFlow | undefined {
    if (now < this.retryAt) return undefined;
    const r = this.openSocket();
    if (r.isErr()) {
      const why = r.error.message;
      if (why !== this.unavailable) {
        this.log.warn(`icmp: cannot forward echo requests (pings to addresses other than the gateway get no reply): ${why}`);
      }
      this.unavailable = why;
      this.retryAt = now + this.retryMs;
      return undefined;
    }
    if (this.unavailable !== undefined) this.log.info('icmp: echo forwarding available again');
    this.unavailable = undefined;
    if (this.stats.flows >= this.maxFlows) this.evictOldest();
    const s = r.value;
    s.unref?.();
    const f = new EchoFlow(key, info.srcIp, icmpEchoId(info.buf, info.l4), info.dstIp, hostDst, formatIpv4(hostDst), info.srcMac, s, this.onTimer);
    f.lastActive = now;
    let byDst = this.flows.get(key);
    if (byDst === undefined) {
      byDst = new Map();
      this.flows.set(key, byDst);
    }
    byDst.set(f.dstIp, f);
    this.stats.flows++;
    this.stats.opened++;
    s.onReply((src, msg) => this.reply(f, src, msg));
    s.onError((e) => this.socketError(f, e));
    this.o.runtime.scheduler.arm(f.timer, now + this.idleMs);
    return f;
  }

  private reply(f: EchoFlow, src: string, msg: Buffer): void {
    if (f.closed) return;
    // macOS datagram ICMP sockets deliver the IP header too; an ICMP type byte is never 0x4_.
    const off = msg.length >= 20 && msg[0]! >> 4 === 4 ? (msg[0]! & 15) * 4 : 0;
    if (msg.length < off + ICMP_HLEN || msg[off] !== IcmpType.EchoReply) {
      this.stats.ignored++;
      return;
    }
    const kernelId = f.socket.identifier;
    if (kernelId !== 0 && u16be(msg, off + 4) !== kernelId) {
      this.stats.ignored++;
      return;
    }
    f.lastActive = this.o.runtime.clock.now();
    const srcIp = src === f.hostLiteral ? f.hostIp : (parseIpv4(src) ?? f.hostIp);
    // The destination answered: it answers as the address the guest pinged (NAT view).
    const from = srcIp === f.hostIp ? f.dstIp : this.o.addressMap.toGuest(srcIp, f.dstIp);
    const len = msg.length - off - ICMP_HLEN;
    const d = this.o.sender.echoReply(from, f.guestIp, f.guestId, u16be(msg, off + 6), msg, off + ICMP_HLEN, len, f.guestMac);
    if (d !== Drop.None) {
      this.stats.replyDrops++;
      return;
    }
    this.stats.replies++;
    f.bytesToGuest += len;
  }

  private socketError(f: EchoFlow, e: VnetError & { code?: string }): void {
    if (f.closed) return;
    if (e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') this.unreachable(f, e.code === 'EHOSTUNREACH' ? IcmpUnreach.Host : IcmpUnreach.Net);
    else this.log.debug(`icmp: ping socket for ${f.hostLiteral}: ${e.message}`);
  }

  private unreachable(f: EchoFlow, code: number): void {
    if (f.quoteLen === 0) return;
    if (this.o.sender.unreachable(f.dstIp, f.quote, 0, f.quoteLen, code, f.guestMac) === Drop.None) this.stats.unreachableSent++;
  }

  private deny(info: FrameInfo, hostDst: number): void {
    this.stats.denied++;
    if (this.flowEvents.enabled) {
      const id = icmpEchoId(info.buf, info.l4);
      this.flowEvents.reject({ protocol: 'icmp', guestIp: info.srcIp, guestPort: id, remoteIp: info.dstIp, remotePort: 0, hostIp: hostDst, hostPort: 0 }, 'denied');
    }
    if (this.o.deniedReply === 'silent') return this.o.sender.dropped();
    const d = this.o.sender.unreachable(info.dstIp, info.buf, info.l3, info.l4 + ICMP_HLEN - info.l3, IcmpUnreach.AdminProhibited, info.srcMac);
    if (d === Drop.None) this.stats.unreachableSent++;
  }

  private drop(): void {
    this.stats.dropped++;
    this.o.sender.dropped();
  }

  private evictOldest(): void {
    let oldest: EchoFlow | undefined;
    for (const byDst of this.flows.values()) for (const f of byDst.values()) if (oldest === undefined || f.lastActive < oldest.lastActive) oldest = f;
    if (oldest !== undefined) {
      this.stats.evicted++;
      this.closeFlow(oldest, 'limit');
    }
  }

  private closeFlow(f: EchoFlow, reason: FlowCloseReason): void {
    if (f.closed) return;
    f.closed = true;
    this.o.runtime.scheduler.disarm(f.timer);
    const byDst = this.flows.get(f.key);
    byDst?.delete(f.dstIp);
    if (byDst !== undefined && byDst.size === 0) this.flows.delete(f.key);
    this.stats.flows--;
    f.socket.close();
    const h = f.events;
    if (h !== undefined) {
      f.events = undefined;
      this.flowEvents.close(h, f.bytesToGuest, f.bytesFromGuest, reason);
    }
  }
}

/** A flow's addresses for an event: ports are the guest's identifier and the host socket's. */
function tupleOf(f: EchoFlow): FlowTuple {
  return { protocol: 'icmp', guestIp: f.guestIp, guestPort: f.guestId, remoteIp: f.dstIp, remotePort: 0, hostIp: f.hostIp, hostPort: f.socket.identifier };
}
