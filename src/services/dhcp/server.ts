/**
 * The gateway's DHCP server (RFC 2131) on UDP 67, over a narrow UDP handle ({@link DhcpUdp},
 * which the stack's `UdpLayer` satisfies). It answers DISCOVER with OFFER, REQUEST with ACK or
 * NAK (RFC 2131 §4.3.2), INFORM with an ACK without lease fields (§4.3.5), and records RELEASE
 * (§4.3.4) and DECLINE (§4.3.3). Addresses come from a {@link LeasePool}.
 *
 * Where we differ from vpnkit (protocols.md §4.3) on purpose: we keep a lease database, so
 * INIT-REBOOT, RENEWING and REBINDING requests are answered (ACK, or NAK when the address is
 * not the client's) instead of ignored; we send option 26 (see reply.ts); and we are
 * authoritative: an INIT-REBOOT for a free, valid address from a client we have no record of is
 * ACKed (it had the address before a restart without a leases file) rather than ignored as
 * RFC 2131 §4.3.2 asks of servers that share a wire — nobody else serves this network.
 *
 * Malformed messages (see wire/dhcp.ts), BOOTP without option 53, non-Ethernet `htype`, replies
 * (`op` 2) and messages for other servers are dropped silently and counted.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import { wallClockMs } from '../../runtime/clock.js';
import { Timer, type Scheduler } from '../../runtime/scheduler.js';
import { broadcastOf, cidrContains, formatIpv4, formatMac } from '../../wire/address.js';
import {
  BootpOp,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  dhcpChaddrMac,
  dhcpCiaddr,
  dhcpFlags,
  dhcpGiaddr,
  dhcpHlen,
  dhcpHostName,
  dhcpHtype,
  DhcpInfo,
  DhcpMessageType,
  dhcpOp,
  dhcpXid,
  HTYPE_ETHERNET,
  parseDhcp,
} from '../../wire/dhcp.js';
import { dhcpReprLength, emitDhcp, type DhcpRepr } from '../../wire/dhcp-repr.js';
import { Drop, type DropCode } from '../../wire/drop.js';
import type { FrameInfo } from '../../wire/frame-info.js';
import { ANY_ADDRESS } from '../../stack/udp.js';
import type { DhcpServerError, VmnetBindError } from './dhcp-errors.js';
import { encodeDomainSearch, domainLabels, type DomainNameError } from './domain-search.js';
import type { Lease, LeasePool } from './lease-pool.js';
import { buildNak, buildOfferOrAck, replyDestination, type ReplyConfig, type ReplyContext } from './reply.js';

/** The UDP operations the server needs; `UdpLayer` from stack/udp.ts provides them. */
export interface DhcpUdp {
  bind(ip: number, port: number, handler: (info: FrameInfo) => void): () => void;
  send(src: number, srcPort: number, dst: number, dstPort: number, data: Uint8Array, dstMac?: number): DropCode;
}

/** A lease granted or renewed (shape of the facade's `lease` event). */
export interface DhcpLeaseEvent {
  ip: string;
  mac: string;
  uuid?: string;
  hostname?: string;
  /** Absolute expiry, ms since the epoch (a pinned vmnet lease: one lease time from now). */
  expiresAt: number;
}

/** A lease ended: released by its client, declined, or expired (the facade's `release` event plus why). */
export interface DhcpReleaseEvent {
  ip: string;
  mac: string;
  uuid?: string;
  hostname?: string;
  reason: 'released' | 'declined' | 'expired';
}

/** Options of {@link DhcpServer.create}. */
export interface DhcpServerOptions {
  readonly udp: DhcpUdp;
  readonly pool: LeasePool;
  /** Arms the lease-expiry timer; its clock must be the pool's. */
  readonly scheduler: Scheduler;
  /** The server identifier and reply source (the gateway). */
  readonly serverIp: number;
  /** Option 3; default the server. */
  readonly router?: number;
  /** Option 6; default the server (the gateway runs DNS). */
  readonly dnsServers?: readonly number[];
  /** Option 26. */
  readonly mtu: number;
  /** Option 15. */
  readonly domainName?: string;
  /** Option 119 (RFC 3397). */
  readonly searchDomains?: readonly string[];
  /** Taught every ACKed address (RFC 826-style learning without waiting for ARP). */
  readonly neighbours?: { learn(ip: number, mac: number): void };
  /** Wall clock for event times, ms since the epoch. Default {@link wallClockMs}. */
  readonly wallNow?: () => number;
  readonly onLease?: (e: DhcpLeaseEvent) => void;
  readonly onRelease?: (e: DhcpReleaseEvent) => void;
  /** Exhaustion, NAKs (after the NAK went out), declines. */
  readonly onError?: (e: DhcpServerError) => void;
}

/** Counters for `/stats`. */
export interface DhcpStats {
  discovers: number;
  offers: number;
  requests: number;
  acks: number;
  naks: number;
  declines: number;
  releases: number;
  informs: number;
  /** Messages dropped without a reply (malformed, not for us, exhausted, failed to send). */
  dropped: number;
}

/** The server. */
export class DhcpServer {
  readonly stats: DhcpStats = { discovers: 0, offers: 0, requests: 0, acks: 0, naks: 0, declines: 0, releases: 0, informs: 0, dropped: 0 };
  private readonly info = new DhcpInfo();
  private readonly timer = new Timer((now) => this.expired(now));
  private readonly unbind: () => void;
  private readonly unsubscribe: () => void;
  private readonly wallNow: () => number;
  private readonly subnetBroadcast: number;

  private constructor(
    private readonly o: DhcpServerOptions,
    private readonly cfg: ReplyConfig,
  ) {
    this.wallNow = o.wallNow ?? wallClockMs;
    this.subnetBroadcast = broadcastOf(o.pool.config.subnet);
    this.unbind = o.udp.bind(ANY_ADDRESS, DHCP_SERVER_PORT, (info) => this.input(info));
    this.unsubscribe = o.pool.onChange(() => this.rearm());
    this.rearm();
  }

  /** Validates the configured names and starts serving on UDP 67. */
  static create(o: DhcpServerOptions): Result<DhcpServer, DomainNameError> {
    let domainSearch: Uint8Array | undefined;
    if (o.searchDomains !== undefined && o.searchDomains.length > 0) {
      const s = encodeDomainSearch(o.searchDomains);
      if (s.isErr()) return err(s.error);
      domainSearch = s.value;
    }
    if (o.domainName !== undefined) {
      const d = domainLabels(o.domainName);
      if (d.isErr()) return err(d.error);
    }
    const cfg: ReplyConfig = {
      serverIp: o.serverIp,
      subnet: o.pool.config.subnet,
      router: o.router ?? o.serverIp,
      dnsServers: o.dnsServers ?? [o.serverIp],
      mtu: o.mtu,
      ...(o.domainName !== undefined ? { domainName: o.domainName.replace(/\.$/, '') } : {}),
      ...(domainSearch !== undefined ? { domainSearch } : {}),
    };
    return ok(new DhcpServer(o, cfg));
  }

  /**
   * The vmnet handshake's binding (protocols.md §1.7), through the pool, plus what an ACK does:
   * the neighbour cache learns the address and `onLease` fires. Errors carry vpnkit's reasons.
   */
  bindVmnet(uuid: string, mac: number, preferredIp?: number): Result<Lease, VmnetBindError> {
    const r = this.o.pool.bindVmnet(uuid, mac, preferredIp);
    if (r.isOk()) this.granted(r.value);
    return r;
  }

  /** The vmnet NIC detached: its lease now runs out normally. */
  unbindVmnet(uuid: string): void {
    this.o.pool.unbindVmnet(uuid);
  }

  /** Stops serving (the pool and its leases stay). */
  close(): void {
    this.unbind();
    this.unsubscribe();
    this.o.scheduler.disarm(this.timer);
  }

  /** A datagram to UDP 67; `info` is borrowed. */
  input(info: FrameInfo): void {
    const r = this.handle(info);
    if (r !== Drop.None) this.stats.dropped++;
  }

  private handle(f: FrameInfo): DropCode {
    // RFC 2131 §4.1: clients send from 68, relays from 67; requests go to us or to broadcast.
    if (f.srcPort !== DHCP_CLIENT_PORT && f.srcPort !== DHCP_SERVER_PORT) return Drop.NotForUs;
    if (f.dstIp !== this.o.serverIp && f.dstIp !== 0xffffffff && f.dstIp !== this.subnetBroadcast) return Drop.NotForUs;
    const d = this.info;
    const b = f.buf;
    const m = f.payload;
    const r = parseDhcp(b, m, f.payloadLen, d);
    if (r !== Drop.None) return r;
    if (dhcpOp(b, m) !== BootpOp.Request || d.messageType === 0) return Drop.Unsupported;
    if (dhcpHtype(b, m) !== HTYPE_ETHERNET || dhcpHlen(b, m) !== 6) return Drop.Unsupported;
    const giaddr = dhcpGiaddr(b, m);
    if (giaddr !== 0 && !cidrContains(this.o.pool.config.subnet, giaddr)) return Drop.NotForUs;
    const ctx: ReplyContext = {
      xid: dhcpXid(b, m),
      flags: dhcpFlags(b, m),
      ciaddr: dhcpCiaddr(b, m),
      giaddr,
      chaddr: dhcpChaddrMac(b, m),
      prl: b.subarray(d.prlOff, d.prlOff + d.prlLen),
      maxMessageSize: d.maxMessageSize,
    };
    switch (d.messageType) {
      case DhcpMessageType.Discover:
        return this.discover(ctx, f.srcMac);
      case DhcpMessageType.Request:
        return this.request(ctx, f.srcMac);
      case DhcpMessageType.Decline:
        return this.decline(ctx);
      case DhcpMessageType.Release:
        return this.release(ctx);
      case DhcpMessageType.Inform:
        return this.inform(ctx, f.srcMac, f.srcIp);
      default:
        return Drop.Unsupported;
    }
  }

  /** RFC 2131 §4.3.1. */
  private discover(ctx: ReplyContext, srcMac: number): DropCode {
    this.stats.discovers++;
    const offered = this.o.pool.offer(ctx.chaddr, this.info.requestedIp, dhcpHostName(this.info));
    if (offered.isErr()) {
      const mac = formatMac(ctx.chaddr);
      this.o.onError?.(vnetError('pool-exhausted', `No IP addresses available for ${mac}.`, { mac }));
      return Drop.Limit;
    }
    const repr = buildOfferOrAck(DhcpMessageType.Offer, ctx, this.cfg, offered.value.ip, this.leaseSecFor());
    const sent = this.send(DhcpMessageType.Offer, ctx, repr, srcMac);
    if (sent === Drop.None) this.stats.offers++;
    return sent;
  }

  /** RFC 2131 §4.3.2: which state the client is in decides which address it asks for. */
  private request(ctx: ReplyContext, srcMac: number): DropCode {
    this.stats.requests++;
    const d = this.info;
    let ip: number;
    if (d.serverId >= 0) {
      // SELECTING: the server identifier names the server the client chose.
      if (d.serverId !== this.o.serverIp) {
        this.o.pool.cancelOffer(ctx.chaddr);
        return Drop.NotForUs;
      }
      if (d.requestedIp < 0) return Drop.BadLength;
      ip = d.requestedIp;
    } else if (d.requestedIp >= 0) {
      // INIT-REBOOT: the client remembers an address and asks to keep it.
      ip = d.requestedIp;
    } else if (ctx.ciaddr !== 0) {
      // RENEWING (unicast to us) or REBINDING (broadcast): the address is in ciaddr.
      ip = ctx.ciaddr;
    } else return Drop.BadLength;
    const leaseSec = this.leaseSecFor();
    const bound = this.o.pool.bind(ctx.chaddr, ip, leaseSec, dhcpHostName(d));
    if (bound.isErr()) {
      const sent = this.send(DhcpMessageType.Nak, ctx, buildNak(ctx, this.cfg, bound.error.message), srcMac);
      if (sent === Drop.None) this.stats.naks++;
      const s = formatIpv4(ip);
      const mac = formatMac(ctx.chaddr);
      this.o.onError?.(vnetError('dhcp-nak', `DHCPNAK to ${mac} for ${s}: ${bound.error.message}`, { ip: s, mac, reason: bound.error.reason }));
      return sent;
    }
    const sent = this.send(DhcpMessageType.Ack, ctx, buildOfferOrAck(DhcpMessageType.Ack, ctx, this.cfg, ip, leaseSec), srcMac);
    if (sent === Drop.None) this.stats.acks++;
    this.granted(bound.value);
    return sent;
  }

  /** RFC 2131 §4.3.3: the client found its address in use (ARP); quarantine it, no reply. */
  private decline(ctx: ReplyContext): DropCode {
    const d = this.info;
    if ((d.serverId >= 0 && d.serverId !== this.o.serverIp) || d.requestedIp < 0) return Drop.NotForUs;
    const l = this.o.pool.decline(ctx.chaddr, d.requestedIp);
    if (l === undefined) return Drop.NotForUs;
    this.stats.declines++;
    const ip = formatIpv4(l.ip);
    const mac = formatMac(ctx.chaddr);
    this.o.onRelease?.({ ...this.describe(l), reason: 'declined' });
    const quarantineMs = this.o.pool.config.declineQuarantineMs;
    this.o.onError?.(vnetError('address-declined', `${mac} declined ${ip}: another host answers for it; quarantined for ${quarantineMs / 1000} s`, { ip, mac, quarantineMs }));
    return Drop.None;
  }

  /** RFC 2131 §4.3.4: the client gives its address (ciaddr) back; no reply. */
  private release(ctx: ReplyContext): DropCode {
    const d = this.info;
    if (d.serverId >= 0 && d.serverId !== this.o.serverIp) return Drop.NotForUs;
    const l = this.o.pool.release(ctx.chaddr, ctx.ciaddr);
    if (l === undefined) return Drop.NotForUs;
    this.stats.releases++;
    this.o.onRelease?.({ ...this.describe(l), reason: 'released' });
    return Drop.None;
  }

  /** RFC 2131 §4.3.5: configuration for a client that has its address already; no lease. */
  private inform(ctx: ReplyContext, srcMac: number, srcIp: number): DropCode {
    this.stats.informs++;
    // The ACK goes to ciaddr; a client that left it empty is answered at the packet's source.
    const c = ctx.ciaddr !== 0 ? ctx : { ...ctx, ciaddr: srcIp };
    const sent = this.send(DhcpMessageType.Ack, c, buildOfferOrAck(DhcpMessageType.Ack, c, this.cfg, 0, undefined), srcMac);
    if (sent === Drop.None) this.stats.acks++;
    return sent;
  }

  /** The lease time to grant: the default (option 51 requests are capped at the maximum, RFC 2131 §3.3). */
  private leaseSecFor(): number {
    const c = this.o.pool.config;
    const asked = this.info.leaseTime;
    return asked > 0 ? Math.min(asked, c.maxLeaseTimeSec) : c.leaseTimeSec;
  }

  private send(type: number, ctx: ReplyContext, repr: DhcpRepr, srcMac: number): DropCode {
    const dst = replyDestination(type, ctx, repr.yiaddr, srcMac);
    const bytes = new Uint8Array(dhcpReprLength(repr));
    emitDhcp(repr, bytes, 0);
    return this.o.udp.send(this.o.serverIp, DHCP_SERVER_PORT, dst.ip, dst.port, bytes, dst.mac);
  }

  private granted(l: Lease): void {
    this.o.neighbours?.learn(l.ip, l.mac);
    const e = this.describe(l);
    this.o.onLease?.({ ...e, expiresAt: this.expiresAtWall(l) });
  }

  /**
   * When `l` expires, in ms since the epoch (the pool keeps monotonic time). A pinned lease
   * (vmnet preferred IP) is reported as renewed for a full lease from now.
   */
  expiresAtWall(l: Pick<Lease, 'expiresAt' | 'pinned'>): number {
    return this.toWall(l.pinned ? Math.max(l.expiresAt, this.o.scheduler.clock.now() + this.o.pool.leaseMs) : l.expiresAt);
  }

  private describe(l: Lease): { ip: string; mac: string; uuid?: string; hostname?: string } {
    return {
      ip: formatIpv4(l.ip),
      mac: formatMac(l.mac),
      ...(l.uuid !== undefined ? { uuid: l.uuid } : {}),
      ...(l.hostname !== undefined ? { hostname: l.hostname } : {}),
    };
  }

  private toWall(mono: number): number {
    return Math.round(this.wallNow() + (mono - this.o.scheduler.clock.now()));
  }

  private rearm(): void {
    this.o.scheduler.arm(this.timer, this.o.pool.nextExpiry());
  }

  private expired(now: number): void {
    for (const l of this.o.pool.expire(now)) this.o.onRelease?.({ ...this.describe(l), reason: 'expired' });
    this.rearm();
  }
}
