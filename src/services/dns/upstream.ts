/**
 * Forwarding guest queries to upstream resolvers.
 *
 * Each attempt sends the guest's query bytes to one server with a fresh random transaction id
 * from the runtime's rng, on a fresh UDP socket (so the source port is fresh too), and accepts
 * only a response with that id and the same question (RFC 5452 §4.1, §9.1); anything else is
 * counted as spoofed and ignored. An attempt that has not been answered after `attemptTimeoutMs`
 * hands over to the next server (round robin over the try order, so a single server is simply
 * resent); the previous attempt stays open, and whichever answer comes first wins. After
 * `queryTimeoutMs` in all the query fails and the server answers the guest SERVFAIL. A truncated
 * UDP answer (TC) is retried over TCP with the same server (RFC 7766 §5); queries that came over
 * TCP go upstream over TCP. NOERROR and NXDOMAIN are final; other rcodes (SERVFAIL, REFUSED, …)
 * move on to the next server, and when every server failed that way the last such answer is
 * returned with the error so the guest sees what upstream said.
 *
 * Deadlines use one {@link Timer} per query on the runtime scheduler, so a ManualScheduler test
 * sees every resend and the final SERVFAIL at exact times.
 * @module
 */
import { err, ok, ResultAsync, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../errors.js';
import type { Runtime } from '../../runtime/runtime.js';
import { Timer } from '../../runtime/scheduler.js';
import { Flag, HEADER_LEN, msgCount, msgFlags, msgId, msgOpcode, msgRcode, OPCODE_QUERY, Rcode, readQuestion, setMsgId, type DnsQuestion } from './message.js';
import type { UpstreamServer } from './resolv-conf.js';
import type { DnsUpstreamTransport, UpstreamTcpExchange, UpstreamUdpSocket } from './transport.js';
import { sameServer, ServerHealth, tryOrder, type HealthPolicy, type UpstreamServerStats } from './upstream-health.js';

/** Forwarder configuration; every field but `servers` has a default. */
export interface UpstreamOptions {
  /** Upstream resolvers (resolv.conf's, or `--dns-upstream` values which replace them). */
  readonly servers: readonly UpstreamServer[];
  /** How long one server gets before the next is tried (default 2000 ms). */
  readonly attemptTimeoutMs?: number;
  /** Bound on a whole forwarded query, after which the guest gets SERVFAIL (default 5000 ms). */
  readonly queryTimeoutMs?: number;
  /** Consecutive timeouts that mark a server down (default 3). */
  readonly markDownAfter?: number;
  /** How long a down server is tried only after the others (default 30000 ms). */
  readonly downForMs?: number;
  /**
   * Forwarded queries in flight at most; more fail at once with `dns-upstream-busy` (default 256).
   * Each holds at most two host sockets, so this also bounds the file descriptors DNS uses.
   */
  readonly maxPending?: number;
}

/** A usable upstream answer (NOERROR or NXDOMAIN), still carrying the upstream transaction id. */
export interface UpstreamAnswer {
  readonly message: Uint8Array;
  readonly server: UpstreamServer;
  /** Whether it came over TCP. */
  readonly tcp: boolean;
}

/** Why a forwarded query produced no usable answer. */
export type UpstreamError =
  | VnetError<'dns-upstream-timeout'>
  | VnetError<'dns-upstream-none'>
  | (VnetError<'dns-upstream-failed'> & { readonly lastAnswer: Uint8Array | undefined })
  | VnetError<'dns-upstream-busy'>
  | VnetError<'dns-upstream-bad-query'>
  | VnetError<'dns-upstream-closed'>;

/** Forwarder counters. */
export interface UpstreamStats {
  /** Datagrams and TCP queries sent upstream. */
  readonly sent: number;
  /** Queries that ended with a usable answer. */
  readonly answered: number;
  /** Attempts that timed out. */
  readonly timeouts: number;
  /** Responses ignored for a wrong id, question or shape. */
  readonly spoofed: number;
  /** Truncated UDP answers retried over TCP. */
  readonly tcpFallbacks: number;
  /** Queries refused because `maxPending` were in flight. */
  readonly busy: number;
  /** Queries in flight now. */
  readonly pending: number;
  readonly servers: readonly UpstreamServerStats[];
}

interface Attempt {
  readonly health: ServerHealth;
  readonly id: number;
  readonly tcp: boolean;
  udp?: UpstreamUdpSocket;
  exchange?: UpstreamTcpExchange;
  done: boolean;
}

/** The upstream forwarder. */
export class Upstream {
  private health: ServerHealth[] = [];
  private readonly live = new Set<Forward>();
  /** @internal */ readonly attemptTimeoutMs: number;
  /** @internal */ readonly queryTimeoutMs: number;
  /** @internal */ readonly policy: HealthPolicy;
  private readonly maxPending: number;
  /** @internal */ readonly counters = { sent: 0, answered: 0, timeouts: 0, spoofed: 0, tcpFallbacks: 0, busy: 0 };

  constructor(
    /** @internal */ readonly runtime: Runtime,
    /** @internal */ readonly transport: DnsUpstreamTransport,
    opts: UpstreamOptions,
  ) {
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 2000;
    this.queryTimeoutMs = opts.queryTimeoutMs ?? 5000;
    this.policy = { markDownAfter: opts.markDownAfter ?? 3, downForMs: opts.downForMs ?? 30_000 };
    this.maxPending = opts.maxPending ?? 256;
    this.setServers(opts.servers);
  }

  /** Replaces the server list (resolv.conf changed); servers kept in the list keep their health. */
  setServers(servers: readonly UpstreamServer[]): void {
    this.health = servers.map((s) => this.health.find((h) => sameServer(h.server, s)) ?? new ServerHealth(s));
  }

  /** The configured servers, in order. */
  get servers(): UpstreamServer[] {
    return this.health.map((h) => h.server);
  }

  /** Queries in flight. */
  get pending(): number {
    return this.live.size;
  }

  /**
   * Forwards `query` (a complete DNS query message; it is copied). `tcp` sends every attempt over
   * TCP, for guests that asked over TCP. Resolves with the first usable answer or an error.
   */
  forward(query: Uint8Array, tcp: boolean): ResultAsync<UpstreamAnswer, UpstreamError> {
    const q = readQuestion(query);
    if (q === undefined) return errAsync(vnetError('dns-upstream-bad-query', 'query has no readable question'));
    if (this.health.length === 0) return errAsync(vnetError('dns-upstream-none', 'no upstream DNS servers configured'));
    if (this.live.size >= this.maxPending) {
      this.counters.busy++;
      return errAsync(vnetError('dns-upstream-busy', `${this.maxPending} upstream queries already in flight`));
    }
    return new ResultAsync(
      new Promise<Result<UpstreamAnswer, UpstreamError>>((resolve) => {
        // new Uint8Array(view) copies even when given a Node Buffer (whose slice() is a view).
        const f = new Forward(this, new Uint8Array(query), q, tcp, tryOrder(this.health, this.runtime.clock.now()), (r) => {
          this.live.delete(f);
          if (r.isOk()) this.counters.answered++;
          resolve(r);
        });
        this.live.add(f);
        f.start();
      }),
    );
  }

  /** Counters and per-server health. */
  stats(): UpstreamStats {
    const now = this.runtime.clock.now();
    return { ...this.counters, pending: this.live.size, servers: this.health.map((h) => h.snapshot(now)) };
  }

  /** Fails every query in flight with `dns-upstream-closed` and closes their sockets. */
  close(): void {
    for (const f of [...this.live]) f.fail(vnetError('dns-upstream-closed', 'forwarder closed'));
  }
}

function errAsync(e: UpstreamError): ResultAsync<UpstreamAnswer, UpstreamError> {
  return new ResultAsync(Promise.resolve(err(e)));
}

/** One guest query on its way through the servers. */
class Forward {
  private readonly attempts: Attempt[] = [];
  /** Servers that answered with a failure rcode or whose socket failed: not tried again. */
  private readonly exhausted = new Set<ServerHealth>();
  private readonly timer = new Timer(() => this.onTimeout());
  private readonly deadline: number;
  private current: Attempt | undefined;
  private cursor = 0;
  private finished = false;
  private lastAnswer: Uint8Array | undefined;

  constructor(
    private readonly up: Upstream,
    private readonly query: Uint8Array,
    private readonly question: DnsQuestion,
    private readonly tcp: boolean,
    private readonly order: ServerHealth[],
    private readonly resolve: (r: Result<UpstreamAnswer, UpstreamError>) => void,
  ) {
    this.deadline = up.runtime.clock.now() + up.queryTimeoutMs;
  }

  start(): void {
    this.next();
  }

  /** Moves on to the next server that has not failed outright, or ends the query. */
  private next(): void {
    if (this.finished) return;
    if (this.up.runtime.clock.now() >= this.deadline) return this.fail(vnetError('dns-upstream-timeout', `no upstream answered within ${this.up.queryTimeoutMs} ms`));
    const n = this.order.length;
    for (let i = 0; i < n; i++) {
      const h = this.order[(this.cursor + i) % n]!;
      if (this.exhausted.has(h)) continue;
      this.cursor = (this.cursor + i + 1) % n;
      return this.launch(h, this.tcp);
    }
    const e = vnetError('dns-upstream-failed', 'every upstream server failed', { lastAnswer: this.lastAnswer });
    this.fail(e);
  }

  private launch(health: ServerHealth, tcp: boolean): void {
    const rt = this.up.runtime;
    const a: Attempt = { health, id: rt.rng.u32() & 0xffff, tcp, done: false };
    const msg = new Uint8Array(this.query);
    setMsgId(msg, a.id);
    // Keep only the previous attempt listening for a late answer besides the new one: a guest
    // flooding a dead upstream must not cost more than two sockets per pending query.
    const open = this.attempts.filter((x) => !x.done);
    if (open.length >= 2) this.closeAttempt(open[0]!);
    this.attempts.push(a);
    this.current = a;
    rt.scheduler.arm(this.timer, Math.min(rt.clock.now() + this.up.attemptTimeoutMs, this.deadline));
    this.up.counters.sent++;
    if (tcp) {
      a.exchange = this.up.transport.queryTcp(health.server, msg, (r) => {
        if (this.finished || a.done) return;
        if (r.isErr()) return this.onSocketError(a);
        if (!this.matches(a, r.value)) {
          // Over TCP nobody off-path can inject; a wrong answer means a broken server.
          this.up.counters.spoofed++;
          return this.onSocketError(a);
        }
        this.onAnswer(a, r.value);
      });
    } else {
      a.udp = this.up.transport.openUdp(
        health.server,
        (m) => this.onDatagram(a, m),
        () => this.onSocketError(a),
      );
      a.udp.send(msg);
    }
  }

  private onDatagram(a: Attempt, m: Uint8Array): void {
    if (this.finished || a.done) return;
    if (!this.matches(a, m)) {
      this.up.counters.spoofed++;
      return;
    }
    if ((msgFlags(m) & Flag.TC) !== 0) {
      // Truncated: ask the same server over TCP for the whole answer (RFC 7766 §5).
      this.up.counters.tcpFallbacks++;
      this.closeAttempt(a);
      a.health.noteAnswer();
      return this.launch(a.health, true);
    }
    this.onAnswer(a, m);
  }

  private onAnswer(a: Attempt, m: Uint8Array): void {
    a.health.noteAnswer();
    this.closeAttempt(a);
    const rcode = msgRcode(m);
    if (rcode === Rcode.NoError || rcode === Rcode.NxDomain) {
      this.finish(ok({ message: m, server: a.health.server, tcp: a.tcp }));
      return;
    }
    // SERVFAIL, REFUSED, NOTIMP, FORMERR: this server cannot help; another might.
    this.lastAnswer = m;
    this.exhausted.add(a.health);
    if (a === this.current) this.next();
  }

  private onSocketError(a: Attempt): void {
    if (this.finished || a.done) return;
    this.closeAttempt(a);
    a.health.noteError(this.up.runtime.clock.now(), this.up.policy);
    this.exhausted.add(a.health);
    if (a === this.current) this.next();
  }

  private onTimeout(): void {
    const a = this.current;
    if (this.finished || a === undefined) return;
    if (!a.done) {
      this.up.counters.timeouts++;
      a.health.noteTimeout(this.up.runtime.clock.now(), this.up.policy);
    }
    // The timed-out attempt stays open: a late answer from it is still welcome.
    this.next();
  }

  /** A response to attempt `a`: QR set, standard query, its id, and our question (RFC 5452 §9.1). */
  private matches(a: Attempt, m: Uint8Array): boolean {
    if (m.length < HEADER_LEN || msgId(m) !== a.id) return false;
    if ((msgFlags(m) & Flag.QR) === 0 || msgOpcode(m) !== OPCODE_QUERY || msgCount(m, 0) !== 1) return false;
    const q = readQuestion(m);
    return q !== undefined && q.key === this.question.key && q.type === this.question.type && q.cls === this.question.cls;
  }

  private closeAttempt(a: Attempt): void {
    a.done = true;
    a.udp?.close();
    a.exchange?.cancel();
  }

  /** Ends the query with an error (also used by {@link Upstream.close}). */
  fail(e: UpstreamError): void {
    this.finish(err(e));
  }

  private finish(r: Result<UpstreamAnswer, UpstreamError>): void {
    if (this.finished) return;
    this.finished = true;
    this.up.runtime.scheduler.disarm(this.timer);
    for (const a of this.attempts) this.closeAttempt(a);
    this.resolve(r);
  }
}
