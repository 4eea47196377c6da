/**
 * The lease pool's data and its allocation order (see lease-pool.ts for the rules). Kept apart so
 * the pool file reads as policy; nothing here emits events or validates input.
 *
 * Every pool address is in exactly one of these states:
 * - fresh: never used (no record, not spent, not reserved) — handed out lowest first;
 * - held by a record (`byIp`), active or not: the record's NIC has first call on it;
 * - spent: used before, now nobody's; reusable from a time (in the future = quarantined);
 * - reserved (`resvByIp`), which overrides the others for its NIC.
 * @module
 */
import { checkAssignable, type ResolvedPoolOptions } from './pool-config.js';
import { macKey, type ClientKey } from './client-key.js';
import type { Lease } from './lease-pool.js';

/** One NIC's claim on one address. Mutable; owned by the table. */
export interface LeaseRecord {
  key: ClientKey;
  ip: number;
  mac: number;
  uuid: string | undefined;
  hostname: string | undefined;
  /** Clock ms; the lease is active while this is in the future (or while pinned). */
  expiresAt: number;
  /** ACKed (or vmnet-bound) in its current life, as opposed to only offered. */
  bound: boolean;
  /** Its expiry has been reported (or must not be: released, never bound). */
  reported: boolean;
  /** Held by an attached vmnet NIC. */
  pinned: boolean;
}

/** The maps behind a lease pool. */
export class LeaseTable {
  readonly byIp = new Map<number, LeaseRecord>();
  readonly byKey = new Map<ClientKey, LeaseRecord>();
  /** Used addresses without an owner: ip → time from which they may be handed out again. */
  readonly spent = new Map<number, number>();
  readonly resvByKey = new Map<ClientKey, number>();
  readonly resvByIp = new Map<number, ClientKey>();
  /** No fresh address lies below it (a scan hint; only an unreservation moves it back). */
  private cursor: number;

  constructor(readonly config: ResolvedPoolOptions) {
    this.cursor = config.lowestIp;
  }

  /** Whether `r` is in force at `now`. */
  active(r: LeaseRecord, now: number): boolean {
    return r.pinned || r.expiresAt > now;
  }

  /** The outside view of `r`. */
  view(r: LeaseRecord, now: number): Lease {
    const state = this.active(r, now) ? (r.bound ? 'bound' : 'offered') : 'inactive';
    return { key: r.key, ip: r.ip, mac: r.mac, uuid: r.uuid, hostname: r.hostname, expiresAt: r.expiresAt, state, pinned: r.pinned };
  }

  /** The fixed address of a NIC: by its key first, then (for a UUID-keyed NIC) by its MAC. */
  reservationOf(key: ClientKey, mac: number): number | undefined {
    return this.resvByKey.get(key) ?? (key.startsWith('uuid:') && mac >= 0 ? this.resvByKey.get(macKey(mac)) : undefined);
  }

  /** The address allocation order of lease-pool.ts; -1 when the pool is exhausted. */
  choose(key: ClientKey, mac: number, requested: number, now: number): number {
    const fixed = this.reservationOf(key, mac);
    if (fixed !== undefined) return fixed;
    const own = this.byKey.get(key);
    if (own !== undefined) return own.ip;
    if (requested >= 0 && checkAssignable(this.config, requested) === undefined && this.isFresh(requested)) return requested;
    const fresh = this.nextFresh();
    return fresh >= 0 ? fresh : this.oldestReusable(now);
  }

  /** Whether any never-used address is left. */
  hasFresh(): boolean {
    return this.nextFresh() >= 0;
  }

  /**
   * Gives `ip` to `key`: another NIC's (inactive) record on it is dropped, and `key`'s record moves
   * there (its old address becomes spent, reusable once its old lease would have ended).
   */
  take(key: ClientKey, mac: number, ip: number, now: number): LeaseRecord {
    const holder = this.byIp.get(ip);
    if (holder !== undefined && holder.key !== key) {
      this.byIp.delete(ip);
      if (this.byKey.get(holder.key) === holder) this.byKey.delete(holder.key);
    }
    this.spent.delete(ip);
    let rec = this.byKey.get(key);
    if (rec !== undefined && rec.ip !== ip) {
      if (this.byIp.get(rec.ip) === rec) this.byIp.delete(rec.ip);
      this.spent.set(rec.ip, rec.pinned ? now : rec.expiresAt);
      rec.ip = ip;
      rec.bound = false;
      rec.pinned = false;
      rec.reported = true;
      rec.expiresAt = now;
    }
    if (rec === undefined) {
      rec = {
        key,
        ip,
        mac,
        uuid: key.startsWith('uuid:') ? key.slice(5) : undefined,
        hostname: holder !== undefined && holder.mac === mac ? holder.hostname : undefined,
        expiresAt: now,
        bound: false,
        reported: true,
        pinned: false,
      };
      this.byKey.set(key, rec);
    }
    this.byIp.set(ip, rec);
    return rec;
  }

  /** Drops `rec`; its address is spent, reusable from `reusableAt`. */
  evict(rec: LeaseRecord, reusableAt: number): void {
    if (this.byIp.get(rec.ip) === rec) this.byIp.delete(rec.ip);
    if (this.byKey.get(rec.key) === rec) this.byKey.delete(rec.key);
    this.spent.set(rec.ip, reusableAt);
  }

  /** Adds a record (restore). */
  insert(rec: LeaseRecord): void {
    this.byIp.set(rec.ip, rec);
    this.byKey.set(rec.key, rec);
  }

  /** Sets `key`'s reservation, replacing an older one. */
  setReservation(key: ClientKey, ip: number): void {
    const prev = this.resvByKey.get(key);
    if (prev !== undefined && prev !== ip) this.clearReservation(key);
    this.resvByKey.set(key, ip);
    this.resvByIp.set(ip, key);
  }

  /** Removes `key`'s reservation; a never-used address becomes fresh again. */
  clearReservation(key: ClientKey): void {
    const ip = this.resvByKey.get(key);
    if (ip === undefined) return;
    this.resvByKey.delete(key);
    this.resvByIp.delete(ip);
    if (ip < this.cursor) this.cursor = ip;
  }

  /** Rescans from the bottom (after a restore). */
  resetCursor(): void {
    this.cursor = this.config.lowestIp;
  }

  private isFresh(ip: number): boolean {
    return ip !== this.config.gatewayIp && ip !== this.config.hostIp && !this.byIp.has(ip) && !this.spent.has(ip) && !this.resvByIp.has(ip);
  }

  private nextFresh(): number {
    for (let ip = Math.max(this.cursor, this.config.lowestIp); ip <= this.config.highestIp; ip++) {
      if (this.isFresh(ip)) {
        this.cursor = ip;
        return ip;
      }
    }
    this.cursor = this.config.highestIp + 1;
    return -1;
  }

  /** The used address that has been free the longest (lowest address on ties); -1 when none. */
  private oldestReusable(now: number): number {
    let best = -1;
    let bestAt = Infinity;
    const consider = (ip: number, at: number): void => {
      if (this.resvByIp.has(ip)) return;
      if (at < bestAt || (at === bestAt && ip < best)) {
        best = ip;
        bestAt = at;
      }
    };
    for (const r of this.byIp.values()) if (!this.active(r, now)) consider(r.ip, r.expiresAt);
    for (const [ip, at] of this.spent) if (at <= now) consider(ip, at);
    return best;
  }
}
