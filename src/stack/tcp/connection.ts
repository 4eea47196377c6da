/**
 * One TCP connection's control block (RFC 9293 §3.3.1) and its socket-like API (style.md §5.2):
 * `send` copies into a bounded ring and returns how much it took, data arrives through `onData`
 * as borrowed views, `shutdown` half-closes, `abort` resets, and the consumer reports how much
 * delivered data it still holds with `setReceiveBacklog`, which shrinks the window we advertise.
 *
 * The event logic lives beside it, split as mirage-tcpip splits its TCP: `input.ts` (the state
 * machine), `ack.ts` (send-side ACK processing and loss recovery), `receive.ts` (text and FIN),
 * `transmit.ts` (what to send), `output.ts` (building segments), `timers.ts` (deadlines),
 * `open.ts` (the handshake's state changes).
 * Nothing is sent from here directly: changes mark the connection dirty and the endpoint flushes
 * every dirty connection once at the end of the turn, which coalesces small writes into full
 * segments and acknowledges a whole input batch with one ACK.
 * @module
 */
import { Timer } from '../../runtime/scheduler.js';
import { formatIpv4 } from '../../wire/address.js';
import type { ConnectionContext } from './context.js';
import { emitReset } from './output.js';
import { Reassembly } from './reassembly.js';
import { RttEstimator } from './rtt.js';
import { SackScoreboard } from './sack-scoreboard.js';
import { SendBuffer } from './send-buffer.js';
import { seqAdd, seqDiff } from './seq.js';
import { acceptsSend, formatState, isSynchronized, State } from './state.js';
import { onConnectionTimer } from './timers.js';

/** Why a connection ended, as reported once through `onClose`. */
export type CloseReason =
  /** Both directions finished with FINs (or our side shut down during the handshake). */
  | 'closed'
  /** The peer sent an acceptable RST. */
  | 'reset'
  /** Our active open was answered with RST. */
  | 'refused'
  /** Retransmissions, SYN retries or keepalive probes were exhausted. */
  | 'timeout'
  /** We aborted it (`abort()`, endpoint teardown, the guest's NIC vanished). */
  | 'aborted';

/** Callbacks of a connection; all optional. */
export interface ConnectionHandlers {
  /** The handshake completed. */
  onEstablished?: () => void;
  /** In-order data. The view is borrowed: copy what you keep before returning. */
  onData?: (buf: Uint8Array, off: number, len: number) => void;
  /** `send` returned less than asked earlier, and the send buffer has room again. */
  onWritable?: () => void;
  /** The peer sent FIN: no more data will arrive (we may still send). */
  onEnd?: () => void;
  /** The connection is over; called exactly once. */
  onClose?: (reason: CloseReason) => void;
}

/** RFC 9293 §3.7.1: MSS assumed when the option is absent (until the peer's SYN says otherwise). */
export const DEFAULT_PEER_MSS = 536;
/** Length of the timestamps option as sent (NOP NOP TS), RFC 7323 appendix A. */
export const TS_OPTION_LEN = 12;

/** A TCP connection. Fields are the TCB: read them freely, change them only through the methods. */
export class Connection implements ConnectionHandlers {
  state: State = State.Closed;
  // --- send sequence space, RFC 9293 §3.3.1 ---
  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  /** Highest sequence number sent so far (SND.NXT can move back on a timeout). */
  sndMax = 0;
  /** Peer's window in bytes (scaled). */
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  /** Largest window the peer ever offered (RFC 5961 §5.2's MAX.SND.WND). */
  maxSndWnd = 0;
  /** Peer's window-scale shift (RFC 7323 §2.3), applied to its window field. */
  sndShift = 0;
  /** Sequence number of the first byte in {@link sendBuf}. */
  bufSeq = 0;
  // --- receive sequence space ---
  irs = 0;
  rcvNxt = 0;
  /** Our window-scale shift. */
  rcvShift = 0;
  /** Right edge of the last window we advertised (never moved left, RFC 9293 §3.8.6). */
  rcvAdvEdge = 0;
  /** Largest window we may advertise (receive buffer, capped at 65535 without scaling). */
  rcvCap = 0;
  /** Delivered bytes the consumer still holds ({@link setReceiveBacklog}). */
  backlog = 0;
  // --- options ---
  peerMss = DEFAULT_PEER_MSS;
  /** Payload bytes per full segment we send (peer MSS, our MTU, minus our option bytes). */
  sndMss = DEFAULT_PEER_MSS;
  tsOn = false;
  tsRecent = 0;
  tsOffset = 0;
  /** RCV.NXT carried by the last ACK we sent (RFC 7323 §4.3's Last.ACK.sent). */
  lastAckSent = 0;
  sackOn = false;
  /** Window scaling agreed (both SYNs carried the option, RFC 7323 §2.2). */
  wsOn = false;
  // --- buffers ---
  readonly sendBuf: SendBuffer;
  readonly reasm: Reassembly;
  readonly sacks = new SackScoreboard();
  /** `shutdown()` was called: a FIN follows the queued data. */
  finQueued = false;
  /** Our FIN has been given a sequence number ({@link finSeq}). */
  finSent = false;
  finSeq = 0;
  // --- timers (deadlines as data; one Timer holds the earliest) ---
  readonly timer: Timer;
  rtxAt = Infinity;
  persistAt = Infinity;
  keepaliveAt = Infinity;
  timeWaitAt = Infinity;
  /** Consecutive expiries without progress. */
  rtxCount = 0;
  persistCount = 0;
  keepaliveSent = 0;
  readonly rtt: RttEstimator;
  /** Karn's algorithm without timestamps: one timed segment at a time (RFC 6298 §3). */
  rttActive = false;
  rttSeq = 0;
  rttTime = 0;
  // --- congestion control, RFC 5681 / 6582 / 6675 ---
  cwnd = 0;
  ssthresh = Infinity;
  dupAcks = 0;
  inRecovery = false;
  recoverSeq = 0;
  /** Next sequence number to consider for a hole retransmission during recovery. */
  holeCursor = 0;
  /** Holes below this are retransmitted during recovery. */
  rtxHigh = 0;
  caAcked = 0;
  // --- flags ---
  /** An ACK must go out at the next flush. */
  ackPending = false;
  /** SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED) must be (re)sent. */
  synPending = false;
  /** Opened by us (`connect`) rather than by the peer's SYN. */
  readonly active: boolean;
  /** Output is waiting for the guest's NIC to drain. @internal */
  blocked = false;
  /** In the endpoint's dirty list. @internal */
  dirty = false;
  wantWritable = false;
  private closeNotified = false;
  lastInputAt = 0;
  // --- counters ---
  bytesIn = 0;
  bytesOut = 0;
  retransmits = 0;
  // --- handlers ---
  onEstablished: (() => void) | undefined;
  onData: ((buf: Uint8Array, off: number, len: number) => void) | undefined;
  onWritable: (() => void) | undefined;
  onEnd: (() => void) | undefined;
  onClose: ((reason: CloseReason) => void) | undefined;
  /** A listener's accept callback, called once on ESTABLISHED. @internal */
  acceptCb: ((c: Connection) => void) | undefined;
  /** Free slot for the owner (the forwarder keeps its flow record here). */
  user: unknown;

  constructor(
    /** @internal */
    readonly ctx: ConnectionContext,
    /** The address we speak from (the remote we impersonate, or ours for `connect`). */
    readonly localIp: number,
    readonly localPort: number,
    /** The guest's address. */
    readonly remoteIp: number,
    readonly remotePort: number,
    active: boolean,
  ) {
    const cfg = ctx.config;
    this.active = active;
    this.sendBuf = new SendBuffer(cfg.initialSendBuffer, cfg.sendBuffer);
    // Slack of one scale unit: a rounded-up window may promise up to 2^14 - 1 bytes more (RFC 7323 §2.3).
    this.reasm = new Reassembly(cfg.receiveBuffer + (1 << 14), cfg.maxOutOfOrderRanges);
    this.rtt = new RttEstimator(cfg.initialRtoMs, cfg.minRtoMs, cfg.maxRtoMs);
    this.timer = new Timer((now) => onConnectionTimer(this, now));
    this.rcvCap = Math.min(cfg.receiveBuffer, 65535);
  }

  /** Sets the handlers given (others keep their value). */
  setHandlers(h: ConnectionHandlers): void {
    if (h.onEstablished !== undefined) this.onEstablished = h.onEstablished;
    if (h.onData !== undefined) this.onData = h.onData;
    if (h.onWritable !== undefined) this.onWritable = h.onWritable;
    if (h.onEnd !== undefined) this.onEnd = h.onEnd;
    if (h.onClose !== undefined) this.onClose = h.onClose;
  }

  // ------------------------------------------------------------------ public API

  /**
   * Queues `buf[off, off+len)` for sending. Returns the bytes taken: fewer than `len` (0 when the
   * ring is full, or after `shutdown`/close) means "wait for `onWritable`".
   */
  send(buf: Uint8Array, off: number, len: number): number {
    if (this.finQueued || !acceptsSend(this.state)) return 0;
    const n = this.sendBuf.write(buf, off, len);
    if (n < len) this.wantWritable = true;
    if (n > 0) this.ctx.markDirty(this);
    return n;
  }

  /** Bytes `send` would take now. */
  get writableBytes(): number {
    return this.finQueued || !acceptsSend(this.state) ? 0 : this.sendBuf.free;
  }

  /** Bytes queued and not yet acknowledged by the peer. */
  get unacknowledged(): number {
    return this.sendBuf.length;
  }

  /**
   * Half-closes: a FIN follows the queued data (RFC 9293 §3.10.4 CLOSE). Data from the peer keeps
   * arriving until its own FIN. Idempotent.
   */
  shutdown(): void {
    if (this.finQueued || !acceptsSend(this.state)) return;
    if (this.state === State.SynSent && this.sendBuf.length === 0) {
      // RFC 9293 §3.10.4: CLOSE in SYN-SENT deletes the TCB; nothing was exchanged. With data
      // queued we keep it and send FIN after it, as for SYN-RECEIVED (a socket's connect-write-close).
      this.finish('closed');
      return;
    }
    this.finQueued = true;
    if (this.state === State.Established) this.setState(State.FinWait1);
    else if (this.state === State.CloseWait) this.setState(State.LastAck);
    // SYN-SENT/SYN-RECEIVED: the FIN waits for ESTABLISHED (RFC 9293 §3.10.4, see establish()).
    this.ctx.markDirty(this);
  }

  /**
   * Resets the connection (RFC 9293 §3.10.4 ABORT): sends RST unless `silent` (the peer is gone),
   * drops queued data and reports `aborted`.
   */
  abort(silent = false): void {
    this.terminate('aborted', !silent);
  }

  /** Ends the connection with `reason`, sending <SEQ=SND.NXT><CTL=RST> first if `sendRst`. @internal */
  terminate(reason: CloseReason, sendRst: boolean): void {
    if (this.state === State.Closed) return;
    if (sendRst && (isSynchronized(this.state) || this.state === State.SynReceived) && this.state !== State.TimeWait) {
      emitReset(this.ctx.out, this.ctx.counters, this.localIp, this.localPort, this.remoteIp, this.remotePort, this.sndNxt, 0, false);
    }
    this.finish(reason);
  }

  /**
   * Reports how many delivered bytes the consumer still holds (e.g. a host socket's
   * `writableLength`). The advertised window is the receive buffer minus this; when it grows back
   * by a worthwhile amount a window update is sent (RFC 9293 §3.8.6.2.2).
   */
  setReceiveBacklog(n: number): void {
    this.backlog = n > 0 ? n : 0;
    if (this.state === State.Closed || this.state === State.TimeWait) return;
    const avail = this.rcvCap - this.backlog;
    const cur = seqDiff(this.rcvAdvEdge, this.rcvNxt);
    // Only when the peer may be held back by a small window; while data flows, ACKs carry it anyway.
    if (cur < this.rcvCap / 2 && avail - cur >= this.swsThreshold()) {
      this.ackPending = true;
      this.ctx.markDirty(this);
    }
  }

  // ------------------------------------------------------------------ window

  /** RFC 9293 §3.8.6.2.2: the right edge moves only by at least min(buffer/2, MSS). */
  swsThreshold(): number {
    return Math.min(this.rcvCap / 2, this.ctx.mss);
  }

  /**
   * The window field for an outgoing non-SYN segment; moves {@link rcvAdvEdge}. The promised edge
   * never moves left (rounding up keeps it), and it moves right only by a worthwhile step.
   */
  windowField(): number {
    const avail = Math.max(0, this.rcvCap - this.backlog);
    let wnd = seqDiff(this.rcvAdvEdge, this.rcvNxt);
    if (wnd < 0) wnd = 0;
    const unit = 2 ** this.rcvShift;
    let field: number;
    if (avail > wnd && avail - wnd >= this.swsThreshold()) field = Math.floor(avail / unit);
    else field = Math.ceil(wnd / unit);
    if (field > 65535) field = 65535;
    this.rcvAdvEdge = seqAdd(this.rcvNxt, field * unit);
    return field;
  }

  // ------------------------------------------------------------------ life cycle (internal)

  /** Moves to `s`, keeping the endpoint's per-state counts. @internal */
  setState(s: State): void {
    const by = this.ctx.counters.byState;
    if (this.state !== State.Closed) by[this.state]!--;
    this.state = s;
    if (s !== State.Closed) by[s]!++;
  }

  /** Arms the connection's one timer for its earliest deadline (lazily: only ever earlier). @internal */
  armTimer(): void {
    const at = Math.min(this.rtxAt, this.persistAt, this.keepaliveAt, this.timeWaitAt);
    if (at < this.timer.at) this.ctx.scheduler.arm(this.timer, at);
  }

  /** Enters TIME-WAIT (RFC 9293 §3.10.7.4): only retransmitted FINs are answered until it ends. @internal */
  enterTimeWait(now: number): void {
    this.setState(State.TimeWait);
    this.rtxAt = Infinity;
    this.persistAt = Infinity;
    this.keepaliveAt = Infinity;
    this.timeWaitAt = now + this.ctx.config.timeWaitMs;
    this.armTimer();
    // Our FIN was acknowledged, so every byte was: TIME-WAIT only ever sends bare ACKs.
    this.releaseBuffers();
    this.notifyClose('closed');
  }

  /** Ends the connection: CLOSED, timer off, forgotten by the endpoint, `onClose` once. @internal */
  finish(reason: CloseReason): void {
    if (this.state === State.Closed) return;
    this.setState(State.Closed);
    this.ctx.counters.connectionsClosed++;
    this.ctx.scheduler.disarm(this.timer);
    this.ctx.release(this);
    this.releaseBuffers();
    this.notifyClose(reason);
  }

  /** Returns the send ring and the out-of-order ring to their pool: nothing will read them again. */
  private releaseBuffers(): void {
    this.sendBuf.release();
    this.reasm.release();
  }

  /**
   * Calls `onClose` the first time only, then forgets every handler: no other event can follow,
   * and a connection in TIME-WAIT stays in the endpoint's table for a while — holding the
   * owner's closures would keep its whole object graph (a host socket, for the forwarder)
   * alive and promoted to the old generation under connection churn. @internal
   */
  notifyClose(reason: CloseReason): void {
    if (this.closeNotified) return;
    this.closeNotified = true;
    const h = this.onClose;
    this.onData = undefined;
    this.onWritable = undefined;
    this.onEnd = undefined;
    this.onEstablished = undefined;
    this.acceptCb = undefined;
    h?.(reason);
    this.onClose = undefined;
  }

  /** Calls `onWritable` if the producer is waiting and there is room. @internal */
  notifyWritable(): void {
    if (!this.wantWritable || this.closeNotified) return;
    if (this.sendBuf.free < this.sendBuf.max / 2 && this.sendBuf.length > 0) return;
    this.wantWritable = false;
    this.onWritable?.();
  }

  /** Whether the connection reached CLOSED (a getter, so checks after callbacks are not narrowed away). */
  get dead(): boolean {
    return this.state === State.Closed;
  }

  /** Whether `onClose` has been called. */
  get isClosed(): boolean {
    return this.closeNotified;
  }

  /** `ESTABLISHED 192.168.65.2:40000 > 1.2.3.4:80 una 5 nxt 9 wnd 1024 rcv 77` for logs. */
  toString(): string {
    return (
      `${formatState(this.state)} ${formatIpv4(this.remoteIp)}:${this.remotePort} > ${formatIpv4(this.localIp)}:${this.localPort}` +
      ` una ${this.sndUna} nxt ${this.sndNxt} wnd ${this.sndWnd} rcv ${this.rcvNxt} queued ${this.sendBuf.length}`
    );
  }
}
