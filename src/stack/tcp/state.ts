/**
 * TCP connection states (RFC 9293 §3.3.2) with their RFC names for logs and assertion messages.
 * LISTEN exists only as a name: listeners are a table in the endpoint, not connections.
 * @module
 */

/** The states of a connection; numeric so the hot path compares integers. */
export const State = {
  Closed: 0,
  Listen: 1,
  SynSent: 2,
  SynReceived: 3,
  Established: 4,
  FinWait1: 5,
  FinWait2: 6,
  CloseWait: 7,
  Closing: 8,
  LastAck: 9,
  TimeWait: 10,
} as const;

/** One of the {@link State} values. */
export type State = (typeof State)[keyof typeof State];

/** Number of states, for per-state counter arrays. */
export const STATE_COUNT = 11;

const NAMES: readonly string[] = [
  'CLOSED',
  'LISTEN',
  'SYN-SENT',
  'SYN-RECEIVED',
  'ESTABLISHED',
  'FIN-WAIT-1',
  'FIN-WAIT-2',
  'CLOSE-WAIT',
  'CLOSING',
  'LAST-ACK',
  'TIME-WAIT',
];

/** The RFC name of a state (`SYN-RECEIVED`). */
export function formatState(s: State): string {
  return NAMES[s] ?? `state(${s})`;
}

/** Whether the handshake completed in this state (RFC 9293 §3.10.7.4's "synchronized" states). */
export function isSynchronized(s: State): boolean {
  return s >= State.Established;
}

/** Whether segment text is accepted in this state (RFC 9293 §3.10.7.4 step 7). */
export function acceptsText(s: State): boolean {
  return s === State.Established || s === State.FinWait1 || s === State.FinWait2;
}

/** Whether the local side may still queue data (no FIN queued yet) in this state. */
export function acceptsSend(s: State): boolean {
  return s === State.SynSent || s === State.SynReceived || s === State.Established || s === State.CloseWait;
}
