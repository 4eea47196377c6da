/**
 * The address book of one network: which NIC holds which address, for how long, and which
 * addresses are fixed. The DHCP server, the vmnet handshake and the control API all go through it.
 *
 * Allocation order for a NIC (RFC 2131 §4.3.1 lists the same preferences):
 * 1. its reservation (`reserve({ uuid | mac, ip })`, `--reserve`), whatever else holds;
 * 2. the address it had before — active, expired or released — so a guest that reconnects, reboots
 *    or comes back after a restart (with a leases file) keeps its address;
 * 3. the address it asks for (option 50), if that address was never used;
 * 4. the lowest never-used pool address: .2 for the first guest, .3 for the next (cli.md);
 * 5. only when no never-used address is left, the address whose lease ended longest ago, taken
 *    from its previous owner (least-recently-used, so addresses stay stable as long as possible).
 * None of those → {@link PoolExhaustedError}.
 *
 * Time is the injected monotonic {@link Clock}; a lease is active while `expiresAt > now`, or while
 * it is pinned by an attached vmnet NIC (whose Go client never renews, protocols.md §1.7). The
 * pool arms no timer: {@link LeasePool.nextExpiry} and {@link LeasePool.expire} let the owner do
 * it (style.md §5.3). A declined address is kept out of use for a quarantine time.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import type { Clock } from '../../runtime/clock.js';
import { formatIpv4 } from '../../wire/address.js';
import { keyOf, macKey, selectorKey, uuidKey, type ClientKey, type ClientSelector } from './client-key.js';
import type { AddressInUseError, PoolConfigError, PoolExhaustedError, ReserveError, VmnetBindError } from './dhcp-errors.js';
import { checkAssignable, resolvePoolOptions, type LeasePoolOptions, type ResolvedPoolOptions } from './pool-config.js';
import { LeaseTable, type LeaseRecord } from './lease-table.js';
import { restoreTable, snapshotTable, type PoolSnapshot, type RestoreReport } from './pool-snapshot.js';

/** What a lease looks like from outside. Times are clock ms. */
export interface Lease {
  readonly key: ClientKey;
  readonly ip: number;
  readonly mac: number;
  readonly uuid: string | undefined;
  /** Option 12 as the client last sent it. */
  readonly hostname: string | undefined;
  readonly expiresAt: number;
  /** `offered`: held after a DHCPOFFER; `bound`: ACKed or vmnet-bound; `inactive`: expired or released (the NIC still has first call on it). */
  readonly state: 'offered' | 'bound' | 'inactive';
  /** Held by an attached vmnet NIC: does not expire until it detaches. */
  readonly pinned: boolean;
}

/** A fixed address. */
export interface Reservation {
  readonly key: ClientKey;
  readonly ip: number;
}

/** Why a DHCPREQUEST for an address cannot be granted (the server sends a DHCPNAK). */
export interface Refusal {
  readonly reason: 'wrong-subnet' | 'not-yours' | 'in-use' | 'outside-pool' | 'quarantined';
  readonly message: string;
}

export type { PoolSnapshot, RestoreReport } from './pool-snapshot.js';

/** The pool. Create with {@link LeasePool.create}. */
export class LeasePool {
  private readonly t: LeaseTable;
  private readonly macToUuid = new Map<number, string>();
  private readonly listeners: Array<() => void> = [];

  private constructor(
    readonly config: ResolvedPoolOptions,
    private readonly clock: Clock,
  ) {
    this.t = new LeaseTable(config);
  }

  /** Checks `options` (defaults: cli.md) and builds an empty pool. */
  static create(options: LeasePoolOptions, clock: Clock): Result<LeasePool, PoolConfigError> {
    return resolvePoolOptions(options).map((c) => new LeasePool(c, clock));
  }

  /** Calls `fn` after every change worth persisting or re-arming a timer for. Returns an unsubscribe. */
  onChange(fn: () => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Default lease time in ms. */
  get leaseMs(): number {
    return this.config.leaseTimeSec * 1000;
  }

  /** The key DHCP traffic from `mac` is accounted under (its vmnet UUID's once bound). */
  keyForMac(mac: number): ClientKey {
    return keyOf(mac, this.macToUuid.get(mac));
  }

  /** The UUID a vmnet NIC with this MAC attached with, if any. */
  uuidOfMac(mac: number): string | undefined {
    return this.macToUuid.get(mac);
  }

  // ---- reservations -------------------------------------------------------------------------

  /**
   * Fixes `ip` for a NIC. Refused (and nothing changes) when `ip` is outside the subnet or pool,
   * is the network/broadcast/gateway/alias address, is reserved to another NIC, or is actively
   * leased to another NIC (which keeps it). A NIC that holds another address moves to its
   * reservation at its next DHCPDISCOVER (its renewal is NAKed). Quarantine is not checked: an
   * operator's explicit choice wins. Reserving again for the same NIC replaces the old reservation.
   */
  reserve(sel: ClientSelector, ip: number): Result<Reservation, ReserveError> {
    const k = selectorKey(sel);
    if (k.isErr()) return err(k.error);
    const key = k.value;
    const bad = checkAssignable(this.config, ip);
    if (bad !== undefined) return err(bad);
    const now = this.clock.now();
    const other = this.t.resvByIp.get(ip);
    if (other !== undefined && other !== key) return err(inUse(ip, other, 'reserved'));
    const holder = this.t.byIp.get(ip);
    if (holder !== undefined && !this.sameNic(holder, key) && this.t.active(holder, now)) return err(inUse(ip, holder.key, 'leased'));
    if (holder !== undefined && !this.sameNic(holder, key)) this.t.evict(holder, holder.expiresAt);
    this.t.setReservation(key, ip);
    this.changed();
    return ok({ key, ip });
  }

  /** Removes a NIC's reservation; false when it had none. Its current lease is kept. */
  unreserve(sel: ClientSelector): boolean {
    const k = selectorKey(sel);
    if (k.isErr() || !this.t.resvByKey.has(k.value)) return false;
    this.t.clearReservation(k.value);
    this.changed();
    return true;
  }

  /** Every reservation. */
  reservations(): Reservation[] {
    return [...this.t.resvByKey].map(([key, ip]) => ({ key, ip }));
  }

  // ---- vmnet (protocols.md §1.7) ------------------------------------------------------------

  /**
   * Binds a vmnet NIC's address when its handshake command arrives, before any DHCP (the Go
   * client never sends a DHCPREQUEST). Mirrors vpnkit: a known UUID gets its address again and a
   * preferred address must equal it; a new UUID gets its preferred address if it is in the pool
   * and unused, else the next address. The lease is pinned until {@link unbindVmnet}.
   * Errors carry vpnkit's Disconnect reasons as `message`.
   */
  bindVmnet(uuid: string, mac: number, preferredIp?: number): Result<Lease, VmnetBindError> {
    const key = uuidKey(uuid);
    const now = this.clock.now();
    const fixed = this.t.reservationOf(key, mac) ?? this.t.byKey.get(key)?.ip;
    let ip: number;
    if (fixed !== undefined) {
      if (preferredIp !== undefined && preferredIp !== fixed) {
        return err(
          vnetError('uuid-ip-mismatch', 'UUID already assigned to a different IP than the IP requested by the client', {
            uuid,
            ip: formatIpv4(fixed),
            requested: formatIpv4(preferredIp),
          }),
        );
      }
      ip = fixed;
    } else if (preferredIp !== undefined) {
      const p = formatIpv4(preferredIp);
      if (checkAssignable(this.config, preferredIp) !== undefined) return err(vnetError('preferred-ip-out-of-range', 'Preferred IP address out of range.', { ip: p }));
      const holder = this.holderOf(preferredIp, key, mac, now);
      if (holder !== undefined) return err(vnetError('preferred-ip-in-use', `Preferred IP address ${p} already used.`, { ip: p, holder }));
      ip = preferredIp;
    } else {
      ip = this.t.choose(key, mac, -1, now);
      if (ip < 0) return err(exhausted());
    }
    const u = uuid.toLowerCase();
    // A UUID that reconnects with another MAC: its old MAC no longer speaks for it.
    const prev = this.t.byKey.get(key)?.mac;
    if (prev !== undefined && prev !== mac && this.macToUuid.get(prev) === u) this.macToUuid.delete(prev);
    this.macToUuid.set(mac, u);
    const rec = this.t.take(key, mac, ip, now);
    rec.uuid = u;
    rec.mac = mac;
    rec.bound = true;
    rec.pinned = true;
    rec.reported = false;
    rec.expiresAt = Math.max(rec.expiresAt, now + this.leaseMs);
    this.changed();
    return ok(this.t.view(rec, now));
  }

  /** The vmnet NIC detached: its lease now runs out normally (its address stays its first choice). */
  unbindVmnet(uuid: string): void {
    const rec = this.t.byKey.get(uuidKey(uuid));
    if (rec === undefined || !rec.pinned) return;
    rec.pinned = false;
    this.changed();
  }

  // ---- DHCP ---------------------------------------------------------------------------------

  /** Picks the address to offer `mac` and holds it (RFC 2131 §4.3.1). */
  offer(mac: number, requestedIp: number, hostname: string | undefined): Result<Lease, PoolExhaustedError> {
    const key = this.keyForMac(mac);
    const now = this.clock.now();
    const ip = this.t.choose(key, mac, requestedIp, now);
    if (ip < 0) return err(exhausted());
    const rec = this.t.take(key, mac, ip, now);
    if (!this.t.active(rec, now)) {
      rec.bound = false;
      rec.expiresAt = now + this.config.offerHoldMs;
    } else if (!rec.bound) rec.expiresAt = now + this.config.offerHoldMs;
    rec.mac = mac;
    if (hostname !== undefined) rec.hostname = hostname;
    this.changed();
    return ok(this.t.view(rec, now));
  }

  /** The client chose another server (RFC 2131 §4.3.2, SELECTING): stop holding our offer. */
  cancelOffer(mac: number): void {
    const now = this.clock.now();
    const rec = this.t.byKey.get(this.keyForMac(mac));
    if (rec === undefined || rec.bound || rec.pinned || !this.t.active(rec, now)) return;
    rec.expiresAt = now;
    this.changed();
  }

  /** Why `mac` may not have `ip`, or undefined when it may (RFC 2131 §4.3.2). */
  refusal(mac: number, ip: number): Refusal | undefined {
    const key = this.keyForMac(mac);
    const now = this.clock.now();
    const s = formatIpv4(ip);
    const bad = checkAssignable(this.config, ip);
    if (bad?.kind === 'address-outside-subnet') return { reason: 'wrong-subnet', message: `${s} is not on this network` };
    const resv = this.t.reservationOf(key, mac);
    if (resv !== undefined) return resv === ip ? undefined : { reason: 'not-yours', message: `${s} is not your address (${formatIpv4(resv)} is reserved for you)` };
    if (bad !== undefined) return { reason: 'outside-pool', message: `${s} is not a DHCP pool address` };
    const mine = this.t.byKey.get(key);
    if (mine !== undefined && mine.ip !== ip) return { reason: 'not-yours', message: `${s} is not your address (yours is ${formatIpv4(mine.ip)})` };
    if (mine !== undefined) return undefined;
    const holder = this.holderOf(ip, key, mac, now);
    if (holder === 'declined') return { reason: 'quarantined', message: `${s} is not available now` };
    if (holder !== undefined) return { reason: 'in-use', message: `${s} is in use by another client` };
    // An expired lease of another NIC: still that NIC's while never-used addresses remain (stability).
    const old = this.t.byIp.get(ip);
    if (old !== undefined && !this.sameNic(old, key) && this.t.hasFresh()) return { reason: 'in-use', message: `${s} is kept for its previous client` };
    return undefined;
  }

  /** Grants `ip` to `mac` for `leaseSec` seconds (a DHCPACK), or says why not. */
  bind(mac: number, ip: number, leaseSec: number, hostname: string | undefined): Result<Lease, Refusal> {
    const why = this.refusal(mac, ip);
    if (why !== undefined) return err(why);
    const key = this.keyForMac(mac);
    const now = this.clock.now();
    const rec = this.t.take(key, mac, ip, now);
    rec.expiresAt = Math.max(now + leaseSec * 1000, rec.pinned ? rec.expiresAt : 0);
    rec.bound = true;
    rec.reported = false;
    rec.mac = mac;
    if (hostname !== undefined) rec.hostname = hostname;
    this.changed();
    return ok(this.t.view(rec, now));
  }

  /** DHCPRELEASE (RFC 2131 §4.3.4): ends `mac`'s lease on `ip` now. Undefined when it held no such lease. */
  release(mac: number, ip: number): Lease | undefined {
    const now = this.clock.now();
    const rec = this.t.byKey.get(this.keyForMac(mac));
    if (rec === undefined || rec.ip !== ip || !this.t.active(rec, now)) return undefined;
    rec.expiresAt = now;
    rec.pinned = false;
    rec.reported = true;
    this.changed();
    return this.t.view(rec, now);
  }

  /**
   * DHCPDECLINE (RFC 2131 §4.3.3): `mac` found `ip` in use on the link. The address is quarantined
   * and `mac` loses its claim on it. Only the holder can decline (a stray DECLINE cannot evict others).
   */
  decline(mac: number, ip: number): Lease | undefined {
    const now = this.clock.now();
    const rec = this.t.byKey.get(this.keyForMac(mac));
    if (rec === undefined || rec.ip !== ip) return undefined;
    const v = this.t.view(rec, now);
    this.t.evict(rec, now + this.config.declineQuarantineMs);
    this.changed();
    return v;
  }

  // ---- time ---------------------------------------------------------------------------------

  /** Earliest expiry of a bound lease not yet reported by {@link expire}; `Infinity` when none. */
  nextExpiry(): number {
    let at = Infinity;
    for (const r of this.t.byIp.values()) if (r.bound && !r.reported && !r.pinned && r.expiresAt < at) at = r.expiresAt;
    return at;
  }

  /** Bound leases that ran out at or before `now`, each reported once. Their addresses keep their owners' claim. */
  expire(now = this.clock.now()): Lease[] {
    const out: Lease[] = [];
    for (const r of this.t.byIp.values()) {
      if (r.bound && !r.reported && !r.pinned && r.expiresAt <= now) {
        r.reported = true;
        out.push(this.t.view(r, now));
      }
    }
    return out;
  }

  // ---- queries ------------------------------------------------------------------------------

  /** The lease (of any state) of the NIC sending as `mac`. */
  leaseOf(mac: number): Lease | undefined {
    const r = this.t.byKey.get(this.keyForMac(mac));
    return r === undefined ? undefined : this.t.view(r, this.clock.now());
  }

  /** The lease of a vmnet UUID (its MAC is useful to give a reconnecting NIC the same MAC). */
  leaseOfUuid(uuid: string): Lease | undefined {
    const r = this.t.byKey.get(uuidKey(uuid));
    return r === undefined ? undefined : this.t.view(r, this.clock.now());
  }

  /** The lease on `ip`, if any. */
  leaseAt(ip: number): Lease | undefined {
    const r = this.t.byIp.get(ip);
    return r === undefined ? undefined : this.t.view(r, this.clock.now());
  }

  /** Every known lease, lowest address first; filter on `state` for the control API. */
  leases(): Lease[] {
    const now = this.clock.now();
    return [...this.t.byIp.values()].sort((a, b) => a.ip - b.ip).map((r) => this.t.view(r, now));
  }

  // ---- persistence (pool-snapshot.ts) ------------------------------------------------------

  /** Everything worth persisting. A pinned lease is written as running one lease time from now. */
  snapshot(): PoolSnapshot {
    return snapshotTable(this.t, this.clock.now(), this.leaseMs);
  }

  /**
   * Loads a snapshot into an empty pool. Entries that no longer fit (outside the pool, reserved to
   * another NIC, a second entry for an address or a NIC) are skipped and listed.
   */
  restore(s: PoolSnapshot): RestoreReport {
    const report = restoreTable(this.t, s, this.clock.now());
    if (report.restored > 0 || s.spent.length > 0) this.changed();
    return report;
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Who keeps `ip` from `key` right now: another NIC's active lease or reservation, or a quarantine. */
  private holderOf(ip: number, key: ClientKey, mac: number, now: number): string | undefined {
    const resv = this.t.resvByIp.get(ip);
    if (resv !== undefined && resv !== key && resv !== macKey(mac)) return resv;
    const h = this.t.byIp.get(ip);
    if (h !== undefined && !this.sameNic(h, key) && this.t.active(h, now)) return h.key;
    if (h === undefined && (this.t.spent.get(ip) ?? -Infinity) > now) return 'declined';
    return undefined;
  }

  /** Whether record `r` belongs to the NIC known as `key` (by either of its keys). */
  private sameNic(r: LeaseRecord, key: ClientKey): boolean {
    if (r.key === key || macKey(r.mac) === key) return true;
    return key.startsWith('uuid:') && r.key.startsWith('mac:') && this.macToUuid.get(r.mac) === key.slice(5);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}

function inUse(ip: number, holder: string, how: 'leased' | 'reserved'): AddressInUseError {
  const s = formatIpv4(ip);
  return vnetError('address-in-use', `${s} is already ${how} to ${holder}`, { ip: s, holder, how });
}

function exhausted(): PoolExhaustedError {
  return vnetError('pool-exhausted', 'No IP addresses available.');
}
