/**
 * Opening a connection (RFC 9293 §3.5): the state a passive open takes from the peer's SYN, an
 * active open's first SYN, the options agreed (MSS, window scaling), and the move to ESTABLISHED
 * once the handshake completes. Free functions over the {@link Connection} control block, like
 * `input.ts` and `ack.ts`.
 * @module
 */
import { windowShiftFor } from './config.js';
import { DEFAULT_PEER_MSS, TS_OPTION_LEN, type Connection } from './connection.js';
import { seqAdd } from './seq.js';
import { State } from './state.js';

/** Parameters of a peer's SYN, kept while a SYN hook decides (copied out of the frame). */
export interface SynParams {
  irs: number;
  /** Raw window field of the SYN (never scaled, RFC 7323 §2.2). */
  window: number;
  /** 0 when absent. */
  mss: number;
  /** -1 when absent. */
  windowScale: number;
  sackPermitted: boolean;
  hasTimestamps: boolean;
  tsVal: number;
}

/** Smallest send MSS we accept from a peer (Linux's tcp_min_snd_mss is 48; tiny MSS is an attack vector). */
const MIN_SND_MSS = 64;

/** Starts a passive open from a peer's SYN: SYN-RECEIVED, SYN-ACK queued (RFC 9293 §3.10.7.2). */
export function openPassive(c: Connection, p: SynParams, now: number): void {
  const cfg = c.ctx.config;
  initSend(c, now);
  c.irs = p.irs;
  c.rcvNxt = seqAdd(p.irs, 1);
  c.rcvAdvEdge = c.rcvNxt;
  c.lastAckSent = c.rcvNxt;
  // RFC 7323 §2.2: scaling is on only if both SYNs carry the option.
  if (cfg.windowScaling && p.windowScale >= 0) enableScaling(c, p.windowScale);
  c.sackOn = cfg.sack && p.sackPermitted;
  c.tsOn = cfg.timestamps && p.hasTimestamps;
  if (c.tsOn) c.tsRecent = p.tsVal;
  setPeerMss(c, p.mss);
  c.sndWnd = p.window;
  c.maxSndWnd = p.window;
  c.sndWl1 = p.irs;
  c.sndWl2 = c.iss;
  c.synPending = true;
  c.setState(State.SynReceived);
  c.ctx.counters.connectionsOpened++;
  c.ctx.markDirty(c);
}

/** Starts an active open: SYN-SENT, SYN queued (RFC 9293 §3.10.1 OPEN). */
export function openActive(c: Connection, now: number): void {
  initSend(c, now);
  c.synPending = true;
  c.setState(State.SynSent);
  c.ctx.counters.connectionsOpened++;
  c.ctx.markDirty(c);
}

/** Records the peer's MSS and derives our segment size (RFC 9293 §3.7.1; 0 = absent, like Linux). */
export function setPeerMss(c: Connection, mss: number): void {
  c.peerMss = mss === 0 ? DEFAULT_PEER_MSS : mss;
  c.sndMss = Math.max(MIN_SND_MSS, Math.min(c.peerMss, c.ctx.mss) - (c.tsOn ? TS_OPTION_LEN : 0));
  c.cwnd = c.ctx.config.initialCwndSegments * c.sndMss;
}

/** Turns window scaling on with the peer's shift (capped at 14 by the option parser). */
export function enableScaling(c: Connection, peerShift: number): void {
  c.wsOn = true;
  c.sndShift = peerShift;
  c.rcvShift = windowShiftFor(c.ctx.config.receiveBuffer);
  c.rcvCap = Math.min(c.ctx.config.receiveBuffer, 65535 * 2 ** c.rcvShift);
}

/** The handshake completed: ESTABLISHED (or FIN-WAIT-1 when shut down meanwhile). */
export function establish(c: Connection): void {
  if (c.finQueued) c.setState(State.FinWait1);
  else c.setState(State.Established);
  c.rtxCount = 0;
  c.rtt.backoff = 0;
  const ka = c.ctx.config.keepalive;
  if (ka !== undefined) c.keepaliveAt = c.lastInputAt + ka.idleMs;
  // Data or a FIN queued during the handshake may go now.
  if (c.finQueued || c.sendBuf.length > 0) c.ctx.markDirty(c);
  const accept = c.acceptCb;
  c.acceptCb = undefined;
  accept?.(c);
  if (c.dead) return;
  c.onEstablished?.();
  if (c.state !== State.Closed && c.wantWritable && c.sendBuf.free > 0) c.notifyWritable();
}

function initSend(c: Connection, now: number): void {
  const cfg = c.ctx.config;
  // RFC 9293 §3.4.1 / RFC 6528: an unpredictable ISN per connection.
  c.iss = c.ctx.rng.u32();
  c.sndUna = c.iss;
  c.sndNxt = c.iss;
  c.sndMax = c.iss;
  c.bufSeq = seqAdd(c.iss, 1);
  c.tsOffset = cfg.randomTimestampOffset ? c.ctx.rng.u32() : 0;
  c.lastInputAt = now;
  c.cwnd = cfg.initialCwndSegments * c.sndMss;
}
