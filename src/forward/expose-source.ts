/**
 * Where traffic through an exposed port comes from, as the guest sees it (user-needs.md row 6).
 *
 * By default the guest sees the real client: the gateway's TCP endpoint is promiscuous and can
 * open a connection from any address, and the guest's reply to that address reaches the gateway
 * by its default route (or by ARP, for the host-loopback alias). So a client at 10.0.0.5:40000
 * appears as 10.0.0.5:40000, and a loopback client (127.0.0.0/8, ::1) as the host-loopback alias
 * with its own port (192.168.65.254:40000), the address the guest already uses to reach the host.
 *
 * The gateway's address and an ephemeral port are used instead when the real one cannot work:
 * `preserveClientAddress: false`; a Unix-socket client (it has no address); a loopback client
 * with the alias disabled; an IPv6 client that is not loopback (the guest network is IPv4 only);
 * an IPv4 client inside the guest subnet (the guest would answer it on the link, not through the
 * gateway). When only the port is taken (another flow of ours holds the same tuple, or held it
 * recently) the address is kept and the port becomes ephemeral.
 *
 * Also here: the bookkeeping that finds those taken ports — {@link UdpSources} for UDP, whose
 * gateway bindings are keyed by (address, port), and {@link RecentTuples} for TCP, whose closed
 * tuples may still sit in the guest's TIME-WAIT.
 * @module
 */
import { isIPv4 } from 'node:net';
import type { Clock } from '../runtime/clock.js';
import type { Rng } from '../runtime/rng.js';
import { parseIpv4 } from '../wire/address.js';

/** Where a connection or datagram into the guest comes from. */
export interface ConnectSource {
  ip: number;
  /** The client's own port; absent: an ephemeral port. */
  port?: number;
}

/** Why a source is what it is (for log lines and tests). */
export type SourceKind =
  /** The client's own IPv4 address and port. */
  | 'client'
  /** A loopback client shown as the host-loopback alias, with its own port. */
  | 'alias'
  /** The gateway's address and an ephemeral port. */
  | 'gateway';

/** The source chosen for one client, with the reason when it is not the client's own. */
export interface SourceChoice extends ConnectSource {
  kind: SourceKind;
  /** Why the gateway stands in for a client whose address was to be kept (kind `gateway` only). */
  why?: string;
}

/** What {@link chooseSource} needs to know about the network. */
export interface SourceContext {
  gatewayIp: number;
  /** The host-loopback alias, or -1 when disabled. */
  hostLoopbackIp: number;
  /** Whether `ip` is a guest address of the subnet (such a client is answered on the link). */
  isGuestAddress(ip: number): boolean;
}

/** A host client as a socket reports it (`remoteAddress`, `remotePort`); both absent for a Unix socket. */
export interface ClientAddress {
  address?: string | undefined;
  port?: number | undefined;
}

/** The IPv4 address inside `::ffff:a.b.c.d` (a dual-stack socket's IPv4 client), else `s`. */
function unmapped(s: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  return m === null ? s : m[1]!;
}

/** Whether a host address is loopback: 127.0.0.0/8 or ::1 (also as `::ffff:127.x.y.z`). */
export function isLoopbackAddress(address: string): boolean {
  const a = unmapped(address);
  if (isIPv4(a)) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

/**
 * The source the guest should see for a host client. Pure: port collisions are the caller's
 * (TCP: the endpoint refuses a taken tuple; UDP: {@link UdpSources}).
 */
export function chooseSource(client: ClientAddress, preserve: boolean, ctx: SourceContext): SourceChoice {
  const gateway = (why: string): SourceChoice => ({ ip: ctx.gatewayIp, kind: 'gateway', why });
  if (!preserve) return { ip: ctx.gatewayIp, kind: 'gateway' };
  const { address, port } = client;
  if (address === undefined || address === '' || port === undefined || port <= 0) return gateway('the client has no address (Unix socket)');
  if (isLoopbackAddress(address)) {
    if (ctx.hostLoopbackIp < 0) return gateway('the host-loopback alias is disabled');
    return { ip: ctx.hostLoopbackIp, port, kind: 'alias' };
  }
  const v4 = parseIpv4(unmapped(address));
  if (v4 === undefined) return gateway('the guest network is IPv4 only');
  if (ctx.isGuestAddress(v4)) return gateway('the client address is inside the guest subnet');
  // 0.0.0.0/8, multicast and broadcast are never a TCP peer; a UDP datagram claiming one cannot be answered.
  if (v4 >>> 24 === 0 || v4 >>> 28 >= 14) return gateway('the client address is not unicast');
  return { ip: v4, port, kind: 'client' };
}

/** Ephemeral range of RFC 6335 §6, for sources without the client's port. */
export const EPHEMERAL_LOW = 49152;
export const EPHEMERAL_COUNT = 16384;

/**
 * The (address, port) pairs that exposed UDP flows bind on the gateway's UDP layer, shared by every
 * exposed UDP port of a forwarder: a binding is keyed by the pair alone, so two flows must never
 * hold the same one (e.g. clients 127.0.0.1:5000 and [::1]:5000 both shown as the alias).
 */
export class UdpSources {
  private readonly used = new Map<number, Set<number>>();
  constructor(private readonly rng: Rng) {}

  /** Takes `want` on `ip` when free, else a free ephemeral port there; undefined when none is left. */
  take(ip: number, want?: number): number | undefined {
    let ports = this.used.get(ip);
    if (ports === undefined) {
      ports = new Set();
      this.used.set(ip, ports);
    }
    if (want !== undefined && !ports.has(want)) {
      ports.add(want);
      return want;
    }
    const p = this.ephemeral(ports);
    if (p !== undefined) ports.add(p);
    else if (ports.size === 0) this.used.delete(ip);
    return p;
  }

  /** Whether `port` on `ip` is taken. */
  has(ip: number, port: number): boolean {
    return this.used.get(ip)?.has(port) ?? false;
  }

  /** Gives a pair back. */
  give(ip: number, port: number): void {
    const ports = this.used.get(ip);
    if (ports === undefined) return;
    ports.delete(port);
    if (ports.size === 0) this.used.delete(ip);
  }

  private ephemeral(ports: Set<number>): number | undefined {
    for (let tries = 0; tries < 64; tries++) {
      const p = EPHEMERAL_LOW + (this.rng.u32() % EPHEMERAL_COUNT);
      if (!ports.has(p)) return p;
    }
    // Nearly full: scan instead of guessing.
    for (let p = EPHEMERAL_LOW; p < EPHEMERAL_LOW + EPHEMERAL_COUNT; p++) if (!ports.has(p)) return p;
    return undefined;
  }
}

/** How long a closed TCP tuple is avoided: Linux's TIME-WAIT (TCP_TIMEWAIT_LEN, 60 s). */
export const RECENT_TUPLE_MS = 60_000;
/** Most tuples remembered; beyond it the oldest are forgotten (a forgotten one costs at most a SYN retry). */
export const RECENT_TUPLE_CAP = 16_384;

/**
 * TCP tuples (source, guest end) of exposed connections that closed in the last minute. A guest
 * that closed first holds the tuple in TIME-WAIT; a new SYN on it is accepted only when its
 * sequence number or timestamp is higher than the old connection's, and ours are random, so the
 * guest may answer with an old ACK instead and the client waits for our retransmission (1 s).
 * Loopback clients reuse ports quickly (Linux `tcp_tw_reuse` = 2), so a reused tuple is common
 * under load: it gets an ephemeral port instead.
 */
export class RecentTuples {
  /** Key → time it closed, oldest first (a Map keeps insertion order). */
  private readonly closedAt = new Map<string, number>();
  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = RECENT_TUPLE_MS,
    private readonly cap = RECENT_TUPLE_CAP,
  ) {}

  static key(srcIp: number, srcPort: number, guestIp: number, guestPort: number): string {
    return `${srcIp}:${srcPort}>${guestIp}:${guestPort}`;
  }

  /** Remembers a tuple that just closed. */
  add(key: string): void {
    this.closedAt.delete(key);
    this.closedAt.set(key, this.clock.now());
    this.prune();
  }

  /** Whether a tuple closed less than the TTL ago. */
  has(key: string): boolean {
    this.prune();
    return this.closedAt.has(key);
  }

  /** Tuples remembered now. */
  get size(): number {
    this.prune();
    return this.closedAt.size;
  }

  private prune(): void {
    const cutoff = this.clock.now() - this.ttlMs;
    for (const [k, at] of this.closedAt) {
      if (at > cutoff && this.closedAt.size <= this.cap) break;
      this.closedAt.delete(k);
    }
  }
}
