/**
 * A simulated point-to-point link between two TCP endpoints on a `ManualScheduler`: each
 * direction has a bandwidth (serialisation delay, so packets stay in FIFO order), a one-way
 * delay, a drop-tail queue and seeded random loss — smoltcp's `tests/netsim.rs` in spirit.
 * Packets are copied on send (the endpoint reuses its buffers), delivered as a `FrameInfo`, and
 * the receiving endpoint is flushed through a timer at the same instant (the end of its "turn").
 * @module
 */
import { type ManualScheduler, Timer } from '../../../src/runtime/scheduler.js';
import { randomUnit, type Rng } from '../../../src/runtime/rng.js';
import type { TcpEndpoint } from '../../../src/stack/tcp/endpoint.js';
import type { TcpPacketOutput } from '../../../src/stack/tcp/output.js';
import { Drop, type DropCode } from '../../../src/wire/drop.js';
import { FrameInfo } from '../../../src/wire/frame-info.js';
import { tcpDstPort, tcpHeaderLength, tcpSrcPort } from '../../../src/wire/tcp.js';

/** Properties of one direction. */
export interface LinkProps {
  /** Bytes per millisecond (125_000 = 1 Gbit/s). */
  bytesPerMs: number;
  /** One-way propagation delay, ms. */
  delayMs: number;
  /** Probability that a packet is lost, 0..1. */
  loss: number;
  /** Most bytes queued for serialisation before drop-tail. */
  queueBytes: number;
}

/** Counters of one direction. */
export interface LinkCounters {
  packets: number;
  bytes: number;
  lost: number;
  queueDrops: number;
}

/** One direction of the link: the sending endpoint's output, delivering into the other endpoint. */
export class SimDirection implements TcpPacketOutput {
  readonly l4 = 0;
  lastDrop: DropCode = Drop.None;
  readonly counters: LinkCounters = { packets: 0, bytes: 0, lost: 0, queueDrops: 0 };
  /** Set after construction: the endpoint packets are delivered to. */
  peer: TcpEndpoint | undefined;
  private readonly scratch = Buffer.alloc(70_000);
  private src = 0;
  private dst = 0;
  private len = 0;
  private busyUntil = 0;
  private readonly info = new FrameInfo();

  constructor(
    private readonly sched: ManualScheduler,
    private readonly rng: Rng,
    readonly props: LinkProps,
    readonly mtu: number,
    /** Flushes the receiving endpoint at the end of a delivery turn. */
    private readonly flushPeer: () => void,
  ) {}

  begin(src: number, dst: number, _protocol: number, payloadLen: number): Uint8Array | undefined {
    if (payloadLen + 20 > this.mtu) throw new Error(`SimDirection: ${payloadLen + 20} > MTU ${this.mtu}`);
    const now = this.sched.clock.now();
    const queued = Math.max(0, this.busyUntil - now) * this.props.bytesPerMs;
    if (queued + payloadLen > this.props.queueBytes) {
      this.counters.queueDrops++;
      this.lastDrop = Drop.Conditioned;
      return undefined;
    }
    this.src = src;
    this.dst = dst;
    this.len = payloadLen;
    this.lastDrop = Drop.None;
    return this.scratch;
  }

  commit(): void {
    const now = this.sched.clock.now();
    const len = this.len;
    const depart = Math.max(now, this.busyUntil) + (len + 40) / this.props.bytesPerMs;
    this.busyUntil = depart;
    this.counters.packets++;
    this.counters.bytes += len;
    if (randomUnit(this.rng) < this.props.loss) {
      this.counters.lost++;
      return;
    }
    const copy = Buffer.from(this.scratch.subarray(0, len));
    const src = this.src;
    const dst = this.dst;
    const t = new Timer(() => this.deliver(copy, src, dst));
    this.sched.arm(t, depart + this.props.delayMs);
  }

  portIdOf(): number {
    return 1;
  }

  private deliver(b: Buffer, src: number, dst: number): void {
    const info = this.info;
    info.buf = b;
    info.l4 = 0;
    info.l4Len = b.length;
    info.srcIp = src;
    info.dstIp = dst;
    info.srcPort = tcpSrcPort(b, 0);
    info.dstPort = tcpDstPort(b, 0);
    info.payload = tcpHeaderLength(b, 0);
    info.payloadLen = b.length - info.payload;
    this.peer!.input(info);
    this.flushPeer();
  }
}

/** A defer function for an endpoint on a manual scheduler: the flush runs at the same instant, after the current timer. */
export function deferOn(sched: ManualScheduler): { defer: (fn: () => void) => void } {
  let pending: (() => void) | undefined;
  const t = new Timer(() => {
    const f = pending;
    pending = undefined;
    f?.();
  });
  return {
    defer: (fn) => {
      pending = fn;
      sched.arm(t, sched.clock.now());
    },
  };
}
