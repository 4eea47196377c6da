/**
 * Network conditioning of one NIC (latency, jitter, loss, a rate cap, a partition), installed
 * and removed at runtime. It is a middleware on the NIC's two paths, as smoltcp's fault injector
 * wraps its device:
 *
 * - toward the NIC, a {@link ConditionedPort} takes the NIC's place in the switch (same id, same
 *   counters) and runs every frame — forwarded (`deliver`) or written in place by the gateway
 *   (`reserve`/`commit`) — through the `toNic` pipe before the real port;
 * - from the NIC, the transport's frame sink is pointed at {@link NicConditioner.input}, which
 *   runs the `fromNic` pipe before the switch's input.
 *
 * A NIC without conditioning has neither: its port sits in the switch and its frames go
 * straight to `switch.input`, so absent conditioning costs nothing per frame. The
 * {@link ConditionSlot} does the installing through the few operations a {@link ConditionHost}
 * (the facade) provides.
 *
 * Counters stay honest across the detour: the switch counts a frame as sent when the wrapper
 * accepts it, so a frame the wrapper later loses (partition, loss on an in-place frame, the NIC
 * refusing it after its delay) is taken back out of `framesOut` and counted as a drop instead.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../errors.js';
import { SeededRng, type Rng } from '../runtime/rng.js';
import type { Runtime } from '../runtime/runtime.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { ConditionPipe, type ConditionDirectionStats } from './condition-pipe.js';
import { resolveCondition, type ConditionError, type ConditionSpec, type ResolvedCondition } from './condition-spec.js';
import type { PortCounters, SwitchPort } from './port.js';

/** A frame sink taking borrowed bytes. */
export type FrameSink = (b: Uint8Array, off: number, len: number) => void;

/** What `conditionStats()` reports. */
export interface ConditionStats {
  /** Whether conditioning is installed now. */
  active: boolean;
  /** The spec last applied (as validated), or null when none is. */
  spec: ConditionSpec | null;
  /** Frames going to the NIC. */
  toNic: ConditionDirectionStats;
  /** Frames coming from the NIC. */
  fromNic: ConditionDirectionStats;
}

/** The switch-side stand-in for a conditioned NIC's port. */
export class ConditionedPort implements SwitchPort {
  onDrain: (() => void) | undefined;
  /** Whether the frame being emitted was reserved in the real port (instant pipe). */
  private direct = false;
  private scratch: Uint8Array = new Uint8Array(0);

  constructor(
    /** The NIC's own port. */
    readonly inner: SwitchPort,
    private readonly pipe: ConditionPipe,
  ) {}

  /** The NIC's id: the wrapper stands in for it, so the two can never disagree. */
  get id(): number {
    return this.inner.id;
  }
  set id(v: number) {
    this.inner.id = v;
  }
  get name(): string {
    return this.inner.name;
  }
  get maxFrame(): number {
    return this.inner.maxFrame;
  }
  get counters(): PortCounters {
    return this.inner.counters;
  }
  get txBuf(): Uint8Array {
    return this.direct ? this.inner.txBuf : this.scratch;
  }
  get writable(): boolean {
    return this.pipe.down || (this.inner.writable && this.pipe.roomFor(this.inner.maxFrame));
  }

  /**
   * In-place emission. With nothing to wait for, the frame is written straight into the NIC's
   * buffer (loss is drawn at commit); otherwise into a scratch frame that {@link commit} copies
   * into the pipe. -1 when the NIC or the pipe is full — both promise an {@link onDrain}, so the
   * gateway's TCP waits instead of losing the segment, as it would behind a local queue.
   */
  reserve(len: number): number {
    this.direct = false;
    // A partition accepts and drops: the sender must see loss, not a stall it would wait out.
    if (this.pipe.down) return this.scratchFor(len);
    const o = this.inner.reserve(len);
    if (o < 0) return -1;
    if (this.pipe.instant) {
      this.direct = true;
      return o;
    }
    // The reservation in the NIC is abandoned: the frame reaches it later, through deliver.
    if (!this.pipe.hasRoom(len)) return -1;
    return this.scratchFor(len);
  }

  /** Sends the frame reserved by {@link reserve}: into the NIC (loss permitting) or into the pipe. */
  commit(off: number, len: number): void {
    if (this.direct) {
      this.direct = false;
      if (this.pipe.lose()) this.unsend(len, Drop.Conditioned);
      else this.inner.commit(off, len);
      return;
    }
    const r = this.pipe.offer(this.scratch, off, len);
    if (r !== Drop.None) this.unsend(len, r);
  }

  /** A forwarded frame (borrowed): through the pipe; `Drop.Conditioned` when the pipe drops it. */
  deliver(b: Uint8Array, off: number, len: number): DropCode {
    if (len > this.inner.maxFrame) return Drop.TooBig;
    return this.pipe.offer(b, off, len);
  }

  /**
   * Takes back the switch's "sent" count for a frame that was lost after all. The switch adds
   * it after `commit` returns, so decrementing first nets out right.
   */
  unsend(len: number, code: DropCode): void {
    const c = this.inner.counters;
    c.framesOut--;
    c.bytesOut -= len;
    c.drop(code);
  }

  private scratchFor(len: number): number {
    if (this.scratch.length < len) this.scratch = new Uint8Array(Math.max(len, this.inner.maxFrame));
    return 0;
  }
}

/** Both pipes of one NIC and the port wrapper; see the module comment. */
export class NicConditioner {
  readonly toNic: ConditionPipe;
  readonly fromNic: ConditionPipe;
  readonly port: ConditionedPort;
  /** The NIC's frames go here while conditioning is installed (bound once: no closure per frame). */
  readonly input: FrameSink;
  spec: ConditionSpec | null = null;

  /**
   * @param inner the NIC's port
   * @param runtime clock, timers, default randomness
   * @param toSwitch the switch's input for this NIC's frames
   */
  constructor(inner: SwitchPort, runtime: Runtime, toSwitch: FrameSink) {
    const c = inner.counters;
    this.toNic = new ConditionPipe(runtime.scheduler, (b, off, len) => inner.deliver(b, off, len), new SeededRng(runtime.rng.u32()));
    this.fromNic = new ConditionPipe(
      runtime.scheduler,
      (b, off, len) => {
        toSwitch(b, off, len);
        return Drop.None;
      },
      new SeededRng(runtime.rng.u32()),
    );
    const port = new ConditionedPort(inner, this.toNic);
    this.port = port;
    this.toNic.onRoom = () => port.onDrain?.();
    this.toNic.onRefused = (len, code) => port.unsend(len, code);
    this.toNic.onDiscarded = (len) => port.unsend(len, Drop.Conditioned);
    // A frame the NIC sent but the link lost still counts as sent by the NIC, then as a drop.
    const lostFromNic = (len: number): void => {
      c.framesIn++;
      c.bytesIn += len;
      c.drop(Drop.Conditioned);
    };
    this.fromNic.onDiscarded = lostFromNic;
    const from = this.fromNic;
    this.input = (b, off, len) => {
      if (from.offer(b, off, len) !== Drop.None) lostFromNic(len);
    };
  }

  /** Applies checked settings to both pipes; a seed restarts both draw sequences from it. */
  configure(r: ResolvedCondition): void {
    let toRng: Rng | undefined;
    let fromRng: Rng | undefined;
    if (r.seed !== undefined) {
      // One seed, two independent streams: a direction's draws do not depend on the other's traffic.
      const s = new SeededRng(r.seed);
      toRng = new SeededRng(s.u32());
      fromRng = new SeededRng(s.u32());
    }
    this.toNic.configure(r.toNic, r.down, toRng);
    this.fromNic.configure(r.fromNic, r.down, fromRng);
    this.spec = r.spec;
  }

  /** Hands on what is held (conditioning removed) and frees the rings. */
  flushAndDispose(): void {
    this.toNic.flush();
    this.fromNic.flush();
    this.toNic.dispose();
    this.fromNic.dispose();
    this.spec = null;
  }

  /** Drops what is held (the NIC is gone) and frees the rings. */
  discardAndDispose(): void {
    this.toNic.discard();
    this.fromNic.discard();
    this.toNic.dispose();
    this.fromNic.dispose();
    this.spec = null;
  }

  /** A snapshot of both directions. */
  stats(active: boolean): ConditionStats {
    return { active, spec: this.spec, toNic: this.toNic.stats(), fromNic: this.fromNic.stats() };
  }
}

/** What installing conditioning on a NIC needs from the network (the facade implements it). */
export interface ConditionHost {
  /** The NIC's own port (as attached to the switch). */
  readonly port: SwitchPort;
  readonly runtime: Runtime;
  /**
   * Puts `next` where `current` is attached in the switch: same id, same learnt MACs, and
   * `next.onDrain` takes `current.onDrain`. False when `current` is not attached (NIC gone).
   */
  swapPort(current: SwitchPort, next: SwitchPort): boolean;
  /** Sends the NIC's incoming frames to `sink`, or back to the switch's input when undefined. */
  routeInput(sink: FrameSink | undefined): void;
  /** The switch's input for this NIC's frames. */
  switchInput: FrameSink;
}

/** Errors of `ConditionSlot.condition` (what `Nic.condition` returns). */
export type ConditionSlotError = ConditionError | VnetError<'nic-detached'>;

const zeroStats = (): ConditionDirectionStats => ({
  frames: 0,
  passed: 0,
  delayed: 0,
  droppedLoss: 0,
  droppedQueue: 0,
  droppedPartition: 0,
  refused: 0,
  heldFrames: 0,
  heldBytes: 0,
});

/**
 * The conditioning state of one NIC: what `nic.condition(spec)` and `nic.conditionStats()` sit
 * on. Holds nothing but a reference until the first spec; counters survive removal and
 * reinstallation, so a test can read them after lifting the conditions.
 */
export class ConditionSlot {
  private cond: NicConditioner | undefined;
  private installed = false;

  constructor(private readonly host: ConditionHost) {}

  /** Whether conditioning is installed now. */
  get active(): boolean {
    return this.installed;
  }

  /**
   * Applies `spec` (checked first; nothing changes when it is invalid), installing the middleware
   * on first use; `null` removes it, handing on whatever was held.
   */
  condition(spec: ConditionSpec | null): Result<void, ConditionSlotError> {
    if (spec === null) {
      this.uninstall(true);
      return ok(undefined);
    }
    const r = resolveCondition(spec, this.host.port.maxFrame);
    if (r.isErr()) return err(r.error);
    const h = this.host;
    const cond = (this.cond ??= new NicConditioner(h.port, h.runtime, h.switchInput));
    if (!this.installed) {
      if (!h.swapPort(h.port, cond.port)) return err(vnetError('nic-detached', `${h.port.name}: the NIC is no longer attached`));
      // The real port's drain now wakes whoever waits on the wrapper (the switch → the gateway's TCP).
      h.port.onDrain = () => cond.port.onDrain?.();
      h.routeInput(cond.input);
      this.installed = true;
    }
    cond.configure(r.value);
    return ok(undefined);
  }

  /** Counters of both directions (zeros before the first spec). */
  stats(): ConditionStats {
    if (this.cond === undefined) return { active: false, spec: null, toNic: zeroStats(), fromNic: zeroStats() };
    return this.cond.stats(this.installed);
  }

  /** The NIC is going away: remove the middleware and drop what it held. */
  close(): void {
    this.uninstall(false);
  }

  private uninstall(flush: boolean): void {
    const cond = this.cond;
    if (!this.installed || cond === undefined) return;
    this.installed = false;
    const h = this.host;
    h.routeInput(undefined);
    h.swapPort(cond.port, h.port);
    // Swapped back first, so frames the flush triggers (a reply to a released frame) take the plain path.
    if (flush) cond.flushAndDispose();
    else cond.discardAndDispose();
  }
}
