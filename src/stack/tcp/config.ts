/**
 * Tunables of the TCP endpoint, with defaults chosen for a virtual link: the peer is a guest
 * kernel one memory copy away, so RTTs are sub-millisecond, loss happens only when a queue is
 * full, and TIME-WAIT need not last minutes.
 * @module
 */

/** Keepalive settings (RFC 9293 §3.8.4; RFC 1122 §4.2.3.6). */
export interface KeepaliveConfig {
  /** Idle time before the first probe, ms. */
  idleMs: number;
  /** Time between unanswered probes, ms. */
  intervalMs: number;
  /** Unanswered probes before the connection is declared dead. */
  probes: number;
}

/** Options of a {@link TcpEndpoint}; every field is optional. */
export interface TcpConfig {
  /** Bytes of in-order data the consumer may hold before the window closes (default 4 MiB). */
  receiveBuffer?: number;
  /** Largest send ring per connection in bytes (default 4 MiB); `send` accepts up to this much unacknowledged data. */
  sendBuffer?: number;
  /** First size of a send ring; it doubles on demand up to {@link sendBuffer} (default 64 KiB). */
  initialSendBuffer?: number;
  /** RTO before any RTT sample, ms (RFC 6298 §2.1: 1 s). */
  initialRtoMs?: number;
  /** RTO floor, ms (default 100: a virtual link; RFC 6298 §2.4's 1 s is meant for the Internet). */
  minRtoMs?: number;
  /** RTO ceiling, ms (default 60 s, RFC 6298 §2.5). */
  maxRtoMs?: number;
  /** Retransmissions of data or FIN before giving up with `timeout` (default 10). */
  maxRetransmits?: number;
  /** Retransmissions of SYN or SYN-ACK before giving up (default 5, as Linux's tcp_synack_retries). */
  synRetries?: number;
  /** TIME-WAIT duration, ms (default 1000: 2×MSL is pointless on a link with no old duplicates). */
  timeWaitMs?: number;
  /** Keepalive; off when absent (vpnkit disabled keepalives toward guests, protocols.md §4.8). */
  keepalive?: KeepaliveConfig;
  /** Initial congestion window in segments (default 10, RFC 6928). */
  initialCwndSegments?: number;
  /** Offer and accept window scaling (RFC 7323 §2), default true. */
  windowScaling?: boolean;
  /** Offer and accept SACK (RFC 2018), default true. */
  sack?: boolean;
  /** Offer and accept timestamps (RFC 7323 §3), default true. */
  timestamps?: boolean;
  /** Add a random per-connection offset to our TSval (RFC 7323 §7.1), default true; tests turn it off. */
  randomTimestampOffset?: boolean;
  /** Challenge ACKs sent per second across the endpoint (RFC 5961 §7), default 1000. */
  challengeAckLimit?: number;
  /** Out-of-order ranges kept per connection (like smoltcp's assembler contigs), default 32. */
  maxOutOfOrderRanges?: number;
}

/** {@link TcpConfig} with every default filled in. */
export type ResolvedTcpConfig = Required<Omit<TcpConfig, 'keepalive'>> & { keepalive: KeepaliveConfig | undefined };

/** Default receive buffer: 4 MiB, enough for a multi-gigabit flow at a millisecond RTT. */
export const DEFAULT_RECEIVE_BUFFER = 4 * 1024 * 1024;
/** Default send buffer. */
export const DEFAULT_SEND_BUFFER = 4 * 1024 * 1024;

/** Fills in defaults. */
export function resolveTcpConfig(c: TcpConfig = {}): ResolvedTcpConfig {
  const receiveBuffer = clampInt(c.receiveBuffer ?? DEFAULT_RECEIVE_BUFFER, 1024, 1 << 30);
  const sendBuffer = clampInt(c.sendBuffer ?? DEFAULT_SEND_BUFFER, 1024, 1 << 30);
  return {
    receiveBuffer,
    sendBuffer,
    initialSendBuffer: Math.min(sendBuffer, clampInt(c.initialSendBuffer ?? 64 * 1024, 1024, 1 << 30)),
    initialRtoMs: c.initialRtoMs ?? 1000,
    minRtoMs: c.minRtoMs ?? 100,
    maxRtoMs: c.maxRtoMs ?? 60_000,
    maxRetransmits: c.maxRetransmits ?? 10,
    synRetries: c.synRetries ?? 5,
    timeWaitMs: c.timeWaitMs ?? 1000,
    keepalive: c.keepalive,
    initialCwndSegments: c.initialCwndSegments ?? 10,
    windowScaling: c.windowScaling ?? true,
    sack: c.sack ?? true,
    timestamps: c.timestamps ?? true,
    randomTimestampOffset: c.randomTimestampOffset ?? true,
    challengeAckLimit: c.challengeAckLimit ?? 1000,
    maxOutOfOrderRanges: c.maxOutOfOrderRanges ?? 32,
  };
}

/**
 * The smallest window-scale shift that lets `bytes` be advertised in the 16-bit window field
 * (RFC 7323 §2.3: at most 14).
 */
export function windowShiftFor(bytes: number): number {
  let s = 0;
  while (s < 14 && bytes / 2 ** s > 65535) s++;
  return s;
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.floor(v)));
}
