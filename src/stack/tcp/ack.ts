/**
 * The send side's reaction to an incoming ACK in a synchronized state (RFC 9293 §3.10.7.4 step 5):
 * validity (RFC 5961 §5.2), window update (SND.WL1/WL2 rule), releasing acknowledged bytes, RTT
 * sampling (RFC 6298 with Karn, or RFC 7323 §4 timestamps), congestion control (RFC 5681 slow
 * start and congestion avoidance) and loss recovery: fast retransmit on three duplicate ACKs
 * (RFC 5681 §3.2) with NewReno partial ACKs (RFC 6582), or SACK-driven hole filling (RFC 6675).
 * @module
 */
import { TcpFlag } from '../../wire/tcp.js';
import type { Connection } from './connection.js';
import { challengeAck } from './input.js';
import type { Segment } from './segment.js';
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from './seq.js';

/** RFC 5681 §3.2: DupThresh. */
const DUP_THRESH = 3;

/** Processes the ACK field of `seg`. Returns false when the segment must be dropped. */
export function processAck(c: Connection, seg: Segment, now: number): boolean {
  const ack = seg.ack;
  // RFC 9293: an ACK for something not yet sent is answered with an ACK and dropped.
  if (seqGt(ack, c.sndMax)) {
    c.ctx.counters.dropped++;
    c.ackPending = true;
    return false;
  }
  // RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND is a blind-injection attempt.
  if (seqLt(ack, seqAdd(c.sndUna, -c.maxSndWnd))) {
    c.ctx.counters.dropped++;
    challengeAck(c, now);
    return false;
  }
  let windowChanged = false;
  if (seqGe(ack, c.sndUna)) {
    // RFC 9293 §3.10.7.4: update the window only from a newer segment (SND.WL1, SND.WL2).
    if (seqLt(c.sndWl1, seg.seq) || (c.sndWl1 === seg.seq && seqLe(c.sndWl2, ack))) {
      const w = seg.window * 2 ** c.sndShift;
      windowChanged = w !== c.sndWnd;
      if (windowChanged && w > c.sndWnd) c.ctx.markDirty(c);
      c.sndWnd = w;
      if (w > c.maxSndWnd) c.maxSndWnd = w;
      c.sndWl1 = seg.seq;
      c.sndWl2 = ack;
    }
  }
  if (c.sackOn && seg.opts.sackCount > 0) recordSacks(c, seg);
  if (seqGt(ack, c.sndUna)) newAck(c, seg, ack, now);
  else if (
    ack === c.sndUna &&
    seg.payloadLen === 0 &&
    (seg.flags & (TcpFlag.SYN | TcpFlag.FIN)) === 0 &&
    !windowChanged &&
    c.sndMax !== c.sndUna
  ) {
    duplicateAck(c);
  }
  return true;
}

/** Feeds the segment's SACK blocks into the scoreboard (RFC 2018 §3; ignores blocks outside flight). */
function recordSacks(c: Connection, seg: Segment): void {
  const o = seg.opts;
  const flight = seqDiff(c.sndMax, c.sndUna);
  for (let k = 0; k < o.sackCount; k++) {
    const l = seqDiff(o.sack[2 * k]!, c.sndUna);
    const r = seqDiff(o.sack[2 * k + 1]!, c.sndUna);
    // D-SACKs (below SND.UNA, RFC 2883) and bogus blocks carry nothing for recovery.
    if (r <= 0 || l >= r || r > flight) continue;
    c.sacks.add(l, r);
  }
  if (c.inRecovery) {
    // New SACK information uncovers more holes to fill (RFC 6675 §5 step (C)).
    const high = seqAdd(c.sndUna, c.sacks.highest);
    if (seqGt(high, c.rtxHigh)) c.rtxHigh = high;
  } else if (c.sacks.sackedBytes >= DUP_THRESH * c.sndMss && c.sndMax !== c.sndUna) {
    // RFC 6675 §5: DupThresh segments SACKed above the first hole count as loss, even if the
    // peer acknowledged them in fewer than three ACKs (our peers coalesce ACKs too).
    enterRecovery(c);
  }
}

/** SND.UNA < SEG.ACK <= SND.MAX: new data acknowledged. */
function newAck(c: Connection, seg: Segment, ack: number, now: number): void {
  const acked = seqDiff(ack, c.sndUna);
  // Release acknowledged payload (not the SYN or FIN sequence numbers).
  const dataAcked = Math.min(c.sendBuf.length, Math.max(0, seqDiff(ack, c.bufSeq)));
  if (dataAcked > 0) {
    c.sendBuf.consume(dataAcked);
    c.bufSeq = seqAdd(c.bufSeq, dataAcked);
    c.bytesOut += dataAcked;
  }
  c.sacks.advance(acked);
  c.sndUna = ack;
  if (seqLt(c.sndNxt, ack)) c.sndNxt = ack; // after a timeout rewound SND.NXT
  if (seqLt(c.holeCursor, ack)) c.holeCursor = ack;
  // RTT (RFC 7323 §4.2 with timestamps, else RFC 6298 §3 Karn timing of one segment).
  const o = seg.opts;
  if (c.tsOn && o.hasTimestamps && o.tsEcr !== 0) {
    const sent = (o.tsEcr - c.tsOffset) >>> 0;
    const r = ((Math.floor(now) >>> 0) - sent) | 0;
    if (r >= 0) c.rtt.sample(r);
  } else if (c.rttActive && seqGe(ack, c.rttSeq)) {
    c.rttActive = false;
    c.rtt.sample(now - c.rttTime);
  }
  c.rtxCount = 0;
  c.persistCount = 0;
  // Congestion control.
  if (c.inRecovery) {
    if (seqGe(ack, c.recoverSeq)) {
      // RFC 6582 §3.2 step 3 (full ACK): leave recovery with cwnd = ssthresh.
      c.inRecovery = false;
      c.cwnd = c.ssthresh;
      c.dupAcks = 0;
    } else {
      // Partial ACK: the next hole is lost too (RFC 6582 §3.2 step 4); retransmit it now.
      c.dupAcks = 0;
      if (!c.sackOn || c.sacks.count === 0) c.rtxHigh = seqAdd(ack, c.sndMss);
      c.ctx.markDirty(c);
    }
  } else {
    c.dupAcks = 0;
    if (c.cwnd < c.ssthresh) {
      // RFC 5681 §3.1 slow start with byte counting (RFC 3465); L is unbounded on a virtual link.
      c.cwnd += acked;
    } else {
      // Congestion avoidance: one SMSS per window's worth of ACKed bytes (RFC 5681 eq. 3 variant).
      c.caAcked += acked;
      if (c.caAcked >= c.cwnd) {
        c.caAcked -= c.cwnd;
        c.cwnd += c.sndMss;
      }
    }
  }
  // RFC 6298 §5.2/§5.3: stop the timer when all is acknowledged, else restart it.
  c.rtxAt = c.sndMax === c.sndUna ? Infinity : now + c.rtt.rto;
  c.ctx.markDirty(c);
  c.notifyWritable();
}

/** RFC 5681 §2 duplicate ACK. */
function duplicateAck(c: Connection): void {
  c.dupAcks++;
  if (!c.inRecovery) {
    if (c.dupAcks >= DUP_THRESH) enterRecovery(c);
  } else {
    // Each duplicate means a segment left the network: pipe shrinks and more may be sent.
    c.ctx.markDirty(c);
  }
}

/** Fast retransmit (RFC 5681 §3.2 steps 2–3): halve, then retransmit the first hole. */
function enterRecovery(c: Connection): void {
  const flight = seqDiff(c.sndMax, c.sndUna);
  c.ssthresh = Math.max(flight / 2, 2 * c.sndMss);
  c.cwnd = c.ssthresh;
  c.inRecovery = true;
  c.recoverSeq = c.sndMax;
  c.holeCursor = c.sndUna;
  c.rtxHigh = c.sackOn && c.sacks.count > 0 ? seqAdd(c.sndUna, c.sacks.highest) : seqAdd(c.sndUna, c.sndMss);
  c.rttActive = false; // Karn: the timed segment may be the one retransmitted
  c.ctx.counters.fastRetransmits++;
  c.ctx.markDirty(c);
}

/**
 * Bytes considered in flight during recovery (RFC 6675 §4 "pipe", simplified): everything above
 * the highest SACKed byte, plus holes already retransmitted. Without SACK, each duplicate ACK
 * stands for one segment that left the network (RFC 5681 §3.2 step 4's inflation, as subtraction).
 */
export function pipe(c: Connection): number {
  const una = c.sndUna;
  const flight = seqDiff(c.sndMax, una);
  const cursor = Math.max(0, seqDiff(c.holeCursor, una));
  if (c.sackOn && c.sacks.count > 0) {
    const high = c.sacks.highest;
    const retransmitted = Math.min(cursor, high) - c.sacks.sackedBelow(Math.min(cursor, high));
    return Math.max(0, flight - high) + Math.max(0, retransmitted);
  }
  return Math.max(0, flight - c.dupAcks * c.sndMss) + Math.min(cursor, c.sndMss);
}
