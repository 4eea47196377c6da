/**
 * One proxied TCP flow: the guest-side connection of our TCP endpoint and a host socket, pumped
 * both ways with backpressure and half-close (protocols.md §4.8, style.md §5.2).
 *
 * host → guest: the socket reads through `onread` into one buffer shared by every flow (the bytes
 * are copied into the connection's send ring at once). When the ring is full the remainder is
 * kept aside and the read returns false, which stops the socket; `onWritable` puts the remainder
 * in and resumes it. Host EOF becomes our FIN once the ring has drained.
 *
 * guest → host: views from `onData` are borrowed, so they are appended to a per-flow batch that is
 * written once per turn. Batches come from the shared {@link BufferPool} and go back to it from
 * their write's callback (a fresh 64 KiB buffer per turn made garbage collection a large share of
 * the CPU). The connection's receive backlog is the batch plus the socket's
 * `writableLength`, so a host that stops reading closes the guest's window instead of growing
 * memory. Guest FIN becomes `socket.end()` after the batch; the host may keep sending.
 *
 * Nothing here ends an idle flow: an ESTABLISHED flow lives as long as both ends keep it (user-needs
 * row 12: vpnkit's 300 s idle cut broke X11, Xdebug and database sessions). The owner may arm
 * {@link TcpFlow.idleTimer} when an idle timeout was asked for; a flow it cuts is reset both ways,
 * because a FIN would tell either application that its peer ended cleanly.
 * @module
 */
import type { Socket } from 'node:net';
import { sharedBufferPool } from '../runtime/buffer-pool.js';
import type { Timer } from '../runtime/scheduler.js';
import type { CloseReason, Connection } from '../stack/tcp/connection.js';
import type { SynRequest } from '../stack/tcp/syn-request.js';
import type { FlowCloseReason, FlowHandle } from './flow-events.js';
import { resetHostSocket } from './host-socket-reset.js';

/** What a flow reports to its owner. */
export interface FlowOwner {
  /** Schedules `f.flushToHost()` for the end of the turn. */
  queueFlush(f: TcpFlow): void;
  /** The flow is over on both sides: forget it. */
  flowClosed(f: TcpFlow, reason: CloseReason): void;
  /** Byte and event counters. */
  readonly counters: { bytesToGuest: number; bytesToHost: number; hostResets: number; guestResets: number };
}

/** Size of a fresh batch; bigger turns double it (powers of two keep the pool's sizes few). */
const MIN_BATCH = 64 * 1024;
/** Where batches come from and return to. */
const pool = sharedBufferPool;

/** A guest connection proxied to a host socket. */
export class TcpFlow {
  conn: Connection | undefined;
  /** Bytes read from the host that the send ring had no room for. */
  private spill: Buffer | undefined;
  private spillOff = 0;
  private paused = false;
  private hostEnded = false;
  private guestEnded = false;
  private hostWriteEnded = false;
  private batch: Buffer | undefined;
  private batchLen = 0;
  /** Batches handed to `socket.write`, oldest first: each returns to the pool from its callback. */
  private readonly inFlight: Buffer[] = [];
  /** Queued in the owner's flush list. @internal */
  flushQueued = false;
  closed = false;
  bytesToGuest = 0;
  bytesToHost = 0;
  /**
   * Why the owner or the host ended the flow, when it was not the guest's TCP (set before the
   * teardown, so the owner can report it): `reset` by the host, `idle`, `nic-gone`, `shutdown`.
   */
  cause: FlowCloseReason | undefined;
  /** The flow's report handle when flow events were on at open. @internal */
  events: FlowHandle | undefined;
  /** The owner's idle-timeout timer, created only when an idle timeout is configured. @internal */
  idleTimer: Timer | undefined;
  private readonly onWritten = (): void => {
    // Stream writes complete in order, so the oldest batch is the one this callback is for.
    const b = this.inFlight.shift();
    if (b !== undefined) pool.release(b);
    this.reportBacklog();
  };

  constructor(
    private readonly owner: FlowOwner,
    readonly req: SynRequest,
    readonly socket: Socket,
  ) {}

  /** The host socket connected and the guest's SYN was accepted as `conn`: start pumping. */
  start(conn: Connection): void {
    this.conn = conn;
    conn.user = this;
    conn.setHandlers({
      onData: (b, off, len) => this.fromGuest(b, off, len),
      onEnd: () => this.guestEnd(),
      onWritable: () => this.guestWritable(),
      onClose: (r) => this.guestClosed(r),
    });
    const s = this.socket;
    s.on('end', () => this.hostEnd());
    s.on('error', (e: NodeJS.ErrnoException) => this.hostError(e));
    s.on('close', () => this.hostClosed());
  }

  /** `onread` callback: `n` bytes from the host in the shared buffer. Returns false to pause the socket. */
  fromHost(n: number, buf: Buffer): boolean {
    const c = this.conn;
    if (c === undefined || this.closed) return false;
    const taken = c.send(buf, 0, n);
    this.bytesToGuest += taken;
    this.owner.counters.bytesToGuest += taken;
    if (taken === n) return true;
    // The ring is full: keep the rest (one copy, only on overflow) and stop reading.
    this.spill = Buffer.from(buf.subarray(taken, n));
    this.spillOff = 0;
    this.paused = true;
    return false;
  }

  private guestWritable(): void {
    const c = this.conn!;
    const sp = this.spill;
    if (sp !== undefined) {
      const n = c.send(sp, this.spillOff, sp.length - this.spillOff);
      this.spillOff += n;
      this.bytesToGuest += n;
      this.owner.counters.bytesToGuest += n;
      if (this.spillOff < sp.length) return; // wait for more room
      this.spill = undefined;
    }
    if (this.hostEnded) c.shutdown();
    else if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private hostEnd(): void {
    this.hostEnded = true;
    // Our FIN follows the queued data; with bytes still set aside it waits for guestWritable.
    if (this.spill === undefined) this.conn?.shutdown();
  }

  private hostError(e: NodeJS.ErrnoException): void {
    if (this.closed) return;
    // A reset (or any failure) on the host side resets the guest's connection.
    this.owner.counters.hostResets++;
    this.cause ??= 'reset';
    this.conn?.abort();
    void e;
  }

  private hostClosed(): void {
    if (this.closed || this.conn === undefined) return;
    // Closed without error after both directions finished: the connection ends on its own.
    if (!this.hostEnded) {
      this.cause ??= 'reset';
      this.conn.abort();
    }
  }

  private fromGuest(b: Uint8Array, off: number, len: number): void {
    let batch = this.batch;
    const need = this.batchLen + len;
    if (batch === undefined || need > batch.length) {
      // The batch is never in a write while it is this.batch, so the old one can go back at once.
      let size = batch === undefined ? MIN_BATCH : batch.length * 2;
      while (size < need) size *= 2;
      const nb = pool.acquire(size);
      if (batch !== undefined) {
        if (this.batchLen > 0) batch.copy(nb, 0, 0, this.batchLen);
        pool.release(batch);
      }
      batch = nb;
      this.batch = nb;
    }
    batch.set(b.subarray(off, off + len), this.batchLen);
    this.batchLen = need;
    this.reportBacklog();
    this.owner.queueFlush(this);
  }

  private guestEnd(): void {
    this.guestEnded = true;
    this.owner.queueFlush(this);
  }

  /** Writes this turn's batch to the host, then half-closes if the guest sent FIN. */
  flushToHost(): void {
    this.flushQueued = false;
    if (this.closed) return;
    const s = this.socket;
    if (this.batchLen > 0 && !this.hostWriteEnded) this.writeBatch();
    if (this.guestEnded && !this.hostWriteEnded) {
      this.hostWriteEnded = true;
      s.end();
    }
    this.reportBacklog();
  }

  /** Hands the batch to the socket; it returns to the pool from the write's callback. */
  private writeBatch(): void {
    const batch = this.batch!;
    const n = this.batchLen;
    this.inFlight.push(batch);
    this.batch = undefined;
    this.batchLen = 0;
    this.bytesToHost += n;
    this.owner.counters.bytesToHost += n;
    this.socket.write(batch.subarray(0, n), this.onWritten);
  }

  private reportBacklog(): void {
    const c = this.conn;
    if (c !== undefined && !this.closed) c.setReceiveBacklog(this.batchLen + this.socket.writableLength);
  }

  private guestClosed(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    if (reason === 'reset' || this.cause === 'idle') {
      // Propagate the reset: RST to the host too (a plain close once our FIN is already on its
      // way, or on a pipe, where there is no RST). An idle cut resets the host side as well: a
      // FIN would read as a clean end.
      if (reason === 'reset') this.owner.counters.guestResets++;
      resetHostSocket(this.socket);
    } else if (reason === 'closed') {
      // Both FINs exchanged: whatever is queued to the host still goes, then the socket closes.
      if (this.batchLen > 0 && !this.hostWriteEnded) this.writeBatch();
      if (!this.hostWriteEnded) this.socket.end();
      this.socket.destroySoon();
    } else {
      this.socket.destroy();
    }
    this.spill = undefined;
    // The connection may linger in TIME-WAIT: it must not keep this flow (and its socket) alive.
    if (this.conn !== undefined && this.conn.user === this) this.conn.user = undefined;
    // A batch never written is nobody's: back to the pool. Written ones return from their callbacks.
    if (this.batch !== undefined) pool.release(this.batch);
    this.batch = undefined;
    this.batchLen = 0;
    this.owner.flowClosed(this, reason);
  }

  /**
   * Tears the flow down without a word to the guest (its NIC is gone, or the forwarder closes);
   * `cause` is what the owner reports.
   */
  destroy(cause: FlowCloseReason = 'nic-gone'): void {
    this.cause ??= cause;
    this.socket.destroy();
    if (this.conn !== undefined && !this.conn.isClosed) this.conn.abort(true);
    else if (!this.closed) {
      this.closed = true;
      this.owner.flowClosed(this, 'aborted');
    }
  }

  /**
   * The latest sign of life, for an idle timeout: the last segment from the guest. A keepalive
   * probe counts (RFC 9293 §3.8.4 probes are bare ACKs the endpoint answers), and so does data
   * either way, since the guest acknowledges what it receives and window-probes a closed window.
   */
  get lastActivity(): number {
    return this.conn?.lastInputAt ?? 0;
  }

  /** The reason to report for a close the guest's TCP reported as `reason`: the owner's or host's cause first. */
  closeReason(reason: CloseReason): FlowCloseReason {
    if (this.cause !== undefined) return this.cause;
    if (reason === 'closed' || reason === 'timeout' || reason === 'refused') return reason;
    // 'reset' from the guest, or 'aborted' by the endpoint's own teardown.
    return 'reset';
  }

  /** Cuts an idle flow: RST to the guest and to the host, reported as `idle`. */
  cutIdle(): void {
    if (this.closed) return;
    this.cause ??= 'idle';
    if (this.conn !== undefined && !this.conn.isClosed) this.conn.abort();
    else this.destroy('idle');
  }
}
