/**
 * Counters of a TCP endpoint, bumped on the hot path as plain fields and snapshotted by `stats()`.
 * @module
 */
import { STATE_COUNT, formatState, type State } from './state.js';

/** Live counters (mutable, one per endpoint). */
export class TcpCounters {
  segmentsIn = 0;
  segmentsOut = 0;
  /** Segments re-sent: RTO, fast retransmit, SACK hole fills. */
  retransmits = 0;
  /** Times loss recovery was entered on duplicate ACKs or SACK (RFC 5681 §3.2, RFC 6675). */
  fastRetransmits = 0;
  /** Retransmission timer expiries (RFC 6298 §5.4). */
  timeouts = 0;
  resetsSent = 0;
  resetsReceived = 0;
  /** RFC 5961 challenge ACKs sent. */
  challengeAcks = 0;
  /** Challenge ACKs suppressed by the rate limit (RFC 5961 §7). */
  challengeAcksLimited = 0;
  zeroWindowProbes = 0;
  keepaliveProbes = 0;
  /** Segments that arrived beyond a hole and were queued. */
  outOfOrder = 0;
  /** Segments dropped: unacceptable sequence numbers, PAWS, queue limits. */
  dropped = 0;
  /** Times a connection's output stopped because the guest's NIC queue was full. */
  txBlocked = 0;
  /** Segments for which no packet could be built (unknown MAC, too big). */
  txFailed = 0;
  connectionsOpened = 0;
  connectionsClosed = 0;
  /** Live connections per state, index = {@link State}. */
  readonly byState = new Uint32Array(STATE_COUNT);
}

/** A snapshot of {@link TcpCounters} with states by RFC name. */
export interface TcpStats {
  segmentsIn: number;
  segmentsOut: number;
  retransmits: number;
  fastRetransmits: number;
  timeouts: number;
  resetsSent: number;
  resetsReceived: number;
  challengeAcks: number;
  challengeAcksLimited: number;
  zeroWindowProbes: number;
  keepaliveProbes: number;
  outOfOrder: number;
  dropped: number;
  txBlocked: number;
  txFailed: number;
  connectionsOpened: number;
  connectionsClosed: number;
  /** Live connections. */
  connections: number;
  /** SYNs waiting for the `onSyn` hook's decision. */
  pendingSyns: number;
  /** Live connections by RFC state name (only non-zero states). */
  byState: Record<string, number>;
}

/** Copies the counters into a plain object. */
export function snapshotCounters(c: TcpCounters, connections: number, pendingSyns: number): TcpStats {
  const byState: Record<string, number> = {};
  for (let s = 0; s < STATE_COUNT; s++) if (c.byState[s]! > 0) byState[formatState(s as State)] = c.byState[s]!;
  return {
    segmentsIn: c.segmentsIn,
    segmentsOut: c.segmentsOut,
    retransmits: c.retransmits,
    fastRetransmits: c.fastRetransmits,
    timeouts: c.timeouts,
    resetsSent: c.resetsSent,
    resetsReceived: c.resetsReceived,
    challengeAcks: c.challengeAcks,
    challengeAcksLimited: c.challengeAcksLimited,
    zeroWindowProbes: c.zeroWindowProbes,
    keepaliveProbes: c.keepaliveProbes,
    outOfOrder: c.outOfOrder,
    dropped: c.dropped,
    txBlocked: c.txBlocked,
    txFailed: c.txFailed,
    connectionsOpened: c.connectionsOpened,
    connectionsClosed: c.connectionsClosed,
    connections,
    pendingSyns,
    byState,
  };
}
