/**
 * IPv4 → MAC for the guests on the bridge: learnt from ARP (requests, replies, gratuitous ARP),
 * from the source of every IPv4 frame a guest sends, and from DHCP leases. Entries expire after
 * a timeout so a guest that moves or changes its MAC is relearnt (RFC 1122 §2.3.2.1 cache
 * timeout). A cap bounds memory against a guest spraying source addresses.
 * @module
 */
import type { Clock } from '../runtime/clock.js';

/** Default lifetime of a learnt entry, ms. Linux's base_reachable_time is 30 s; we are lenient. */
export const DEFAULT_NEIGHBOUR_TTL_MS = 600_000;
/** Default cap of entries. */
export const DEFAULT_MAX_NEIGHBOURS = 4096;

/** The neighbour cache. */
export class Neighbours {
  private readonly mac = new Map<number, number>();
  private readonly seen = new Map<number, number>();

  constructor(
    private readonly clock: Clock,
    readonly ttlMs = DEFAULT_NEIGHBOUR_TTL_MS,
    readonly max = DEFAULT_MAX_NEIGHBOURS,
  ) {}

  /** Records `ip` at `mac` now. */
  learn(ip: number, macAddr: number, now = this.clock.now()): void {
    const cur = this.mac.get(ip);
    if (cur === undefined && this.mac.size >= this.max) this.evictOldest();
    if (cur !== macAddr) this.mac.set(ip, macAddr);
    this.seen.set(ip, now);
  }

  /**
   * The MAC of `ip`, or -1 when unknown or expired. An expired entry is kept (the cap bounds
   * them) until relearnt, evicted or forgotten: it still says which NIC the guest was behind
   * when that NIC goes away ({@link lastKnown}), however long the guest was quiet.
   */
  lookup(ip: number, now = this.clock.now()): number {
    const m = this.mac.get(ip);
    if (m === undefined) return -1;
    return now - this.seen.get(ip)! > this.ttlMs ? -1 : m;
  }

  /** The MAC last learnt for `ip`, expired or not, or -1: for attribution (stats, events, detach), never to send. */
  lastKnown(ip: number): number {
    return this.mac.get(ip) ?? -1;
  }

  /** Forgets `ip`. */
  forget(ip: number): void {
    this.mac.delete(ip);
    this.seen.delete(ip);
  }

  /** Forgets every IP that maps to `macAddr` (its NIC went away). */
  forgetMac(macAddr: number): void {
    for (const [ip, m] of this.mac) if (m === macAddr) this.forget(ip);
  }

  /** Snapshot for stats and tests. */
  entries(): Array<{ ip: number; mac: number }> {
    return [...this.mac].map(([ip, m]) => ({ ip, mac: m }));
  }

  private evictOldest(): void {
    let oldIp = -1;
    let oldT = Infinity;
    for (const [ip, t] of this.seen) {
      if (t < oldT) {
        oldT = t;
        oldIp = ip;
      }
    }
    if (oldIp >= 0) this.forget(oldIp);
  }
}
