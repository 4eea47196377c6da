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
 * @module
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Runtime } from '../runtime/runtime.js';
import { Timer } from '../runtime/scheduler.js';
import type { CloseReason } from '../stack/tcp/connection.js';
import type { TcpEndpoint } from '../stack/tcp/endpoint.js';
import type { SynRequest } from '../stack/tcp/syn-request.js';
import { formatIpv4, parseIpv4 } from '../wire/address.js';
import { LOOPBACK } from './address-map.js';
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
  /** Runs the end-of-turn flush toward host sockets (default `queueMicrotask`). */
  defer?: (fn: () => void) => void;
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
}

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
  };
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
  private readonly connecting = new Set<Socket>();
  private flowCount = 0;
  private readonly dirty: TcpFlow[] = [];
  private flushQueued = false;
  private readonly defer: (fn: () => void) => void;
  private readonly flushFn = (): void => this.flush();

  constructor(private readonly opts: TcpOutboundOptions) {
    this.ep = opts.endpoint;
    this.runtime = opts.runtime;
    this.alias = opts.hostLoopbackIp ?? parseIpv4('192.168.65.254')!;
    this.timeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.connectFn = opts.connect ?? netConnect;
    this.readBuf = Buffer.allocUnsafeSlow(opts.readBufferSize ?? 256 * 1024);
    this.defer = opts.defer ?? queueMicrotask;
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
    if (this.opts.maxFlows !== undefined && this.flowCount + this.pendingCount >= this.opts.maxFlows) {
      c.limited++;
      req.refuse();
      return;
    }
    if (this.rate !== undefined && !this.rate.take(req.srcIp)) {
      c.rateLimited++;
      req.drop();
      return;
    }
    const host = req.dstIp === this.alias && this.alias >= 0 ? LOOPBACK : req.dstIp;
    if (this.opts.egressPolicy !== undefined && !this.opts.egressPolicy(host, req.dstPort, 'tcp')) {
      c.denied++;
      req.refuse();
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
      if (code === 'ECONNREFUSED') {
        c.refused++;
        req.refuse();
        return;
      }
      if (code === 'ETIMEDOUT') c.timedOut++;
      else c.unreachable++;
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
      onread: { buffer: this.readBuf, callback: (n: number, buf: Uint8Array) => (flow === undefined ? false : flow.fromHost(n, buf as Buffer)) },
    });
    this.connecting.add(socket);
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
      f.start(conn);
    });
    this.runtime.scheduler.armIn(timer, this.timeoutMs);
  }

  /** @internal */
  queueFlush(f: TcpFlow): void {
    if (f.flushQueued) return;
    f.flushQueued = true;
    this.dirty.push(f);
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.defer(this.flushFn);
    }
  }

  /** Writes every flow's batch to its host socket (end of turn). */
  flush(): void {
    this.flushQueued = false;
    const l = this.dirty;
    for (let i = 0; i < l.length; i++) l[i]!.flushToHost();
    l.length = 0;
  }

  /** @internal */
  flowClosed(f: TcpFlow, _reason: CloseReason): void {
    const set = this.byGuest.get(f.req.srcIp);
    if (set === undefined || !set.delete(f)) return;
    this.flowCount--;
    if (set.size === 0) this.byGuest.delete(f.req.srcIp);
  }

  /** Frees every flow of guest `ip` (its NIC vanished): sockets destroyed, nothing sent to the guest. */
  closeForGuest(ip: number): number {
    const set = this.byGuest.get(ip);
    this.rate?.forget(ip);
    if (set === undefined) return 0;
    const flows = [...set];
    for (const f of flows) f.destroy();
    return flows.length;
  }

  /** Frees every flow and cancels connects in progress (their SYNs get no answer). */
  close(): void {
    for (const s of this.connecting) s.destroy();
    this.connecting.clear();
    for (const ip of [...this.byGuest.keys()]) this.closeForGuest(ip);
  }

  /** Counters and current flows. */
  stats(): TcpOutboundStats {
    return { open: this.flowCount, pending: this.pendingCount, ...this.counters };
  }
}
