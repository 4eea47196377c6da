/**
 * Outbound TCP NAT, connect-first (protocols.md §4.8, style.md §4 and §5.2): a guest's SYN to a
 * tuple nobody owns reaches {@link TcpOutbound.handleSyn} through the endpoint's `onSyn` hook.
 * Limits and the egress policy are checked first; then a host socket connects to the real
 * destination (the host-loopback alias maps to 127.0.0.1, same port) while the SYN stays pending
 * (the endpoint ignores duplicate SYNs meanwhile). Only when the host accepted does the guest get
 * SYN-ACK, so "connection refused" is exactly what the host saw:
 *
 * - host accepted → `req.accept()`, then {@link TcpFlow} pumps both ways;
 * - ECONNREFUSED → RST to the guest at once (`req.refuse()`);
 * - timeout, unreachable, other errors → ICMP destination-unreachable through the injected
 *   `sendIcmpUnreachable` when wired (the guest's connect fails fast with EHOSTUNREACH, as a
 *   router would report), else RST. Either way the guest does not hang on SYN retries.
 * - denied by the egress policy or over `maxFlows` → RST; over the per-source rate → the SYN is
 *   dropped (the guest's own SYN retry is the backoff).
 *
 * Long-lived flows (user-needs row 12): an ESTABLISHED flow is never reaped for being idle unless
 * `idleTimeoutMs` asks for it. Any segment from the guest counts as activity, a keepalive probe
 * included (a bare ACK with SEG.SEQ = RCV.NXT-1, RFC 9293 §3.8.4, which the endpoint answers with
 * an ACK because it falls outside the window); host data counts through the guest's ACKs of it. Host sockets get kernel
 * keepalive (`hostKeepaliveMs`), so a dead remote is eventually noticed and NATs or VPNs between
 * the host and the remote keep the mapping of a quiet connection.
 *
 * Flow events ({@link FlowEventSink}): `flowEvents.enabled` is read once per SYN; an accepted
 * flow reports open and close, an attempt that fails reports one close with `opened: false`.
 * @module
 */
import { connect as netConnect, type Socket } from 'node:net';
import { endOfTurn } from '../runtime/end-of-turn.js';
import type { Runtime } from '../runtime/runtime.js';
import { Timer } from '../runtime/scheduler.js';
import type { CloseReason } from '../stack/tcp/connection.js';
import type { TcpEndpoint } from '../stack/tcp/endpoint.js';
import type { SynRequest } from '../stack/tcp/syn-request.js';
import { formatIpv4, parseIpv4 } from '../wire/address.js';
import { hostAddressOf } from './address-map.js';
import { noFlowEvents, type FlowEventSink, type FlowTuple } from './flow-events.js';
import { addGuestCount, type GuestCounts } from './guest-counts.js';
import { HostFlushQueue } from './host-flush-queue.js';
import { SourceRateLimit } from './tcp-rate-limit.js';
import { TcpFlow, type FlowOwner } from './tcp-flow.js';

/** Why a host connect failed, as told to `sendIcmpUnreachable`. */
export type UnreachableReason = 'host-unreachable' | 'net-unreachable' | 'timeout';

/** Options of {@link TcpOutbound}. */
export interface TcpOutboundOptions {
  endpoint: TcpEndpoint;
  runtime: Runtime;
  /** The host-loopback alias (cli.md default 192.168.65.254); -1 disables the mapping. */
  hostLoopbackIp?: number;
  /** Whether a guest may connect to host-side `dstIp:dstPort` (alias already mapped to 127.0.0.1). */
  egressPolicy?: (dstIp: number, dstPort: number, protocol: 'tcp') => boolean;
  /** Host connect timeout, ms (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Reports an unreachable destination to the guest with ICMP (the lead builds the message from
   * the request's addresses and ISN). When absent, the guest gets RST instead.
   */
  sendIcmpUnreachable?: (req: SynRequest, reason: UnreachableReason) => void;
  /** Most flows at once, pending connects included (default unlimited). Over it: RST. */
  maxFlows?: number;
  /** New flows per second per guest address (default unlimited). Over it: the SYN is dropped. */
  newFlowsPerSecond?: number;
  /** Burst allowance of the per-source rate (default = the rate, at least 1). */
  newFlowsBurst?: number;
  /** Opens host sockets (tests inject failures); default `net.connect`. */
  connect?: typeof netConnect;
  /** Size of the one read buffer shared by every host socket (default 256 KiB). */
  readBufferSize?: number;
  /**
   * Runs the end-of-turn flush toward host sockets (default {@link endOfTurn}: once per event-loop
   * turn, so everything a guest sent in the turn's reads leaves in one write per socket).
   */
  defer?: (fn: () => void) => void;
  /**
   * Closes a flow with no segment from the guest (data, ACKs, keepalive probes) for this long, ms,
   * resetting both sides (`closeReason: 'idle'`). Off (0) by default: idle connections live
   * until an end closes them. Can be changed later with {@link TcpOutbound.setIdleTimeout}.
   */
  idleTimeoutMs?: number;
  /**
   * Kernel keepalive on host sockets: idle time before the first probe, ms (default 60 000;
   * 0 disables). Invisible to the guest; detects a vanished remote and keeps middlebox state.
   */
  hostKeepaliveMs?: number;
  /** Where flows are reported (default: nowhere). Can be replaced later through {@link TcpOutbound.flowEvents}. */
  flowEvents?: FlowEventSink;
}

/** Counters of the forwarder. */
export interface TcpOutboundStats {
  /** Flows proxying now. */
  open: number;
  /** Host connects in progress. */
  pending: number;
  accepted: number;
  /** The host refused (ECONNREFUSED): RST to the guest. */
  refused: number;
  /** Denied by the egress policy. */
  denied: number;
  /** Refused because `maxFlows` was reached. */
  limited: number;
  /** SYNs dropped by the per-source rate. */
  rateLimited: number;
  /** Host unreachable or another connect error. */
  unreachable: number;
  timedOut: number;
  hostResets: number;
  guestResets: number;
  bytesToGuest: number;
  bytesToHost: number;
  /** Flows closed by the idle timeout. */
  idleClosed: number;
}

/** A host connect in progress for a guest's SYN; `fail` settles it. */
interface PendingConnect {
  readonly fail: (code: string) => void;
  readonly guestIp: number;
}

/** The pseudo error code `close()` settles pending connects with. */
const SHUTDOWN = 'VNETKIT_SHUTDOWN';

/** The outbound TCP forwarder. */
export class TcpOutbound implements FlowOwner {
  readonly counters = {
    accepted: 0,
    refused: 0,
    denied: 0,
    limited: 0,
    rateLimited: 0,
    unreachable: 0,
    timedOut: 0,
    hostResets: 0,
    guestResets: 0,
    bytesToGuest: 0,
    bytesToHost: 0,
    idleClosed: 0,
  };
  /** Where flows are reported; read once per SYN. */
  flowEvents: FlowEventSink;
  private readonly ep: TcpEndpoint;
  private readonly runtime: Runtime;
  private readonly alias: number;
  private readonly timeoutMs: number;
  private readonly connectFn: typeof netConnect;
  private readonly readBuf: Buffer;
  private readonly rate: SourceRateLimit | undefined;
  private readonly byGuest = new Map<number, Set<TcpFlow>>();
  private pendingCount = 0;
  /** Host sockets still connecting, so `close()` can cancel them. */
  private readonly connecting = new Map<Socket, PendingConnect>();
  private idleMs: number;
  private readonly keepaliveMs: number;
  private flowCount = 0;
  private readonly flushes: HostFlushQueue;

  constructor(private readonly opts: TcpOutboundOptions) {
    this.ep = opts.endpoint;
    this.runtime = opts.runtime;
    this.alias = opts.hostLoopbackIp ?? parseIpv4('192.168.65.254')!;
    this.timeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.connectFn = opts.connect ?? netConnect;
    this.readBuf = Buffer.allocUnsafeSlow(opts.readBufferSize ?? 256 * 1024);
    this.flushes = new HostFlushQueue(opts.defer ?? endOfTurn.defer);
    this.idleMs = opts.idleTimeoutMs ?? 0;
    this.keepaliveMs = opts.hostKeepaliveMs ?? 60_000;
    this.flowEvents = opts.flowEvents ?? noFlowEvents;
    if (opts.newFlowsPerSecond !== undefined) {
      this.rate = new SourceRateLimit(opts.runtime.clock, opts.newFlowsPerSecond, opts.newFlowsBurst ?? Math.max(1, opts.newFlowsPerSecond));
    }
  }

  /** Installs this forwarder as the endpoint's SYN hook. */
  attach(): void {
    this.ep.onSyn = (req) => this.handleSyn(req);
  }

  /** Decides a guest SYN to an unknown tuple (the endpoint's `onSyn`). */
  handleSyn(req: SynRequest): void {
    const c = this.counters;
    // Read once: the attempt is reported (open or failure) only if someone listened when it began.
    const ev = this.flowEvents.enabled;
    const host = hostAddressOf(req.dstIp, this.alias);
    if (this.opts.maxFlows !== undefined && this.flowCount + this.pendingCount >= this.opts.maxFlows) {
      c.limited++;
      req.refuse();
      if (ev) this.flowEvents.reject(tupleOf(req, host), 'limit');
      return;
    }
    if (this.rate !== undefined && !this.rate.take(req.srcIp)) {
      // Not an attempt of its own: the guest's SYN retry is the same connection.
      c.rateLimited++;
      req.drop();
      return;
    }
    if (this.opts.egressPolicy !== undefined && !this.opts.egressPolicy(host, req.dstPort, 'tcp')) {
      c.denied++;
      req.refuse();
      if (ev) this.flowEvents.reject(tupleOf(req, host), 'denied');
      return;
    }
    this.pendingCount++;
    let flow: TcpFlow | undefined;
    let settled = false;
    const timer = new Timer(() => fail('ETIMEDOUT'));
    const fail = (code: string): void => {
      if (settled) return;
      settled = true;
      this.pendingCount--;
      this.connecting.delete(socket);
      this.runtime.scheduler.disarm(timer);
      socket.destroy();
      if (code === SHUTDOWN) {
        // The forwarder is closing: the SYN gets no answer (the guest is going away too).
        req.drop();
        if (ev) this.flowEvents.reject(tupleOf(req, host), 'shutdown', req.receivedAt);
        return;
      }
      if (code === 'ECONNREFUSED') {
        c.refused++;
        req.refuse();
        if (ev) this.flowEvents.reject(tupleOf(req, host), 'refused', req.receivedAt);
        return;
      }
      if (code === 'ETIMEDOUT') c.timedOut++;
      else c.unreachable++;
      if (ev) this.flowEvents.reject(tupleOf(req, host), code === 'ETIMEDOUT' ? 'timeout' : 'unreachable', req.receivedAt);
      const icmp = this.opts.sendIcmpUnreachable;
      if (icmp !== undefined && req.pending) {
        req.drop();
        icmp(req, code === 'ETIMEDOUT' ? 'timeout' : code === 'ENETUNREACH' ? 'net-unreachable' : 'host-unreachable');
      } else {
        req.refuse();
      }
    };
    const socket: Socket = this.connectFn({
      host: formatIpv4(host),
      port: req.dstPort,
      allowHalfOpen: true,
      noDelay: true,
      ...(this.keepaliveMs > 0 ? { keepAlive: true, keepAliveInitialDelay: this.keepaliveMs } : {}),
      onread: { buffer: this.readBuf, callback: (n: number, buf: Uint8Array) => (flow === undefined ? false : flow.fromHost(n, buf as Buffer)) },
    });
    this.connecting.set(socket, { fail, guestIp: req.srcIp });
    socket.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? 'EHOSTUNREACH'));
    socket.once('connect', () => {
      if (settled) return;
      settled = true;
      this.pendingCount--;
      this.connecting.delete(socket);
      this.runtime.scheduler.disarm(timer);
      socket.removeAllListeners('error');
      // Connect first, then complete the guest's handshake (vpnkit's connect-first).
      const f = new TcpFlow(this, req, socket);
      const conn = req.accept();
      if (conn === undefined) {
        socket.destroy(); // the guest went away (or the request was decided) while connecting
        if (ev) this.flowEvents.reject(tupleOf(req, host), 'nic-gone', req.receivedAt);
        return;
      }
      c.accepted++;
      flow = f;
      this.flowCount++;
      let set = this.byGuest.get(req.srcIp);
      if (set === undefined) {
        set = new Set();
        this.byGuest.set(req.srcIp, set);
      }
      set.add(f);
      if (ev) f.events = this.flowEvents.open(tupleOf(req, host));
      f.start(conn);
      if (this.idleMs > 0) this.armIdle(f);
    });
    this.runtime.scheduler.armIn(timer, this.timeoutMs);
  }

  /**
   * Sets the idle timeout of established flows, ms (0 = never), for current flows too.
   * Activity is any segment from the guest: data, ACKs of host data, keepalive probes.
   */
  setIdleTimeout(ms: number): void {
    this.idleMs = ms > 0 ? ms : 0;
    for (const set of this.byGuest.values()) {
      for (const f of set) {
        if (this.idleMs > 0) this.armIdle(f);
        else if (f.idleTimer !== undefined) this.runtime.scheduler.disarm(f.idleTimer);
      }
    }
  }

  /** The idle timeout in force, ms (0 = off). */
  get idleTimeoutMs(): number {
    return this.idleMs;
  }

  private armIdle(f: TcpFlow): void {
    f.idleTimer ??= new Timer((now) => this.idleCheck(f, now));
    this.runtime.scheduler.arm(f.idleTimer, f.lastActivity + this.idleMs);
  }

  private idleCheck(f: TcpFlow, now: number): void {
    if (f.closed || this.idleMs === 0) return;
    const last = f.lastActivity;
    if (now - last >= this.idleMs) {
      this.counters.idleClosed++;
      f.cutIdle();
    } else {
      this.runtime.scheduler.arm(f.idleTimer!, last + this.idleMs);
    }
  }

  /** @internal */
  queueFlush(f: TcpFlow): void {
    this.flushes.add(f);
  }

  /** Writes every flow's batch to its host socket now (normally at the end of the turn). */
  flush(): void {
    this.flushes.flush();
  }

  /** @internal */
  flowClosed(f: TcpFlow, reason: CloseReason): void {
    const set = this.byGuest.get(f.req.srcIp);
    if (set === undefined || !set.delete(f)) return;
    this.flowCount--;
    if (set.size === 0) this.byGuest.delete(f.req.srcIp);
    if (f.idleTimer !== undefined) this.runtime.scheduler.disarm(f.idleTimer);
    const h = f.events;
    if (h !== undefined) {
      f.events = undefined;
      this.flowEvents.close(h, f.bytesToGuest, f.bytesToHost, f.closeReason(reason));
    }
  }

  /** Frees every flow of guest `ip` (its NIC vanished): sockets destroyed, nothing sent to the guest. */
  closeForGuest(ip: number): number {
    const set = this.byGuest.get(ip);
    this.rate?.forget(ip);
    if (set === undefined) return 0;
    const flows = [...set];
    for (const f of flows) f.destroy('nic-gone');
    return flows.length;
  }

  /** Frees every flow and cancels connects in progress (their SYNs get no answer). */
  close(): void {
    for (const p of [...this.connecting.values()]) p.fail(SHUTDOWN);
    this.connecting.clear();
    for (const set of [...this.byGuest.values()]) for (const f of [...set]) f.destroy('shutdown');
  }

  /**
   * Adds each guest address's flows to `into`: proxying flows plus host connects in progress
   * (what `maxFlows` counts). O(guests + pending connects); for stats, not the packet path.
   */
  flowsByGuest(into: GuestCounts = new Map()): GuestCounts {
    for (const [ip, set] of this.byGuest) addGuestCount(into, ip, set.size);
    for (const p of this.connecting.values()) addGuestCount(into, p.guestIp);
    return into;
  }

  /** Counters and current flows. */
  stats(): TcpOutboundStats {
    return { open: this.flowCount, pending: this.pendingCount, ...this.counters };
  }
}

/** The flow's addresses for an event (built only when someone listens). */
function tupleOf(req: SynRequest, host: number): FlowTuple {
  return { protocol: 'tcp', guestIp: req.srcIp, guestPort: req.srcPort, remoteIp: req.dstIp, remotePort: req.dstPort, hostIp: host, hostPort: req.dstPort };
}
