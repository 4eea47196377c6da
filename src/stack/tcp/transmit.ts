/**
 * What a connection sends when the endpoint flushes it (once per turn, or from a timer): the SYN
 * or SYN-ACK during the handshake; else hole retransmissions during loss recovery, then new data
 * in segments of up to SND.MSS bounded by the peer's window and the congestion window, the FIN
 * after the last byte, and a bare ACK when nothing else carried one. Sender-side silly window
 * avoidance (RFC 9293 §3.8.6.2.1) holds back small segments only while an ACK is still due;
 * Nagle is off (protocols.md §4.8), so a partial last segment goes out at the end of the turn.
 * @module
 */
import { TcpFlag } from '../../wire/tcp.js';
import { pipe } from './ack.js';
import type { Connection } from './connection.js';
import { emitSegment } from './output.js';
import { seqAdd, seqDiff, seqGt, seqLt } from './seq.js';
import { State } from './state.js';

/** Emits whatever `c` has to send now. */
export function transmit(c: Connection, now: number): void {
  if (c.state === State.Closed || c.blocked) return;
  if (c.state === State.SynSent || c.state === State.SynReceived) {
    if (c.synPending) sendSyn(c, now);
    else if (c.ackPending && c.state === State.SynReceived) emitSegment(c, now, c.sndNxt, TcpFlag.ACK, 0, 0);
    c.armTimer();
    return;
  }
  if (c.state === State.TimeWait) {
    if (c.ackPending) emitSegment(c, now, c.sndNxt, TcpFlag.ACK, 0, 0);
    return;
  }
  // A window that opened ends persist mode; the probe byte, probably discarded, is resent in order.
  if (c.persistAt !== Infinity && c.sndWnd > 0) {
    c.persistAt = Infinity;
    c.persistCount = 0;
    c.sndNxt = c.sndUna;
  }
  let sent = false;
  if (c.inRecovery) sent = fillHoles(c, now);
  if (!c.blocked) sent = sendData(c, now) || sent;
  if (!sent && c.ackPending && !c.blocked) emitSegment(c, now, c.sndNxt, TcpFlag.ACK, 0, 0);
  // RFC 9293 §3.8.6.1: a zero window with data waiting and nothing in flight starts the persist timer.
  if (c.sndWnd === 0 && c.sndNxt === c.sndUna && unsent(c) > 0 && c.persistAt === Infinity) {
    c.rtxAt = Infinity;
    c.persistAt = now + c.rtt.rto;
  }
  c.armTimer();
}

/** Bytes of the ring not yet sent (from SND.NXT). */
function unsent(c: Connection): number {
  return c.sendBuf.length - Math.max(0, seqDiff(c.sndNxt, c.bufSeq));
}

function sendSyn(c: Connection, now: number): void {
  const flags = c.state === State.SynSent ? TcpFlag.SYN : TcpFlag.SYN | TcpFlag.ACK;
  if (!emitSegment(c, now, c.iss, flags, 0, 0)) return;
  c.synPending = false;
  c.sndNxt = seqAdd(c.iss, 1);
  c.sndMax = c.sndNxt;
  if (c.rtxCount === 0) c.rttTime = now;
  if (c.rtxAt === Infinity) c.rtxAt = now + c.rtt.rto;
}

/** Retransmits holes below `rtxHigh` while the pipe has room (RFC 6675 §5 NextSeg rule 1). */
function fillHoles(c: Connection, now: number): boolean {
  let sent = false;
  for (;;) {
    if (!seqLt(c.holeCursor, c.rtxHigh)) return sent;
    const una = c.sndUna;
    let off = Math.max(0, seqDiff(c.holeCursor, una));
    if (c.sackOn) off = c.sacks.nextUnsacked(off);
    const high = seqDiff(c.rtxHigh, una);
    if (off >= high) {
      c.holeCursor = c.rtxHigh;
      return sent;
    }
    const holeEnd = Math.min(high, c.sackOn ? c.sacks.nextSackedStart(off) : high);
    const seq = seqAdd(una, off);
    const dataOff = seqDiff(seq, c.bufSeq);
    const avail = c.sendBuf.length - dataOff;
    let len = Math.min(c.sndMss, holeEnd - off, avail);
    if (len < 0) len = 0;
    // The hole may end with our FIN (it occupies the sequence number after the last byte).
    const fin = c.finSent && seqAdd(seq, len) === c.finSeq && holeEnd - off > len;
    if (len === 0 && !fin) {
      c.holeCursor = c.rtxHigh;
      return sent;
    }
    if (pipe(c) + len > c.cwnd && sent) return sent; // RFC 6675 §5 (C): pipe < cwnd; the first hole always goes
    if (!emitSegment(c, now, seq, TcpFlag.ACK | (fin ? TcpFlag.FIN : 0), dataOff, len)) return sent;
    c.holeCursor = seqAdd(seq, len + (fin ? 1 : 0));
    c.retransmits++;
    c.ctx.counters.retransmits++;
    if (c.rtxAt === Infinity) c.rtxAt = now + c.rtt.rto;
    sent = true;
  }
}

/** New data (and go-back-N resends after a timeout), then the FIN. */
function sendData(c: Connection, now: number): boolean {
  let sent = false;
  const mss = c.sndMss;
  for (;;) {
    const dataOff = Math.max(0, seqDiff(c.sndNxt, c.bufSeq));
    const avail = c.sendBuf.length - dataOff;
    const inFlight = c.inRecovery ? pipe(c) : seqDiff(c.sndNxt, c.sndUna);
    const usableWnd = c.sndWnd - seqDiff(c.sndNxt, c.sndUna);
    const usableCwnd = c.cwnd - inFlight;
    let len = Math.min(mss, avail, usableWnd, usableCwnd);
    if (len < 0) len = 0;
    const fin = c.finQueued && len === avail && (!c.finSent || !seqGt(c.sndNxt, c.finSeq));
    if (len === 0 && !fin) return sent;
    if (len > 0 && len < mss && len < avail) {
      // RFC 9293 §3.8.6.2.1: a window-limited runt waits for an ACK, unless nothing is in flight
      // (no ACK will come) or it is at least half the largest window the peer offered.
      if (c.sndNxt !== c.sndUna && len < c.maxSndWnd / 2) return sent;
    }
    let flags = TcpFlag.ACK;
    if (fin) flags |= TcpFlag.FIN;
    if (len > 0 && len === avail) flags |= TcpFlag.PSH;
    const seq = c.sndNxt;
    if (!emitSegment(c, now, seq, flags, dataOff, len)) return sent;
    const retransmission = seqLt(seq, c.sndMax);
    if (retransmission) {
      c.retransmits++;
      c.ctx.counters.retransmits++;
    } else if (!c.rttActive && !c.tsOn && len > 0) {
      // RFC 6298 §3: time one segment per RTT, never a retransmitted one (Karn).
      c.rttActive = true;
      c.rttSeq = seqAdd(seq, len);
      c.rttTime = now;
    }
    if (fin) {
      c.finSent = true;
      c.finSeq = seqAdd(seq, len);
    }
    c.sndNxt = seqAdd(seq, len + (fin ? 1 : 0));
    if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
    if (c.rtxAt === Infinity) c.rtxAt = now + c.rtt.rto;
    sent = true;
    if (fin) return sent;
  }
}
