/**
 * What a connection needs from the endpoint that owns it: where packets go, time, randomness,
 * configuration, counters and a few callbacks. A narrow interface so connections never reach
 * into the endpoint's tables (and tests could host a connection without one).
 * @module
 */
import type { Rng } from '../../runtime/rng.js';
import type { Scheduler } from '../../runtime/scheduler.js';
import type { ResolvedTcpConfig } from './config.js';
import type { Connection } from './connection.js';
import type { TcpPacketOutput } from './output.js';
import type { TcpCounters } from './stats.js';

/** The endpoint as seen by one of its connections. */
export interface ConnectionContext {
  readonly out: TcpPacketOutput;
  readonly scheduler: Scheduler;
  readonly rng: Rng;
  readonly config: ResolvedTcpConfig;
  readonly counters: TcpCounters;
  /** Our MSS: the link MTU minus 40 (RFC 9293 §3.7.1, RFC 6691). */
  readonly mss: number;
  /** Queues `c` for output at the end of the current turn. */
  markDirty(c: Connection): void;
  /** `c` could not emit because port `portId`'s queue is full: resume it on that port's drain. */
  block(c: Connection, portId: number): void;
  /** `c` reached CLOSED: forget it. */
  release(c: Connection): void;
  /** Whether one more RFC 5961 challenge ACK fits in the rate limit (§7). */
  allowChallengeAck(now: number): boolean;
}
