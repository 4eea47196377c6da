/**
 * A connection's deadlines (style.md §5.3: timers are data). Each connection owns one `Timer`
 * armed for the earliest of `rtxAt` (retransmission, RFC 6298 §5), `persistAt` (zero-window
 * probe, RFC 9293 §3.8.6.1), `keepaliveAt` (RFC 9293 §3.8.4) and `timeWaitAt` (RFC 9293
 * §3.10.7.4). The timer is re-armed only when a deadline moves earlier; a firing that finds
 * nothing due simply re-arms for what is left, so restarting the RTO on every ACK costs nothing.
 * @module
 */
import { TcpFlag } from '../../wire/tcp.js';
import type { Connection } from './connection.js';
import { emitSegment } from './output.js';
import { seqAdd, seqDiff, seqGt } from './seq.js';
import { State } from './state.js';
import { transmit } from './transmit.js';

/** The connection's timer fired at `now`. */
export function onConnectionTimer(c: Connection, now: number): void {
  if (c.state === State.Closed) return;
  if (c.timeWaitAt <= now) {
    c.timeWaitAt = Infinity;
    c.finish('closed');
    return;
  }
  if (c.rtxAt <= now) {
    c.rtxAt = Infinity;
    retransmitTimeout(c, now);
    if (c.dead) return;
  }
  if (c.persistAt <= now) {
    c.persistAt = Infinity;
    persistTimeout(c, now);
    if (c.dead) return;
  }
  if (c.keepaliveAt <= now) {
    c.keepaliveAt = Infinity;
    keepaliveTimeout(c, now);
    if (c.dead) return;
  }
  c.armTimer();
}

/** RFC 6298 §5.4–5.6: retransmit the earliest unacknowledged segment, back off, restart. */
function retransmitTimeout(c: Connection, now: number): void {
  const ctx = c.ctx;
  const cfg = ctx.config;
  if (c.state === State.SynSent || c.state === State.SynReceived) {
    if (c.rtxCount >= cfg.synRetries) {
      ctx.counters.timeouts++;
      c.finish('timeout');
      return;
    }
    ctx.counters.timeouts++;
    ctx.counters.retransmits++;
    c.retransmits++;
    c.rtxCount++;
    c.rtt.backOff();
    c.synPending = true;
    transmit(c, now);
    return;
  }
  const outstanding = c.sndMax !== c.sndUna;
  if (!outstanding) {
    // Nothing in flight: the timer was a retry after a packet could not be built (unknown MAC).
    transmit(c, now);
    return;
  }
  ctx.counters.timeouts++;
  if (c.rtxCount >= cfg.maxRetransmits) {
    c.terminate('timeout', true);
    return;
  }
  c.rtxCount++;
  c.rtt.backOff();
  // RFC 5681 §3.1 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS); cwnd = 1 SMSS (loss window).
  const flight = seqDiff(c.sndMax, c.sndUna);
  c.ssthresh = Math.max(flight / 2, 2 * c.sndMss);
  c.cwnd = c.sndMss;
  c.caAcked = 0;
  c.inRecovery = false;
  c.dupAcks = 0;
  // RFC 2018 §8: after a timeout the SACK information may be stale (the receiver may renege).
  c.sacks.clear();
  c.rttActive = false; // Karn
  // Go back N: resend from SND.UNA (what the receiver already holds is ACKed past quickly).
  c.sndNxt = c.sndUna;
  c.blocked = false;
  transmit(c, now);
}

/** RFC 9293 §3.8.6.1: probe a zero window with one byte of new data, backing off like the RTO. */
function persistTimeout(c: Connection, now: number): void {
  if (c.sndWnd > 0) {
    transmit(c, now);
    return;
  }
  const ctx = c.ctx;
  if (c.persistCount >= ctx.config.maxRetransmits) {
    // No answer at all to this many probes: the peer is gone.
    c.terminate('timeout', true);
    return;
  }
  const dataOff = seqDiff(c.sndUna, c.bufSeq);
  if (dataOff < 0 || dataOff >= c.sendBuf.length) return;
  c.persistCount++;
  c.rtt.backOff();
  if (emitSegment(c, now, c.sndUna, TcpFlag.ACK, dataOff, 1)) {
    ctx.counters.zeroWindowProbes++;
    c.sndNxt = seqAdd(c.sndUna, 1);
    if (seqGt(c.sndNxt, c.sndMax)) c.sndMax = c.sndNxt;
  }
  c.persistAt = now + c.rtt.rto;
}

/** RFC 9293 §3.8.4: after `idleMs` of silence, probe with <SEQ=SND.NXT-1>; give up after `probes`. */
function keepaliveTimeout(c: Connection, now: number): void {
  const ka = c.ctx.config.keepalive;
  if (ka === undefined || c.state === State.TimeWait) return;
  if (c.keepaliveSent === 0 && now - c.lastInputAt < ka.idleMs) {
    c.keepaliveAt = c.lastInputAt + ka.idleMs;
    return;
  }
  if (c.keepaliveSent >= ka.probes) {
    c.terminate('timeout', true);
    return;
  }
  if (emitSegment(c, now, seqAdd(c.sndNxt, -1), TcpFlag.ACK, 0, 0)) c.ctx.counters.keepaliveProbes++;
  c.keepaliveSent++;
  c.keepaliveAt = now + ka.intervalMs;
}
