/**
 * Per-server health for the forwarder: a server that keeps timing out is marked down and tried
 * only after the healthy ones until `downForMs` has passed; then it is tried in its configured
 * place again (one probe), and any answer clears its record. vpnkit does the same with
 * `assume-offline-after` (protocols.md §4.4), though it keeps probing an offline server with
 * every query; here a down server simply goes last.
 * @module
 */
import { formatUpstream, type UpstreamServer } from './resolv-conf.js';

/** Health thresholds. */
export interface HealthPolicy {
  /** Consecutive timeouts (or socket errors) that mark a server down. */
  readonly markDownAfter: number;
  /** How long a down server goes to the back of the order. */
  readonly downForMs: number;
}

/** A snapshot of one server's health, for stats. */
export interface UpstreamServerStats {
  readonly server: string;
  readonly down: boolean;
  readonly consecutiveTimeouts: number;
  readonly timeouts: number;
  readonly errors: number;
  readonly answers: number;
}

/** Mutable health of one upstream server. */
export class ServerHealth {
  consecutiveTimeouts = 0;
  downUntil = -Infinity;
  timeouts = 0;
  errors = 0;
  answers = 0;
  constructor(readonly server: UpstreamServer) {}

  /** Whether the server is in its down period at `now`. */
  isDown(now: number): boolean {
    return now < this.downUntil;
  }

  /** A query to this server went unanswered for the attempt timeout. */
  noteTimeout(now: number, policy: HealthPolicy): void {
    this.timeouts++;
    this.miss(now, policy);
  }

  /** The socket failed (ICMP port unreachable, connection refused): nobody is serving there. */
  noteError(now: number, policy: HealthPolicy): void {
    this.errors++;
    this.miss(now, policy);
  }

  /** Any well-formed answer (even SERVFAIL) proves the server is alive. */
  noteAnswer(): void {
    this.answers++;
    this.consecutiveTimeouts = 0;
    this.downUntil = -Infinity;
  }

  /** Stats view at `now`. */
  snapshot(now: number): UpstreamServerStats {
    return {
      server: formatUpstream(this.server),
      down: this.isDown(now),
      consecutiveTimeouts: this.consecutiveTimeouts,
      timeouts: this.timeouts,
      errors: this.errors,
      answers: this.answers,
    };
  }

  private miss(now: number, policy: HealthPolicy): void {
    this.consecutiveTimeouts++;
    // A failed probe after the down period re-marks at once: the count was never reset.
    if (this.consecutiveTimeouts >= policy.markDownAfter) this.downUntil = now + policy.downForMs;
  }
}

/** The order in which to try servers at `now`: healthy ones as configured, then down ones, soonest back first. */
export function tryOrder(servers: readonly ServerHealth[], now: number): ServerHealth[] {
  const up = servers.filter((s) => !s.isDown(now));
  const down = servers.filter((s) => s.isDown(now)).sort((a, b) => a.downUntil - b.downUntil);
  return up.concat(down);
}

/** Same address, port and family. */
export function sameServer(a: UpstreamServer, b: UpstreamServer): boolean {
  return a.address === b.address && a.port === b.port && a.family === b.family;
}
