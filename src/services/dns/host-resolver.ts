/**
 * Host-resolver mode: A and AAAA questions answered by the host's getaddrinfo (through a
 * {@link HostLookup}), so split and VPN DNS that never shows in resolv.conf works in guests
 * (user-needs.md row 4; vpnkit's "Host" mode, protocols.md §4.4; lima's hostResolver).
 *
 * Bounds. getaddrinfo blocks a libuv pool thread until it returns and cannot be cancelled, and
 * the pool has 4 threads (UV_THREADPOOL_SIZE) shared with fs and crypto. So at most
 * `maxConcurrent` lookups run at once (default 3: one thread stays free for the leases file and
 * the like); further lookups wait in a FIFO queue; past `maxPending` outstanding queries new ones
 * are dropped without a reply and counted (the guest's stub retries). Each query has its own
 * deadline (`timeoutMs`, queue time included) after which the guest gets SERVFAIL; a lookup still
 * running then keeps its thread until getaddrinfo returns, and its result is cached for the
 * next asker. A queued lookup whose every asker gave up is skipped, never started.
 *
 * Sharing. Questions for the same name and family share one lookup while it is queued or
 * running (a guest's parallel A+AAAA retransmissions, many guests booting at once), and results
 * are reused for `cacheMs` (default: the answer TTL).
 *
 * NXDOMAIN versus NODATA. getaddrinfo for one family says EAI_NONAME also when the name exists
 * with only the other family (glibc's files backend does for an /etc/hosts entry). Answering
 * NXDOMAIN there would be wrong (RFC 8020 §2) and harmful: musl, asking A and AAAA in parallel,
 * discards the A answer when the AAAA answer is NXDOMAIN. So before saying NXDOMAIN the other
 * family is looked up too (usually the guest's own parallel question, shared or cached): any
 * address makes the answer NODATA (RFC 2308 §2.2).
 * @module
 */
import type { Runtime } from '../../runtime/runtime.js';
import { Timer } from '../../runtime/scheduler.js';
import { classifyLookupError, type HostLookup, type HostLookupOutcome } from './host-lookup.js';
import { lowerAscii } from './message.js';

/** `hostResolver` option: `auto` = on for macOS and Windows hosts, off elsewhere. */
export type HostResolverSetting = 'auto' | boolean;

/**
 * Whether host-resolver mode is on. `auto` turns it on where the host's resolver configuration
 * does not live in resolv.conf — macOS (scoped resolvers, /etc/resolver/*) and Windows (NRPT,
 * per-interface servers) — and off on Linux, whose resolv.conf the upstream mode follows.
 */
export function hostResolverEnabled(setting: HostResolverSetting | undefined, platform: string): boolean {
  if (typeof setting === 'boolean') return setting;
  return platform === 'darwin' || platform === 'win32';
}

/** Tuning of the host resolver; every field has a default. */
export interface HostResolverOptions {
  /**
   * TTL of the answers in seconds (default 5, as lima's host resolver). getaddrinfo reports no
   * TTL; a short one lets a guest cache across its own parallel and repeated questions while a
   * VPN switching on or off is seen within seconds.
   */
  readonly ttlSeconds?: number;
  /** Deadline of one query, queueing included, before SERVFAIL (default 5000 ms, as the forwarder). */
  readonly timeoutMs?: number;
  /** getaddrinfo calls running at once (default 3 of libuv's 4 pool threads). */
  readonly maxConcurrent?: number;
  /** Queries outstanding (queued or running) at most; more are dropped and counted (default 256). */
  readonly maxPending?: number;
  /** How long a lookup result is reused, ms (default `ttlSeconds` × 1000; 0 = no reuse). Failures are never reused. */
  readonly cacheMs?: number;
  /** Results kept at most (default 1024; the oldest goes first). */
  readonly maxCacheEntries?: number;
}

/** The answer to one question, in DNS terms. */
export type HostAnswer =
  /** NOERROR with these addresses (at least one). */
  | { readonly kind: 'addresses'; readonly addresses: readonly string[] }
  /** NOERROR, no answers: the name exists without this family (RFC 2308 §2.2). */
  | { readonly kind: 'no-data' }
  /** NXDOMAIN: the host knows the name in neither family. */
  | { readonly kind: 'no-name' }
  /** SERVFAIL: temporary failure, timeout, or closed. */
  | { readonly kind: 'failure'; readonly reason: string }
  /** Dropped without a reply: `maxPending` queries were outstanding. */
  | { readonly kind: 'busy' };

/** Counters of the host resolver (a snapshot). */
export interface HostResolverStats {
  /** Questions asked. */
  readonly queries: number;
  /** getaddrinfo calls started. */
  readonly lookups: number;
  /** getaddrinfo calls running now (≤ maxConcurrent). */
  readonly running: number;
  /** Lookups waiting for a pool thread now. */
  readonly queued: number;
  /** Questions not answered yet. */
  readonly pending: number;
  /** Questions that joined a lookup already queued or running. */
  readonly shared: number;
  /** Questions answered from a recent result. */
  readonly cacheHits: number;
  readonly addresses: number;
  readonly noData: number;
  readonly noName: number;
  /** SERVFAILs, timeouts included. */
  readonly failures: number;
  readonly timeouts: number;
  /** Questions dropped at `maxPending`. */
  readonly dropped: number;
  /** Queued lookups skipped because every asker had given up. */
  readonly abandoned: number;
  /** Exceptions thrown by answer callbacks (should stay 0). */
  readonly internalErrors: number;
}

interface Waiter {
  live: boolean;
  readonly cb: (o: HostLookupOutcome) => void;
}

interface Job {
  readonly key: string;
  readonly name: string;
  readonly family: 4 | 6;
  readonly waiters: Waiter[];
}

/** The host resolver of the DNS service. */
export class HostResolver {
  /** TTL put on answers, seconds. */
  readonly ttlSeconds: number;
  private readonly timeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly maxPending: number;
  private readonly cacheMs: number;
  private readonly maxCache: number;
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private readonly cache = new Map<string, { readonly outcome: HostLookupOutcome; readonly until: number }>();
  private readonly outstanding = new Set<(a: HostAnswer) => void>();
  private running = 0;
  private closed = false;
  private readonly c = {
    queries: 0, lookups: 0, shared: 0, cacheHits: 0, addresses: 0, noData: 0, noName: 0, failures: 0, timeouts: 0, dropped: 0, abandoned: 0, internalErrors: 0,
  };

  constructor(
    private readonly runtime: Runtime,
    private readonly host: HostLookup,
    opts: HostResolverOptions = {},
  ) {
    this.ttlSeconds = opts.ttlSeconds ?? 5;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 3);
    this.maxPending = Math.max(1, opts.maxPending ?? 256);
    this.cacheMs = opts.cacheMs ?? this.ttlSeconds * 1000;
    this.maxCache = opts.maxCacheEntries ?? 1024;
  }

  /**
   * Answers `name` for `family`. `done` is called exactly once, synchronously when a recent
   * result is at hand or the query is dropped, else later.
   */
  resolve(name: string, family: 4 | 6, done: (a: HostAnswer) => void): void {
    if (this.closed) return done({ kind: 'failure', reason: 'host resolver closed' });
    if (this.outstanding.size >= this.maxPending) {
      this.c.dropped++;
      return done({ kind: 'busy' });
    }
    this.c.queries++;
    const waiters: Waiter[] = [];
    let finished = false;
    const finish = (a: HostAnswer): void => {
      if (finished) return;
      finished = true;
      this.outstanding.delete(finish);
      this.runtime.scheduler.disarm(timer);
      for (const w of waiters) w.live = false;
      this.count(a);
      done(a);
    };
    const timer = new Timer(() => {
      this.c.timeouts++;
      finish({ kind: 'failure', reason: `the host resolver did not answer within ${this.timeoutMs} ms` });
    });
    this.outstanding.add(finish);
    this.runtime.scheduler.armIn(timer, this.timeoutMs);
    const ask = (fam: 4 | 6, cb: (o: HostLookupOutcome) => void): void => {
      const w: Waiter = { live: true, cb };
      waiters.push(w);
      this.fetch(name, fam, w);
    };
    ask(family, (o) => {
      if (o.kind === 'addresses') {
        const addresses = answerable(o.addresses);
        return finish(addresses.length > 0 ? { kind: 'addresses', addresses } : { kind: 'no-data' });
      }
      const why = classifyLookupError(o.code);
      if (why === 'no-data') return finish({ kind: 'no-data' });
      if (why === 'failure') return finish({ kind: 'failure', reason: o.code });
      // "No such name" for this family: does the name exist with the other one? (module comment)
      ask(family === 4 ? 6 : 4, (other) => finish(other.kind === 'addresses' && other.addresses.length > 0 ? { kind: 'no-data' } : { kind: 'no-name' }));
    });
  }

  /** Counters now. */
  stats(): HostResolverStats {
    return { ...this.c, running: this.running, queued: this.queue.length, pending: this.outstanding.size };
  }

  /** Fails every outstanding question (SERVFAIL) and refuses new ones. Lookups running finish unseen. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.jobs.clear();
    this.cache.clear();
    for (const f of [...this.outstanding]) f({ kind: 'failure', reason: 'host resolver closed' });
  }

  /** Hands `w` a cached result, joins it to a lookup in progress, or starts/queues a new lookup. */
  private fetch(name: string, family: 4 | 6, w: Waiter): void {
    const key = `${family}|${lowerAscii(name)}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      if (hit.until > this.runtime.clock.now()) {
        this.c.cacheHits++;
        return this.deliver(w, hit.outcome);
      }
      this.cache.delete(key);
    }
    const existing = this.jobs.get(key);
    if (existing !== undefined) {
      this.c.shared++;
      existing.waiters.push(w);
      return;
    }
    const job: Job = { key, name, family, waiters: [w] };
    this.jobs.set(key, job);
    if (this.running < this.maxConcurrent) this.start(job);
    else this.queue.push(job);
  }

  private start(job: Job): void {
    this.running++;
    this.c.lookups++;
    let called = false;
    this.host.lookup(job.name, job.family, (o) => {
      if (called) return;
      called = true;
      this.running--;
      if (this.closed) return;
      if (this.jobs.get(job.key) === job) this.jobs.delete(job.key);
      if (this.cacheMs > 0 && (o.kind === 'addresses' || classifyLookupError(o.code) !== 'failure')) this.remember(job.key, o);
      for (const w of job.waiters) this.deliver(w, o);
      this.pump();
    });
  }

  /** Starts queued lookups while pool threads are free, skipping those nobody waits for any more. */
  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.shift()!;
      if (!job.waiters.some((w) => w.live)) {
        this.jobs.delete(job.key);
        this.c.abandoned++;
        continue;
      }
      this.start(job);
    }
  }

  private remember(key: string, outcome: HostLookupOutcome): void {
    this.cache.delete(key);
    if (this.cache.size >= this.maxCache) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, { outcome, until: this.runtime.clock.now() + this.cacheMs });
  }

  private deliver(w: Waiter, o: HostLookupOutcome): void {
    if (!w.live) return;
    w.live = false;
    try {
      w.cb(o);
    } catch {
      // Runs inside a dns.lookup callback: an exception here would take the process down.
      this.c.internalErrors++;
    }
  }

  private count(a: HostAnswer): void {
    if (a.kind === 'addresses') this.c.addresses++;
    else if (a.kind === 'no-data') this.c.noData++;
    else if (a.kind === 'no-name') this.c.noName++;
    else if (a.kind === 'failure') this.c.failures++;
  }
}

/**
 * The addresses an answer can carry: each once (getaddrinfo lists an address twice for two
 * /etc/hosts lines, and an RRset is a set, RFC 2181 §5), without IPv6 zone suffixes (`fe80::1%en0`
 * names an interface of the host, meaningless to a guest and not encodable in an AAAA record).
 */
function answerable(addresses: readonly string[]): string[] {
  return [...new Set(addresses.filter((a) => !a.includes('%')))];
}
