/**
 * SEGMENT ARRIVES (RFC 9293 §3.10.7) for a connection that exists: one function per group of
 * states, each step commented with the RFC section it implements. The endpoint handles CLOSED
 * and LISTEN (no connection yet). Replies are not sent from here: the connection is marked for
 * the end-of-turn flush (`ackPending`), except RSTs, which go out at once.
 * @module
 */
import { TcpFlag } from '../../wire/tcp.js';
import { processAck } from './ack.js';
import type { Connection } from './connection.js';
import { enableScaling, establish, setPeerMss } from './open.js';
import { emitReset } from './output.js';
import { receiveText } from './receive.js';
import type { Segment } from './segment.js';
import { seqAdd, seqDiff, seqGt, seqInWindow, seqLe, seqLt } from './seq.js';
import { State } from './state.js';

/** Handles one segment for `c` at time `now` (ms). */
export function segmentArrives(c: Connection, seg: Segment, now: number): void {
  c.ctx.counters.segmentsIn++;
  c.lastInputAt = now;
  c.keepaliveSent = 0;
  c.persistCount = 0; // RFC 9293 §3.8.6.1: probing goes on as long as the peer answers
  if (c.state === State.SynSent) synSent(c, seg, now);
  else if (c.state !== State.Closed) synchronized(c, seg, now);
  if (c.state !== State.Closed) {
    if (c.ackPending) c.ctx.markDirty(c);
    c.armTimer();
  }
}

/** RFC 9293 §3.10.7.3: SYN-SENT. */
function synSent(c: Connection, seg: Segment, now: number): void {
  const f = seg.flags;
  // First: check the ACK bit. An ACK of something other than our SYN gets RST <SEQ=SEG.ACK>.
  if (f & TcpFlag.ACK) {
    if (seqLe(seg.ack, c.iss) || seqGt(seg.ack, c.sndMax)) {
      if (!(f & TcpFlag.RST)) resetFor(c, seg.ack);
      return;
    }
  }
  // Second: RST. Acceptable only with an ACK of our SYN (RFC 5961 §3 keeps that rule).
  if (f & TcpFlag.RST) {
    if (f & TcpFlag.ACK) {
      c.ctx.counters.resetsReceived++;
      c.finish('refused');
    }
    return;
  }
  // Fourth: SYN. Record the peer's ISN and options.
  if (!(f & TcpFlag.SYN)) return;
  const o = seg.opts;
  const cfg = c.ctx.config;
  c.irs = seg.seq;
  c.rcvNxt = seqAdd(seg.seq, 1);
  // Our SYN offered min(buffer, 65535) unscaled (RFC 7323 §2.2): that is the window promised so far.
  c.rcvAdvEdge = seqAdd(c.rcvNxt, Math.min(c.ctx.config.receiveBuffer, 65535));
  if (cfg.windowScaling && o.windowScale >= 0) enableScaling(c, o.windowScale);
  c.sackOn = cfg.sack && o.sackPermitted;
  c.tsOn = cfg.timestamps && o.hasTimestamps;
  if (c.tsOn) c.tsRecent = o.tsVal;
  setPeerMss(c, o.mss);
  c.sndWnd = seg.window; // a SYN's window is never scaled (RFC 7323 §2.2)
  c.maxSndWnd = seg.window;
  c.sndWl1 = seg.seq;
  c.sndWl2 = seg.ack;
  if (f & TcpFlag.ACK) {
    // Our SYN is acknowledged: ESTABLISHED, and ACK the peer's SYN.
    if (c.rtxCount === 0) c.rtt.sample(now - c.rttTime); // Karn: only an unretransmitted SYN times the RTT
    c.sndUna = seg.ack;
    c.rtxAt = Infinity;
    c.ackPending = true;
    establish(c);
  } else {
    // Simultaneous open: SYN-RECEIVED, answer <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    c.synPending = true;
    c.setState(State.SynReceived);
    c.ctx.markDirty(c);
  }
}

/** RFC 9293 §3.10.7.4: SYN-RECEIVED and every synchronized state. */
function synchronized(c: Connection, seg: Segment, now: number): void {
  const f = seg.flags;
  const o = seg.opts;
  // A retransmitted SYN in SYN-RECEIVED means our SYN-ACK was lost: send it again.
  if (c.state === State.SynReceived && (f & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === TcpFlag.SYN && seg.seq === c.irs) {
    c.synPending = true;
    c.ctx.markDirty(c);
    return;
  }
  // Simultaneous open (RFC 9293 §3.5 figure 8): the peer's SYN-ACK repeats its SYN but carries the
  // ACK of ours; like Linux, take the ACK and complete the handshake.
  if (
    c.state === State.SynReceived &&
    (f & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) === (TcpFlag.SYN | TcpFlag.ACK) &&
    seg.seq === c.irs &&
    seqLt(c.sndUna, seg.ack) &&
    seqLe(seg.ack, c.sndMax)
  ) {
    c.sndUna = seg.ack;
    c.rtxAt = Infinity;
    c.ackPending = true;
    establish(c);
    return;
  }
  // RFC 7323 §5.3 PAWS: a timestamp older than TS.Recent marks an old duplicate; ACK and drop.
  if (c.tsOn && o.hasTimestamps && !(f & TcpFlag.RST) && c.state !== State.SynReceived && seqLt(o.tsVal, c.tsRecent)) {
    c.ctx.counters.dropped++;
    c.ackPending = true;
    return;
  }
  // First: sequence number acceptability (RFC 9293 §3.10.7.4 table).
  let textOk = true;
  if (!acceptable(c, seg)) {
    // RFC 9293 §3.10.7.4: with a zero window still process ACK and RST of a segment at RCV.NXT.
    const zeroWindowProbe = seg.seq === c.rcvNxt && seqDiff(c.rcvAdvEdge, c.rcvNxt) <= 0 && !(f & TcpFlag.SYN);
    if (!zeroWindowProbe) {
      c.ctx.counters.dropped++;
      if (!(f & TcpFlag.RST)) {
        c.ackPending = true;
        // A retransmitted FIN in TIME-WAIT restarts the 2MSL wait (RFC 9293 §3.10.7.4 step 8).
        if (c.state === State.TimeWait && f & TcpFlag.FIN) c.timeWaitAt = now + c.ctx.config.timeWaitMs;
      }
      return;
    }
    textOk = false;
    c.ackPending = true;
  }
  // RFC 7323 §4.3: remember the peer's timestamp to echo it.
  if (c.tsOn && o.hasTimestamps && seqLe(seg.seq, c.lastAckSent)) c.tsRecent = o.tsVal;
  // Second: RST (RFC 5961 §3.2): exactly RCV.NXT resets, anything else in the window is challenged.
  if (f & TcpFlag.RST) {
    if (seg.seq === c.rcvNxt) {
      c.ctx.counters.resetsReceived++;
      // RFC 9293 §3.10.7.4: an active open that ends in RST from SYN-RECEIVED was refused.
      c.finish(c.state === State.SynReceived && c.active ? 'refused' : 'reset');
    } else {
      challengeAck(c, now);
    }
    return;
  }
  // Fourth: SYN in a synchronized state is challenged, never trusted (RFC 5961 §4.2, RFC 9293).
  if (f & TcpFlag.SYN) {
    challengeAck(c, now);
    return;
  }
  // Fifth: the ACK field.
  if (!(f & TcpFlag.ACK)) return;
  if (c.state === State.SynReceived) {
    if (!(seqLt(c.sndUna, seg.ack) && seqLe(seg.ack, c.sndMax))) {
      resetFor(c, seg.ack); // <SEQ=SEG.ACK><CTL=RST>
      return;
    }
    c.sndUna = seg.ack;
    c.sndWnd = seg.window * 2 ** c.sndShift;
    c.maxSndWnd = Math.max(c.maxSndWnd, c.sndWnd);
    c.sndWl1 = seg.seq;
    c.sndWl2 = seg.ack;
    c.rtxAt = Infinity;
    if (c.rtxCount === 0) c.rtt.sample(now - c.rttTime);
    establish(c);
    if (c.dead) return;
  } else if (!processAck(c, seg, now)) {
    return;
  }
  if (c.state === State.Closed) return;
  const finAcked = c.finSent && seqGt(c.sndUna, c.finSeq);
  switch (c.state) {
    case State.FinWait1:
      if (finAcked) c.setState(State.FinWait2);
      break;
    case State.Closing:
      if (finAcked) c.enterTimeWait(now);
      return;
    case State.LastAck:
      if (finAcked) c.finish('closed');
      return;
    case State.TimeWait:
      return;
  }
  // Seventh and eighth: segment text and FIN.
  if (textOk && (seg.payloadLen > 0 || f & TcpFlag.FIN)) receiveText(c, seg, now);
}

/** The acceptability test of RFC 9293 §3.10.7.4 against the window we advertised. */
function acceptable(c: Connection, seg: Segment): boolean {
  const len = seg.len;
  const wnd = seqDiff(c.rcvAdvEdge, c.rcvNxt);
  if (wnd <= 0) return len === 0 && seg.seq === c.rcvNxt;
  const hi = seqAdd(c.rcvNxt, wnd);
  if (len === 0) return seqInWindow(seg.seq, c.rcvNxt, hi);
  return seqInWindow(seg.seq, c.rcvNxt, hi) || seqInWindow(seqAdd(seg.seq, len - 1), c.rcvNxt, hi);
}

/** RFC 5961 §3.2/§4.2/§5.2: answer with <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, rate limited (§7). */
export function challengeAck(c: Connection, now: number): void {
  if (!c.ctx.allowChallengeAck(now)) {
    c.ctx.counters.challengeAcksLimited++;
    return;
  }
  c.ctx.counters.challengeAcks++;
  c.ackPending = true;
}

function resetFor(c: Connection, seq: number): void {
  emitReset(c.ctx.out, c.ctx.counters, c.localIp, c.localPort, c.remoteIp, c.remotePort, seq, 0, false);
}
