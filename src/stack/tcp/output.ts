/**
 * Building segments. Every segment is written once, straight into the destination port's output
 * buffer obtained from {@link TcpPacketOutput.begin} (Ethernet and IPv4 headers already there):
 * the TCP header and options at `l4`, the payload copied from the send ring, then the checksum.
 * Nothing is allocated per segment; SACK blocks go through one module-level scratch array.
 * @module
 */
import { setU16be, setU32be } from '../../wire/bytes.js';
import { Drop, type DropCode } from '../../wire/drop.js';
import { IpProto } from '../../wire/ipv4.js';
import { TcpFlag, TcpOpt, TCP_HLEN, writeTcpChecksum, writeTcpHeader } from '../../wire/tcp.js';
import { windowShiftFor } from './config.js';
import type { Connection } from './connection.js';
import { State } from './state.js';
import type { TcpCounters } from './stats.js';

/**
 * Where TCP puts packets: the subset of `Ipv4Output` it uses, so tests can capture segments.
 * `begin` returns the buffer to write the TCP segment into at `l4`, or undefined with `lastDrop`.
 */
export interface TcpPacketOutput {
  readonly l4: number;
  readonly lastDrop: DropCode;
  /** Largest IP packet toward guests (the link MTU). */
  readonly mtu: number;
  begin(src: number, dst: number, protocol: number, payloadLen: number): Uint8Array | undefined;
  commit(): void;
  /** The switch port `dst` is reached through, -1 when unknown. */
  portIdOf(dst: number): number;
}

const sackScratch = new Uint32Array(8);

/**
 * Sends RST from `srcIp:srcPort` to `dstIp:dstPort` (RFC 9293 §3.10.7.1 forms): with `withAck`,
 * `<SEQ=seq><ACK=ack><CTL=RST,ACK>`, else `<SEQ=seq><CTL=RST>`. Returns whether it went out.
 */
export function emitReset(
  out: TcpPacketOutput,
  counters: TcpCounters,
  srcIp: number,
  srcPort: number,
  dstIp: number,
  dstPort: number,
  seq: number,
  ack: number,
  withAck: boolean,
): boolean {
  const b = out.begin(srcIp, dstIp, IpProto.TCP, TCP_HLEN);
  if (b === undefined) {
    counters.txFailed++;
    return false;
  }
  const o = out.l4;
  writeTcpHeader(b, o, srcPort, dstPort, seq >>> 0, withAck ? ack >>> 0 : 0, TCP_HLEN, withAck ? TcpFlag.RST | TcpFlag.ACK : TcpFlag.RST, 0);
  writeTcpChecksum(b, o, TCP_HLEN, srcIp, dstIp);
  out.commit();
  counters.resetsSent++;
  counters.segmentsOut++;
  return true;
}

/**
 * Emits one segment of `c` with sequence number `seq`, `flags`, and `len` payload bytes taken
 * from the send ring at `bufOff` (bytes after the ring's first byte). SYN segments carry the
 * handshake options; others carry timestamps and, with data queued out of order, SACK blocks.
 * Returns false when no packet could be built; `c` is then blocked on its port (queue full) or its
 * timer is armed to retry (unknown MAC).
 */
export function emitSegment(c: Connection, now: number, seq: number, flags: number, bufOff: number, len: number): boolean {
  const ctx = c.ctx;
  const syn = (flags & TcpFlag.SYN) !== 0;
  const ack = (flags & TcpFlag.ACK) !== 0;
  let optLen = 0;
  let sackN = 0;
  if (syn) {
    optLen = synOptionsLength(c);
  } else {
    if (c.tsOn) optLen += 12;
    if (c.sackOn && ack && !c.reasm.isEmpty) {
      // 40 option bytes at most: 3 blocks fit beside timestamps, 4 without (RFC 2018 §3); a full
      // data segment has no room left, so blocks go only where they fit (SND.MSS counts TS only).
      const room = Math.min(40 - optLen, ctx.mss - len - optLen);
      const fit = Math.min(c.tsOn ? 3 : 4, (room - 4) >> 3);
      if (fit > 0) sackN = c.reasm.sackBlocks(c.rcvNxt, sackScratch, fit);
      if (sackN > 0) optLen += 4 + 8 * sackN;
    }
  }
  const hlen = TCP_HLEN + optLen;
  const out = ctx.out;
  const b = out.begin(c.localIp, c.remoteIp, IpProto.TCP, hlen + len);
  if (b === undefined) {
    outputFailed(c, now);
    return false;
  }
  const o = out.l4;
  // RFC 7323 §2.2: the window field of a SYN is never scaled.
  const wnd = syn ? Math.min(c.rcvCap, 65535) : ack ? c.windowField() : 0;
  writeTcpHeader(b, o, c.localPort, c.remotePort, seq >>> 0, ack ? c.rcvNxt : 0, hlen, flags, wnd);
  let p = o + TCP_HLEN;
  if (syn) p = writeSynOptions(c, b, p, now, ack);
  else {
    if (c.tsOn) {
      b[p] = TcpOpt.Nop;
      b[p + 1] = TcpOpt.Nop;
      p = writeTimestamps(c, b, p + 2, now);
    }
    if (sackN > 0) {
      b[p] = TcpOpt.Nop;
      b[p + 1] = TcpOpt.Nop;
      b[p + 2] = TcpOpt.Sack;
      b[p + 3] = 2 + 8 * sackN;
      p += 4;
      for (let k = 0; k < 2 * sackN; k++, p += 4) setU32be(b, p, sackScratch[k]!);
    }
  }
  if (len > 0) c.sendBuf.copyOut(bufOff, b, o + hlen, len);
  writeTcpChecksum(b, o, hlen + len, c.localIp, c.remoteIp);
  out.commit();
  ctx.counters.segmentsOut++;
  // A SYN-ACK's window is the first promise about the peer's sequence space.
  if (syn && ack) c.rcvAdvEdge = (c.rcvNxt + wnd) >>> 0;
  if (ack) {
    c.ackPending = false;
    c.lastAckSent = c.rcvNxt;
  }
  return true;
}

/** Option bytes of our SYN (everything configured) or SYN-ACK (only what the peer offered, RFC 7323 §2.2, RFC 2018 §2). */
function synOptionsLength(c: Connection): number {
  const cfg = c.ctx.config;
  const active = c.state === State.SynSent;
  let n = 4; // MSS
  if (active ? cfg.windowScaling : c.wsOn) n += 4;
  if (active ? cfg.sack : c.sackOn) n += 2;
  if (active ? cfg.timestamps : c.tsOn) n += 10;
  return (n + 3) & ~3;
}

/** Writes MSS, SACK-permitted, timestamps, window scale (Linux's order), NOP-padded. */
function writeSynOptions(c: Connection, b: Uint8Array, p: number, now: number, isSynAck: boolean): number {
  const cfg = c.ctx.config;
  const end = p + synOptionsLength(c);
  const active = c.state === State.SynSent;
  b[p] = TcpOpt.Mss;
  b[p + 1] = 4;
  setU16be(b, p + 2, c.ctx.mss);
  p += 4;
  const sack = active ? cfg.sack : c.sackOn;
  const ts = active ? cfg.timestamps : c.tsOn;
  const ws = active ? cfg.windowScaling : c.wsOn;
  if (sack && ts) {
    b[p] = TcpOpt.SackPermitted;
    b[p + 1] = 2;
    p = writeTimestamps(c, b, p + 2, now, !isSynAck);
  } else if (ts) {
    b[p] = TcpOpt.Nop;
    b[p + 1] = TcpOpt.Nop;
    p = writeTimestamps(c, b, p + 2, now, !isSynAck);
  } else if (sack) {
    b[p] = TcpOpt.Nop;
    b[p + 1] = TcpOpt.Nop;
    b[p + 2] = TcpOpt.SackPermitted;
    b[p + 3] = 2;
    p += 4;
  }
  if (ws) {
    b[p] = TcpOpt.Nop;
    b[p + 1] = TcpOpt.WindowScale;
    b[p + 2] = 3;
    // An active open offers the shift it will use if the peer agrees (RFC 7323 §2.2).
    b[p + 3] = windowShiftFor(cfg.receiveBuffer);
    p += 4;
  }
  while (p < end) b[p++] = TcpOpt.Nop;
  return p;
}

/**
 * Writes the 10-byte timestamps option (RFC 7323 §3.2): TSval = our clock, TSecr = TS.Recent
 * (zero in an initial SYN, which has nothing to echo).
 */
function writeTimestamps(c: Connection, b: Uint8Array, p: number, now: number, zeroEcr = false): number {
  b[p] = TcpOpt.Timestamps;
  b[p + 1] = 10;
  setU32be(b, p + 2, (Math.floor(now) + c.tsOffset) >>> 0);
  setU32be(b, p + 6, zeroEcr ? 0 : c.tsRecent);
  return p + 10;
}

/** A packet could not be built: wait for the port to drain, or retry on the timer. */
function outputFailed(c: Connection, now: number): void {
  const ctx = c.ctx;
  if (ctx.out.lastDrop === Drop.TxFull) {
    if (!c.blocked) ctx.counters.txBlocked++;
    c.blocked = true;
    ctx.block(c, ctx.out.portIdOf(c.remoteIp));
    return;
  }
  ctx.counters.txFailed++;
  // Unknown MAC (an ARP request went out) or no route: the retransmission timer retries (RFC 1122 §2.3.2.2).
  if (c.rtxAt === Infinity) {
    c.rtxAt = now + c.rtt.rto;
    c.armTimer();
  }
}
