/**
 * One exposed UDP port: a host UDP socket on hostIp:hostPort whose datagrams go to the guest port.
 * Each host client (address and port) is a flow with its own source as the guest sees it
 * (expose-source.ts: by default the client's own address and port, a loopback client as the
 * host-loopback alias with its port, else the gateway and an ephemeral port). The flow binds that
 * (address, port) on the gateway's UDP layer, so the guest's replies find their way back to the
 * right client — the NAT of vpnkit's `hostnet_udp` turned around (style.md §4). Two flows never
 * share a pair: the second gets an ephemeral port on the same address ({@link UdpSources}).
 *
 * Flows expire after an idle time (default 60 s, like the outbound NAT, protocols.md §4.7) and a
 * cap evicts the least recently used; each unbinds its pair. A datagram for a guest whose MAC is
 * not known yet (a static guest that has not spoken: the gateway sends ARP and cannot build the
 * frame) waits, in order, up to a bounded time instead of being lost. Only the exposed guest
 * address and port are delivered to the client; anything else sent to a flow's pair (another
 * guest talking to the same host address and port through the outbound NAT) is handed to the UDP
 * layer's fallback, which would have taken it had the flow not bound the pair.
 * @module
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { ResultAsync } from 'neverthrow';
import type { Logger } from '../logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { Timer } from '../runtime/scheduler.js';
import type { UdpLayer } from '../stack/udp.js';
import { formatIpv4 } from '../wire/address.js';
import { Drop } from '../wire/drop.js';
import type { FrameInfo } from '../wire/frame-info.js';
import { bindUdp, type HostBinding } from './expose-listen.js';
import type { SourceChoice, UdpSources } from './expose-source.js';
import { describeHostEnd, joinHostPort, type ExposeError, type ResolvedExpose } from './expose-spec.js';

/** Forwarder-wide UDP counters (shared by every exposed UDP port). */
export interface ExposeUdpCounters {
  /** Client flows open now. */
  flows: number;
  opened: number;
  expired: number;
  evicted: number;
  /** Host → guest. */
  datagramsToGuest: number;
  bytesToGuest: number;
  /** Guest → host. */
  datagramsToHost: number;
  bytesToHost: number;
  /** Datagrams not delivered: guest unresolved too long, NIC queue full, larger than the MTU, no free source port. */
  dropped: number;
  /** Datagrams to a flow's (address, port) from another address or port than the exposed guest's (handed to the UDP fallback). */
  foreign: number;
}

/** A fresh set of {@link ExposeUdpCounters}. */
export function newExposeUdpCounters(): ExposeUdpCounters {
  return { flows: 0, opened: 0, expired: 0, evicted: 0, datagramsToGuest: 0, bytesToGuest: 0, datagramsToHost: 0, bytesToHost: 0, dropped: 0, foreign: 0 };
}

/** What an exposed UDP port needs. */
export interface ExposeUdpOptions {
  /** The gateway's UDP layer; `fallback` (the outbound NAT) gets datagrams a flow does not take. */
  udp: Pick<UdpLayer, 'bind' | 'send'> & Partial<Pick<UdpLayer, 'fallback'>>;
  runtime: Runtime;
  logger: Logger;
  counters: ExposeUdpCounters;
  /** The (address, port) pairs flows hold, shared by the forwarder's UDP ports. */
  sources: UdpSources;
  /** The source of a client's datagrams into the guest (expose-source.ts `chooseSource`). */
  source: (client: { address: string; port: number }) => SourceChoice;
  /** Idle time after which a client flow closes, ms (default 60 000). */
  idleTimeoutMs?: number;
  /** Most client flows per exposed port (default 1024); at the cap the least recently used closes. */
  maxFlows?: number;
  /** How long datagrams wait for the guest's MAC, ms (default 3000). */
  resolveWaitMs?: number;
}

/** Retry interval while waiting for ARP, ms (a guest kernel answers ARP in microseconds). */
const RESOLVE_RETRY_MS = 50;
/** Datagrams kept per flow while waiting for ARP. */
const MAX_WAITING = 64;

class ClientFlow {
  lastActive = 0;
  closed = false;
  unbind: () => void = () => {};
  /** Datagrams waiting for the guest's MAC, oldest first. */
  readonly waiting: Buffer[] = [];
  waitingSince = 0;
  readonly idle: Timer;
  readonly retry: Timer;
  constructor(
    readonly key: string,
    readonly address: string,
    readonly port: number,
    readonly socket: UdpSocket,
    /** The source the guest sees, bound on the gateway's UDP layer. */
    readonly srcIp: number,
    readonly srcPort: number,
    owner: ExposeUdp,
  ) {
    this.idle = new Timer((now) => owner.idleCheck(this, now));
    this.retry = new Timer((now) => owner.retryWaiting(this, now));
  }
}

/** One exposed UDP port. */
export class ExposeUdp {
  private binding: HostBinding<UdpSocket> | undefined;
  private readonly flows = new Map<string, ClientFlow>();
  private closed = false;
  private readonly idleMs: number;
  private readonly maxFlows: number;
  private readonly resolveWaitMs: number;
  private readonly c: ExposeUdpCounters;
  /** The port for log lines (`127.0.0.1:2222/tcp -> 192.168.65.2:22`), with a port 0 resolved once bound. */
  private what: string;

  constructor(
    private readonly p: ResolvedExpose,
    private readonly o: ExposeUdpOptions,
  ) {
    this.idleMs = o.idleTimeoutMs ?? 60_000;
    this.maxFlows = o.maxFlows ?? 1024;
    this.resolveWaitMs = o.resolveWaitMs ?? 3000;
    this.c = o.counters;
    this.what = `${describeHostEnd(p)} -> ${formatIpv4(p.guestIp)}:${p.guestPort}`;
  }

  /** Binds the host socket(s); resolves with the bound port. */
  start(): ResultAsync<number, ExposeError> {
    return bindUdp(this.p, (m, from, s) => this.fromHost(m, from, s)).map((b) => {
      this.binding = b;
      this.what = `${describeHostEnd({ ...this.p, hostPort: b.port })} -> ${formatIpv4(this.p.guestIp)}:${this.p.guestPort}`;
      return b.port;
    });
  }

  /** Client flows open now. */
  get connections(): number {
    return this.flows.size;
  }

  /** Closes the host socket(s) and every client flow. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const f of [...this.flows.values()]) this.closeFlow(f);
    for (const s of this.binding?.sockets ?? []) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }

  /** A snapshot of the client flows (for stats and debugging). */
  table(): Array<{ client: string; source: string; idleMs: number }> {
    const now = this.o.runtime.clock.now();
    return [...this.flows.values()].map((f) => ({ client: joinHostPort(f.address, f.port), source: `${formatIpv4(f.srcIp)}:${f.srcPort}`, idleMs: now - f.lastActive }));
  }

  private fromHost(msg: Buffer, from: { address: string; port: number }, s: UdpSocket): void {
    if (this.closed) return;
    const key = joinHostPort(from.address, from.port);
    let f = this.flows.get(key);
    if (f === undefined) {
      f = this.open(key, from, s);
      if (f === undefined) {
        this.c.dropped++;
        return;
      }
    }
    const now = this.o.runtime.clock.now();
    f.lastActive = now;
    // Keep the order: behind datagrams already waiting for ARP.
    if (f.waiting.length > 0) {
      this.wait(f, msg, now);
      return;
    }
    const r = this.o.udp.send(f.srcIp, f.srcPort, this.p.guestIp, this.p.guestPort, msg);
    if (r === Drop.None) this.countToGuest(msg.length);
    else if (r === Drop.NotForUs) this.wait(f, msg, now);
    else this.c.dropped++;
  }

  private countToGuest(n: number): void {
    this.c.datagramsToGuest++;
    this.c.bytesToGuest += n;
  }

  /** Holds a datagram until the guest's MAC is known (the gateway sent ARP). */
  private wait(f: ClientFlow, msg: Buffer, now: number): void {
    if (f.waiting.length >= MAX_WAITING) {
      this.c.dropped++;
      return;
    }
    if (f.waiting.length === 0) f.waitingSince = now;
    f.waiting.push(msg);
    if (f.retry.at === Infinity) this.o.runtime.scheduler.arm(f.retry, now + RESOLVE_RETRY_MS);
  }

  /** @internal retry timer: sends what waits, in order, until one still cannot go. */
  retryWaiting(f: ClientFlow, now: number): void {
    if (f.closed) return;
    while (f.waiting.length > 0) {
      const m = f.waiting[0]!;
      const r = this.o.udp.send(f.srcIp, f.srcPort, this.p.guestIp, this.p.guestPort, m);
      if (r === Drop.NotForUs) break;
      f.waiting.shift();
      if (r === Drop.None) this.countToGuest(m.length);
      else this.c.dropped++;
    }
    if (f.waiting.length === 0) return;
    if (now - f.waitingSince >= this.resolveWaitMs) {
      this.c.dropped += f.waiting.length;
      f.waiting.length = 0;
      this.o.logger.warn(`${this.what}: datagrams dropped: no ARP answer from ${formatIpv4(this.p.guestIp)} within ${this.resolveWaitMs} ms`);
      return;
    }
    this.o.runtime.scheduler.arm(f.retry, now + RESOLVE_RETRY_MS);
  }

  private open(key: string, from: { address: string; port: number }, s: UdpSocket): ClientFlow | undefined {
    if (this.flows.size >= this.maxFlows) this.evictOldest();
    const src = this.o.source(from);
    const port = this.o.sources.take(src.ip, src.port);
    if (port === undefined) {
      this.o.logger.warn(`${this.what}: no free UDP source port on ${formatIpv4(src.ip)} for client ${key}`);
      return undefined;
    }
    if (src.why !== undefined) this.o.logger.debug(`${this.what}: client ${key} appears as the gateway: ${src.why}`);
    else if (port !== src.port) this.o.logger.debug(`${this.what}: client ${key}: ${formatIpv4(src.ip)}:${src.port} is held by another flow; the guest sees ${formatIpv4(src.ip)}:${port}`);
    const f = new ClientFlow(key, from.address, from.port, s, src.ip, port, this);
    f.unbind = this.o.udp.bind(src.ip, port, (info) => this.fromGuest(f, info));
    this.flows.set(key, f);
    this.c.flows++;
    this.c.opened++;
    const now = this.o.runtime.clock.now();
    f.lastActive = now;
    this.o.runtime.scheduler.arm(f.idle, now + this.idleMs);
    return f;
  }

  private fromGuest(f: ClientFlow, info: FrameInfo): void {
    if (f.closed) return;
    if (info.srcIp !== this.p.guestIp || info.srcPort !== this.p.guestPort) {
      // Not this flow's guest end: what the layer would have done without our binding (the NAT).
      this.c.foreign++;
      this.o.udp.fallback?.(info);
      return;
    }
    f.lastActive = this.o.runtime.clock.now();
    // The frame is borrowed and dgram keeps the buffer until the send completes: copy.
    const data = Buffer.from(info.buf.subarray(info.payload, info.payload + info.payloadLen));
    this.c.datagramsToHost++;
    this.c.bytesToHost += data.length;
    try {
      f.socket.send(data, f.port, f.address);
    } catch {
      this.c.dropped++; // the host socket closed under us (unexpose in progress)
    }
  }

  /** @internal idle timer */
  idleCheck(f: ClientFlow, now: number): void {
    if (f.closed) return;
    if (now - f.lastActive >= this.idleMs) {
      this.c.expired++;
      this.closeFlow(f);
    } else this.o.runtime.scheduler.arm(f.idle, f.lastActive + this.idleMs);
  }

  private evictOldest(): void {
    let oldest: ClientFlow | undefined;
    for (const f of this.flows.values()) if (oldest === undefined || f.lastActive < oldest.lastActive) oldest = f;
    if (oldest !== undefined) {
      this.c.evicted++;
      this.closeFlow(oldest);
    }
  }

  private closeFlow(f: ClientFlow): void {
    if (f.closed) return;
    f.closed = true;
    this.o.runtime.scheduler.disarm(f.idle);
    this.o.runtime.scheduler.disarm(f.retry);
    f.unbind();
    this.o.sources.give(f.srcIp, f.srcPort);
    this.flows.delete(f.key);
    this.c.flows--;
    this.c.dropped += f.waiting.length;
    f.waiting.length = 0;
  }
}
