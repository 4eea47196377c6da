/**
 * The gateway's one TCP endpoint. It is promiscuous (like gvisor-tap-vsock's stack, unlike
 * vpnkit's stack per remote IP): it answers for every destination a guest tries, demultiplexing by
 * 4-tuple with numeric keys and a last-hit cache, so a segment costs two Map lookups at most and
 * allocates nothing. Unknown tuples get RST (RFC 9293 §3.10.7.1) except SYNs, which go to a
 * listener (the gateway's own services) or to the `onSyn` hook (connect-first NAT).
 *
 * Output is batched per turn: input, `send`, window changes only mark a connection dirty; one
 * flush at the end of the event loop's turn ({@link endOfTurn}, after every socket read of the
 * turn) sends for every dirty connection, so a burst of segments from a guest — even spread over
 * many reads — is acknowledged once and small writes leave as full segments. A connection whose guest
 * NIC queue is full stops and is resumed by {@link TcpEndpoint.onPortDrain} — never polled.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import type { Clock } from '../../runtime/clock.js';
import { endOfTurn } from '../../runtime/end-of-turn.js';
import type { Rng } from '../../runtime/rng.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Scheduler } from '../../runtime/scheduler.js';
import { formatIpv4 } from '../../wire/address.js';
import { Drop, type DropCode } from '../../wire/drop.js';
import type { FrameInfo } from '../../wire/frame-info.js';
import { TcpFlag } from '../../wire/tcp.js';
import { vnetError, type VnetError } from '../../errors.js';
import { resolveTcpConfig, type ResolvedTcpConfig, type TcpConfig } from './config.js';
import { Connection, type ConnectionHandlers } from './connection.js';
import { openActive, openPassive, type SynParams } from './open.js';
import type { ConnectionContext } from './context.js';
import { endKey, FlowTable } from './flow-table.js';
import { segmentArrives } from './input.js';
import { emitReset, type TcpPacketOutput } from './output.js';
import { Segment } from './segment.js';
import { seqAdd, seqGt } from './seq.js';
import { State } from './state.js';
import { snapshotCounters, TcpCounters, type TcpStats } from './stats.js';
import { SynRequest, type SynDecider } from './syn-request.js';
import { transmit } from './transmit.js';

/** Options of a {@link TcpEndpoint}. */
export interface TcpEndpointOptions {
  /** Where segments go (the gateway's `Ipv4Output`, or a capture in tests). */
  output: TcpPacketOutput;
  /** Clock, scheduler and randomness (ISNs, ephemeral ports, timestamp offsets). */
  runtime: Runtime;
  config?: TcpConfig;
  /** Runs the end-of-turn flush (default {@link endOfTurn}); tests call {@link TcpEndpoint.flush} themselves. */
  defer?: (fn: () => void) => void;
}

/** Options of {@link TcpEndpoint.connect}. */
export interface TcpConnectOptions {
  /** Our address (the gateway, or the address the guest should see the connection coming from). */
  localIp: number;
  /** Our port; an unused ephemeral port (49152–65535) when absent. */
  localPort?: number;
  /** The guest's address and port. */
  remoteIp: number;
  remotePort: number;
  handlers?: ConnectionHandlers;
}

/** Why {@link TcpEndpoint.connect} failed. */
export type TcpConnectError = VnetError<'address-in-use'> & { readonly tuple: string };

/** A listening socket; `close()` stops accepting (existing connections stay). */
export interface TcpListener {
  close(): void;
}

/** Called with a connection accepted by a listener, once ESTABLISHED. */
export type AcceptHandler = (c: Connection) => void;

/** Ephemeral port range of RFC 6335 §6. */
const EPHEMERAL_LOW = 49152;
const EPHEMERAL_COUNT = 16384;

/** The TCP endpoint. */
export class TcpEndpoint implements ConnectionContext, SynDecider {
  /** Decides SYNs to tuples that have neither a connection nor a listener. Unset: RST. */
  onSyn: ((req: SynRequest) => void) | undefined;
  readonly counters = new TcpCounters();
  readonly config: ResolvedTcpConfig;
  readonly mss: number;
  readonly out: TcpPacketOutput;
  readonly scheduler: Scheduler;
  readonly rng: Rng;
  readonly clock: Clock;
  private readonly conns = new FlowTable<Connection>();
  private readonly pending = new FlowTable<SynRequest>();
  private readonly listeners = new Map<number, AcceptHandler>();
  private readonly dirtyList: Connection[] = [];
  private flushQueued = false;
  private readonly blockedByPort = new Map<number, Connection[]>();
  private readonly seg = new Segment();
  private last: Connection | undefined;
  private challengeSecond = -1;
  private challengeCount = 0;
  private readonly defer: (fn: () => void) => void;
  private readonly flushFn = (): void => this.flush();

  constructor(opts: TcpEndpointOptions) {
    this.out = opts.output;
    this.scheduler = opts.runtime.scheduler;
    this.rng = opts.runtime.rng;
    this.clock = opts.runtime.clock;
    this.config = resolveTcpConfig(opts.config);
    // RFC 9293 §3.7.1 / RFC 6691: MSS = MTU - 20 (IPv4) - 20 (TCP).
    this.mss = opts.output.mtu - 40;
    this.defer = opts.defer ?? endOfTurn.defer;
  }

  // ------------------------------------------------------------------ input

  /** One TCP segment from a guest (checksums verified by the gateway). Returns a drop reason or 0. */
  input(info: FrameInfo): DropCode {
    const seg = this.seg;
    seg.load(info);
    const now = this.clock.now();
    let c = this.last;
    if (
      c === undefined ||
      c.remotePort !== seg.srcPort ||
      c.localPort !== seg.dstPort ||
      c.remoteIp !== seg.srcIp ||
      c.localIp !== seg.dstIp ||
      c.state === State.Closed
    ) {
      c = this.conns.get(endKey(seg.srcIp, seg.srcPort), endKey(seg.dstIp, seg.dstPort));
      if (c !== undefined) this.last = c;
    }
    const f = seg.flags;
    if (c !== undefined) {
      // RFC 9293 §3.10.7.4 (TIME-WAIT) and RFC 6191: a new SYN beyond the old sequence space reopens the tuple.
      if (c.state === State.TimeWait && (f & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN && seqGt(seg.seq, c.rcvNxt)) {
        c.finish('closed');
      } else {
        segmentArrives(c, seg, now);
        return Drop.None;
      }
    }
    this.counters.segmentsIn++;
    if (f & TcpFlag.RST) return Drop.NotForUs; // RFC 9293 §3.10.7.1: an RST for nothing is dropped
    if ((f & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) return this.newSyn(seg, now);
    this.resetUnknown(seg);
    return Drop.NotForUs;
  }

  /** A SYN for a tuple without a connection (RFC 9293 §3.10.7.2, LISTEN). */
  private newSyn(seg: Segment, now: number): DropCode {
    const guest = endKey(seg.srcIp, seg.srcPort);
    const other = endKey(seg.dstIp, seg.dstPort);
    const listener = this.listeners.get(other) ?? this.listeners.get(seg.dstPort);
    if (listener !== undefined) {
      const c = this.createPassive(seg.srcIp, seg.srcPort, seg.dstIp, seg.dstPort, synParams(seg), now);
      c.acceptCb = listener;
      return Drop.None;
    }
    // vpnkit's connect-first: while the hook decides, duplicate SYNs are ignored (style.md §4).
    if (this.pending.get(guest, other) !== undefined) return Drop.None;
    const hook = this.onSyn;
    if (hook === undefined) {
      this.resetUnknown(seg);
      return Drop.NotForUs;
    }
    const req = new SynRequest(this, seg.srcIp, seg.srcPort, seg.dstIp, seg.dstPort, synParams(seg), now);
    this.pending.set(guest, other, req);
    hook(req);
    return Drop.None;
  }

  /** RFC 9293 §3.10.7.1: the reset answering a segment for no connection. */
  private resetUnknown(seg: Segment): void {
    if (seg.flags & TcpFlag.ACK) emitReset(this.out, this.counters, seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, seg.ack, 0, false);
    else emitReset(this.out, this.counters, seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, 0, seqAdd(seg.seq, seg.len), true);
  }

  private createPassive(srcIp: number, srcPort: number, dstIp: number, dstPort: number, p: SynParams, now: number): Connection {
    const c = new Connection(this, dstIp, dstPort, srcIp, srcPort, false);
    this.conns.set(endKey(srcIp, srcPort), endKey(dstIp, dstPort), c);
    openPassive(c, p, now);
    return c;
  }

  // ------------------------------------------------------------------ SYN hook decisions

  /** @internal */
  isPending(req: SynRequest): boolean {
    return this.pending.get(endKey(req.srcIp, req.srcPort), endKey(req.dstIp, req.dstPort)) === req;
  }

  /** @internal */
  acceptSyn(req: SynRequest, handlers: ConnectionHandlers): Connection | undefined {
    if (!this.isPending(req)) return undefined;
    this.pending.delete(endKey(req.srcIp, req.srcPort), endKey(req.dstIp, req.dstPort));
    const c = new Connection(this, req.dstIp, req.dstPort, req.srcIp, req.srcPort, false);
    c.setHandlers(handlers);
    this.conns.set(endKey(req.srcIp, req.srcPort), endKey(req.dstIp, req.dstPort), c);
    openPassive(c, req.params, this.clock.now());
    return c;
  }

  /** @internal */
  refuseSyn(req: SynRequest): boolean {
    if (!this.isPending(req)) return false;
    this.pending.delete(endKey(req.srcIp, req.srcPort), endKey(req.dstIp, req.dstPort));
    emitReset(this.out, this.counters, req.dstIp, req.dstPort, req.srcIp, req.srcPort, 0, seqAdd(req.params.irs, 1), true);
    return true;
  }

  /** @internal */
  dropSyn(req: SynRequest): void {
    if (this.isPending(req)) this.pending.delete(endKey(req.srcIp, req.srcPort), endKey(req.dstIp, req.dstPort));
  }

  // ------------------------------------------------------------------ opening

  /**
   * Accepts connections to `ip:port` (`ip` 0 = any address) — the gateway's own services, e.g.
   * DNS over TCP. `onAccept` runs once each connection is ESTABLISHED; set its handlers there.
   */
  listen(ip: number, port: number, onAccept: AcceptHandler): TcpListener {
    const key = ip === 0 ? port : endKey(ip, port);
    this.listeners.set(key, onAccept);
    return { close: () => void (this.listeners.get(key) === onAccept && this.listeners.delete(key)) };
  }

  /** Active open toward a guest (exposePort): SYN-SENT now, SYN at the end of the turn. */
  connect(o: TcpConnectOptions): Result<Connection, TcpConnectError> {
    const remote = endKey(o.remoteIp, o.remotePort);
    let port = o.localPort ?? -1;
    if (port < 0) {
      for (let tries = 0; tries < 64; tries++) {
        const p = EPHEMERAL_LOW + (this.rng.u32() % EPHEMERAL_COUNT);
        if (this.conns.get(remote, endKey(o.localIp, p)) === undefined) {
          port = p;
          break;
        }
      }
    }
    const tuple = `${formatIpv4(o.localIp)}:${port} > ${formatIpv4(o.remoteIp)}:${o.remotePort}`;
    if (port < 0 || this.conns.get(remote, endKey(o.localIp, port)) !== undefined) {
      return err(vnetError('address-in-use', `TCP connect: ${tuple} is in use`, { tuple }));
    }
    const c = new Connection(this, o.localIp, port, o.remoteIp, o.remotePort, true);
    if (o.handlers !== undefined) c.setHandlers(o.handlers);
    this.conns.set(remote, endKey(o.localIp, port), c);
    openActive(c, this.clock.now());
    return ok(c);
  }

  // ------------------------------------------------------------------ teardown

  /** Aborts every connection matching `pred` (silently unless `sendRst`). Returns how many. */
  abortWhere(pred: (c: Connection) => boolean, sendRst = false): number {
    let n = 0;
    for (const c of this.conns.values()) {
      if (!pred(c)) continue;
      c.terminate('aborted', sendRst);
      n++;
    }
    return n;
  }

  /** A guest's NIC vanished: drop its connections and pending SYNs without a word. Returns how many. */
  abortGuest(ip: number): number {
    for (const r of this.pending.valuesOfGuest(ip)) this.pending.delete(endKey(r.srcIp, r.srcPort), endKey(r.dstIp, r.dstPort));
    let n = 0;
    for (const c of this.conns.valuesOfGuest(ip)) {
      c.terminate('aborted', false);
      n++;
    }
    return n;
  }

  /** Aborts everything and stops listening. */
  close(): void {
    this.listeners.clear();
    for (const r of this.pending.values()) r.drop();
    this.abortWhere(() => true, false);
  }

  // ------------------------------------------------------------------ output batching

  /** @internal */
  markDirty(c: Connection): void {
    if (c.dirty) return;
    c.dirty = true;
    this.dirtyList.push(c);
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.defer(this.flushFn);
    }
  }

  /** Sends what every dirty connection has to send (end of turn). */
  flush(): void {
    this.flushQueued = false;
    const list = this.dirtyList;
    const now = this.clock.now();
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      c.dirty = false;
      transmit(c, now);
    }
    list.length = 0;
  }

  /** @internal */
  block(c: Connection, portId: number): void {
    let l = this.blockedByPort.get(portId);
    if (l === undefined) {
      l = [];
      this.blockedByPort.set(portId, l);
    }
    l.push(c);
  }

  /** The switch port `portId` fell under its high-water mark: resume connections waiting on it. */
  onPortDrain(portId: number): void {
    const l = this.blockedByPort.get(portId);
    if (l === undefined) return;
    this.blockedByPort.delete(portId);
    for (const c of l) {
      c.blocked = false;
      if (c.state !== State.Closed) this.markDirty(c);
    }
  }

  /** @internal */
  release(c: Connection): void {
    this.conns.delete(endKey(c.remoteIp, c.remotePort), endKey(c.localIp, c.localPort));
    if (this.last === c) this.last = undefined;
  }

  /** @internal */
  allowChallengeAck(now: number): boolean {
    const sec = Math.floor(now / 1000);
    if (sec !== this.challengeSecond) {
      this.challengeSecond = sec;
      this.challengeCount = 0;
    }
    return this.challengeCount++ < this.config.challengeAckLimit;
  }

  // ------------------------------------------------------------------ inspection

  /** The connection for a tuple, if any. */
  find(localIp: number, localPort: number, remoteIp: number, remotePort: number): Connection | undefined {
    return this.conns.get(endKey(remoteIp, remotePort), endKey(localIp, localPort));
  }

  /** Every live connection (a copy). */
  connections(): Connection[] {
    return this.conns.values();
  }

  /** Counters and connections by state. */
  stats(): TcpStats {
    return snapshotCounters(this.counters, this.conns.size, this.pending.size);
  }
}

/** Copies the handshake parameters out of a SYN (the frame is borrowed). */
function synParams(seg: Segment): SynParams {
  const o = seg.opts;
  return {
    irs: seg.seq,
    window: seg.window,
    mss: o.mss,
    windowScale: o.windowScale,
    sackPermitted: o.sackPermitted,
    hasTimestamps: o.hasTimestamps,
    tsVal: o.tsVal,
  };
}
