/**
 * One direction of a conditioned link: partition, random loss, a rate cap with a bounded
 * backlog, then a delay line with optional jitter, in that order (a frame lost on the way in
 * never occupies the link). Frames leave through a sink; a frame with nothing to wait for and
 * nothing ahead of it goes straight through without being copied.
 *
 * The rate cap is a token bucket kept in virtual time rather than polled: `busyUntil` is when
 * the link finishes the last accepted frame; a new frame finishes `len / bytesPerMs` after
 * that, or after `now − burst time` on a link that has been idle (the bucket's saved tokens,
 * at most `burstBytes`). The backlog is `(busyUntil − now) × bytesPerMs`; a frame that would
 * push it past `queueBytes` is dropped, as a router drops past its interface queue. Each frame's release time is computed on
 * arrival — serialisation end + latency ± jitter — so one timer per pipe does all the waiting.
 *
 * Order: without jitter, release times never go backwards (a later frame is clamped to the
 * latest release already scheduled, which also holds across a reconfiguration that lowers the
 * latency), so the direction stays FIFO. With jitter each frame keeps its own draw and may
 * overtake another, the way netem reorders; ties leave in arrival order.
 * @module
 */
import { randomUnit, type Rng } from '../runtime/rng.js';
import { Timer, type Scheduler } from '../runtime/scheduler.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { HeldFrames } from './condition-queue.js';
import { MAX_HELD_BYTES, MAX_HELD_FRAMES, type ResolvedDirection } from './condition-spec.js';

/** Where a pipe's frames go. The bytes are borrowed for the call; the answer is the sink's drop code. */
export type ConditionSink = (b: Uint8Array, off: number, len: number) => DropCode;

/** What one direction did, as plain numbers (a snapshot of {@link PipeCounters}). */
export interface ConditionDirectionStats {
  /** Frames offered to this direction. */
  frames: number;
  /** Frames handed on at once (nothing to wait for). */
  passed: number;
  /** Frames handed on after being held (latency, jitter or rate). */
  delayed: number;
  /** Frames dropped by the random loss draw. */
  droppedLoss: number;
  /** Frames dropped because the rate backlog or the hold bound was full. */
  droppedQueue: number;
  /** Frames dropped by a partition, including those held when it began. */
  droppedPartition: number;
  /** Frames the far side refused when handed on (a NIC over its high-water mark); among passed + delayed. */
  refused: number;
  /** Frames held right now. */
  heldFrames: number;
  /** Bytes held right now. */
  heldBytes: number;
}

/** Live counters of one direction. Invariant: frames = passed + delayed + held + every dropped*. */
export class PipeCounters {
  frames = 0;
  passed = 0;
  delayed = 0;
  droppedLoss = 0;
  droppedQueue = 0;
  droppedPartition = 0;
  refused = 0;
}

const OFF: ResolvedDirection = { latencyMs: 0, jitterMs: 0, lossPct: 0, rateMbit: 0, queueBytes: 0, burstBytes: 0 };

/** One direction of a conditioned NIC. */
export class ConditionPipe {
  readonly counters = new PipeCounters();
  /** Called once after a refused {@link hasRoom} when room has come back (the port's drain). */
  onRoom: (() => void) | undefined;
  /**
   * Called when the sink refuses a frame that was held. The frame was already counted as sent
   * where it was accepted (the switch counts a queued frame as delivered), so the owner corrects that.
   */
  onRefused: ((len: number, code: DropCode) => void) | undefined;
  /** Called for each held frame a partition drops, for the same correction. */
  onDiscarded: ((len: number) => void) | undefined;
  private cfg: ResolvedDirection = OFF;
  private isDown = false;
  private rng: Rng;
  /** Bytes the link serialises per millisecond (0 = no cap). */
  private bytesPerMs = 0;
  /** How far back an idle link's saved tokens reach, in ms (`burstBytes / bytesPerMs`). */
  private burstMs = 0;
  /** -Infinity: a new link starts with a full bucket. */
  private busyUntil = -Infinity;
  /** Latest release time scheduled, for FIFO without jitter. */
  private lastAt = 0;
  private wantRoom = false;
  private readonly held = new HeldFrames(MAX_HELD_BYTES, MAX_HELD_FRAMES);
  private readonly timer = new Timer((now) => this.release(now));

  /**
   * @param scheduler clock and timer of the network
   * @param sink where frames go (the NIC's port, or the switch's input)
   * @param rng loss and jitter draws until {@link configure} gives another
   */
  constructor(
    private readonly scheduler: Scheduler,
    private readonly sink: ConditionSink,
    rng: Rng,
  ) {
    this.rng = rng;
  }

  /**
   * Applies new settings. Held frames keep the release times they were given; going down drops
   * them (a cut link loses what is on the wire); a new `rng` restarts the draws.
   */
  configure(cfg: ResolvedDirection, down: boolean, rng?: Rng): void {
    this.cfg = cfg;
    if (rng !== undefined) this.rng = rng;
    // Mbit/s → bytes/ms (10⁶ / 8 / 1000). A new rate applies to frames that arrive from now on;
    // the backlog already scheduled keeps its times (and `busyUntil`), like the held frames.
    this.bytesPerMs = cfg.rateMbit * 125;
    this.burstMs = this.bytesPerMs > 0 ? cfg.burstBytes / this.bytesPerMs : 0;
    if (down && !this.isDown) this.dropHeld();
    this.isDown = down;
    if (!down) this.signalRoom();
  }

  /** Whether the partition is on. */
  get down(): boolean {
    return this.isDown;
  }

  /** Whether a frame may skip the pipe right now: nothing held, no delay and no rate (loss aside). */
  get instant(): boolean {
    const c = this.cfg;
    return this.held.size === 0 && c.latencyMs === 0 && c.jitterMs === 0 && this.bytesPerMs === 0;
  }

  /** Whether a frame of `len` bytes would be queued now rather than dropped for lack of room. */
  roomFor(len: number): boolean {
    if (this.isDown) return true;
    if (this.bytesPerMs > 0 && this.backlog(this.scheduler.clock.now()) + len > this.cfg.queueBytes) return false;
    return this.held.fits(len);
  }

  /** {@link roomFor}, and a `false` promises one {@link onRoom} call when room may have come back. */
  hasRoom(len: number): boolean {
    if (this.roomFor(len)) return true;
    this.wantRoom = true;
    return false;
  }

  /**
   * Draws the loss lottery for a frame that bypasses {@link offer} (in-place emission when the
   * pipe is {@link instant}); counts it either way. True = drop it.
   */
  lose(): boolean {
    const c = this.counters;
    c.frames++;
    if (this.isDown) {
      c.droppedPartition++;
      return true;
    }
    if (this.cfg.lossPct > 0 && randomUnit(this.rng) * 100 < this.cfg.lossPct) {
      c.droppedLoss++;
      return true;
    }
    c.passed++;
    return false;
  }

  /**
   * Takes a borrowed frame: drops it (returns {@link Drop.Conditioned}), holds a copy (returns 0)
   * or hands it to the sink at once (returns the sink's answer).
   */
  offer(b: Uint8Array, off: number, len: number): DropCode {
    const c = this.counters;
    const cfg = this.cfg;
    c.frames++;
    if (this.isDown) {
      c.droppedPartition++;
      return Drop.Conditioned;
    }
    // Loss first: a lost frame never occupies the link, and the draw sequence depends only on
    // the frames offered, so a seed replays even when timings differ.
    if (cfg.lossPct > 0 && randomUnit(this.rng) * 100 < cfg.lossPct) {
      c.droppedLoss++;
      return Drop.Conditioned;
    }
    const now = this.scheduler.clock.now();
    let at = now;
    let busy = 0;
    if (this.bytesPerMs > 0) {
      const floor = now - this.burstMs;
      const start = this.busyUntil > floor ? this.busyUntil : floor;
      if ((start - now) * this.bytesPerMs + len > cfg.queueBytes) {
        c.droppedQueue++;
        return Drop.Conditioned;
      }
      busy = start + len / this.bytesPerMs;
      at = busy;
    }
    if (cfg.jitterMs > 0) {
      const d = cfg.latencyMs + (randomUnit(this.rng) * 2 - 1) * cfg.jitterMs;
      if (d > 0) at += d;
    } else {
      at += cfg.latencyMs;
      if (at < this.lastAt) at = this.lastAt;
    }
    if (at <= now && this.held.size === 0) {
      if (this.bytesPerMs > 0) this.busyUntil = busy;
      c.passed++;
      const r = this.sink(b, off, len);
      if (r !== Drop.None) c.refused++;
      return r;
    }
    if (!this.held.push(b, off, len, at)) {
      c.droppedQueue++;
      return Drop.Conditioned;
    }
    if (this.bytesPerMs > 0) this.busyUntil = busy;
    if (at > this.lastAt) this.lastAt = at;
    if (at < this.timer.at) this.scheduler.arm(this.timer, at);
    return Drop.None;
  }

  /** Hands on everything held now, in release order (conditioning is being removed). */
  flush(): void {
    this.release(Infinity);
  }

  /** Drops everything held (the NIC is gone) and stops the timer. Returns how many frames. */
  discard(): number {
    this.scheduler.disarm(this.timer);
    return this.held.clear();
  }

  /** Stops the timer and gives the ring's memory back; the pipe can be configured again. */
  dispose(): void {
    this.scheduler.disarm(this.timer);
    this.held.release();
    this.busyUntil = -Infinity;
    this.lastAt = 0;
    this.wantRoom = false;
  }

  /** Counters and gauges now. */
  stats(): ConditionDirectionStats {
    const c = this.counters;
    return {
      frames: c.frames,
      passed: c.passed,
      delayed: c.delayed,
      droppedLoss: c.droppedLoss,
      droppedQueue: c.droppedQueue,
      droppedPartition: c.droppedPartition,
      refused: c.refused,
      heldFrames: this.held.size,
      heldBytes: this.held.heldBytes,
    };
  }

  private backlog(now: number): number {
    return this.busyUntil > now ? (this.busyUntil - now) * this.bytesPerMs : 0;
  }

  private release(now: number): void {
    const h = this.held;
    const c = this.counters;
    const gen = h.generation;
    while (h.size > 0 && h.nextAt() <= now) {
      const s = h.shift();
      const len = h.lengthOf(s);
      c.delayed++;
      const r = this.sink(h.buf, h.offsetOf(s), len);
      if (r !== Drop.None) {
        c.refused++;
        this.onRefused?.(len, r);
      }
      // The sink may have reconfigured us (a partition dropped everything): the slot is gone.
      if (h.generation !== gen) break;
      h.free(s);
    }
    this.scheduler.arm(this.timer, h.nextAt());
    this.signalRoom();
  }

  private dropHeld(): void {
    const h = this.held;
    this.counters.droppedPartition += h.size;
    if (this.onDiscarded !== undefined) {
      for (let s = h.shift(); s >= 0; s = h.shift()) this.onDiscarded(h.lengthOf(s));
    }
    h.clear();
    this.scheduler.disarm(this.timer);
    this.lastAt = 0;
  }

  private signalRoom(): void {
    if (!this.wantRoom) return;
    this.wantRoom = false;
    this.onRoom?.();
  }
}
