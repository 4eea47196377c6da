/**
 * The receive side (RFC 9293 §3.10.7.4 steps 7 and 8): trimming a segment to the window,
 * delivering in-order bytes straight from the frame (no copy), queueing out-of-order bytes in
 * the reassembly ring (the only copy), pulling queued bytes once the hole fills, and the FIN.
 * Out-of-order arrivals are acknowledged at once (RFC 5681 §4.2: duplicate ACKs drive the peer's
 * fast retransmit); everything else is acknowledged once per input batch by the flush.
 * @module
 */
import { TcpFlag } from '../../wire/tcp.js';
import type { Connection } from './connection.js';
import { emitSegment } from './output.js';
import type { Segment } from './segment.js';
import { seqAdd, seqDiff } from './seq.js';
import { acceptsText, State } from './state.js';

/** Handles the text and FIN of an acceptable segment whose ACK was processed. */
export function receiveText(c: Connection, seg: Segment, now: number): void {
  let off = seg.payload;
  let len = seg.payloadLen;
  let fin = (seg.flags & TcpFlag.FIN) !== 0;
  let start = seqDiff(seg.seq, c.rcvNxt);
  if (!acceptsText(c.state)) {
    // CLOSE-WAIT, CLOSING, LAST-ACK: the peer already sent FIN; text is ignored (step 7).
    len = 0;
  }
  // Trim what we already have.
  if (start < 0) {
    const skip = Math.min(-start, len);
    off += skip;
    len -= skip;
    start += skip;
    if (start < 0) fin = fin && start + 1 > 0; // FIN itself already received
  }
  // Trim what lies beyond the window we advertised; a FIN past the edge is dropped with it.
  const wnd = seqDiff(c.rcvAdvEdge, c.rcvNxt);
  if (start + len > wnd) {
    len = Math.max(0, wnd - start);
    fin = false;
  }
  c.ackPending = true;
  if (start > 0) {
    // A hole before this segment: queue a copy and ACK now with SACK blocks (RFC 5681 §4.2, RFC 2018 §4).
    if (len > 0) {
      c.ctx.counters.outOfOrder++;
      if (!c.reasm.insert(start, seg.buf, off, len)) c.ctx.counters.dropped++;
    }
    if (fin) c.reasm.finOffset = start + len;
    emitSegment(c, now, c.sndNxt, TcpFlag.ACK, 0, 0);
    return;
  }
  if (len > 0) {
    deliver(c, seg.buf, off, len);
    if (c.state === State.Closed) return;
    // Queued bytes that became contiguous follow (RFC 5681 §4.2 wants this ACKed promptly: the flush does).
    for (let n = c.reasm.contiguous(); n > 0; n = c.reasm.contiguous()) {
      const ring = c.reasm.buffer;
      const p = c.reasm.headOffset;
      const piece = Math.min(n, ring.length - p);
      deliver(c, ring, p, piece);
      if (c.dead) return;
    }
  }
  if (fin || c.reasm.finOffset === 0) finReceived(c, now);
}

/** Hands `len` in-order bytes to the consumer and advances RCV.NXT past them. */
function deliver(c: Connection, buf: Uint8Array, off: number, len: number): void {
  c.rcvNxt = seqAdd(c.rcvNxt, len);
  c.reasm.advance(len);
  c.bytesIn += len;
  c.onData?.(buf, off, len);
}

/** Step 8: the FIN at RCV.NXT. */
function finReceived(c: Connection, now: number): void {
  c.rcvNxt = seqAdd(c.rcvNxt, 1);
  c.reasm.clear();
  c.ackPending = true;
  switch (c.state) {
    case State.SynReceived:
    case State.Established:
      c.setState(State.CloseWait);
      c.onEnd?.();
      return;
    case State.FinWait1:
      // Our FIN not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
      c.setState(State.Closing);
      c.onEnd?.();
      return;
    case State.FinWait2:
      // The end of data is reported before the close that TIME-WAIT implies.
      c.onEnd?.();
      if (!c.dead) c.enterTimeWait(now);
      return;
  }
}
