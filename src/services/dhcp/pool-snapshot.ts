/**
 * The lease pool's persistent state as plain data (what lease-store.ts writes) and back. Times
 * are the pool's clock ms; the store converts them to and from wall-clock time.
 * @module
 */
import { formatIpv4 } from '../../wire/address.js';
import { keyOf, macKey, type ClientKey } from './client-key.js';
import type { LeaseTable } from './lease-table.js';
import { checkAssignable } from './pool-config.js';

/** Everything the pool remembers, for the lease store. Times are clock ms. */
export interface PoolSnapshot {
  readonly leases: ReadonlyArray<{ ip: number; mac: number; uuid?: string; hostname?: string; expiresAt: number; bound: boolean }>;
  /** Used addresses with no owner now: reusable from `reusableAt` (in the future = quarantined). */
  readonly spent: ReadonlyArray<{ ip: number; reusableAt: number }>;
}

/** What a restore kept and dropped. */
export interface RestoreReport {
  readonly restored: number;
  /** Entries that no longer fit the configuration (outside the pool, reserved to another NIC, duplicated). */
  readonly skipped: ReadonlyArray<{ ip: string; why: string }>;
}

/** The table's claims; a pinned lease is written as running `leaseMs` from `now` (nothing is attached after a restart). */
export function snapshotTable(t: LeaseTable, now: number, leaseMs: number): PoolSnapshot {
  const leases = [...t.byIp.values()].map((r) => ({
    ip: r.ip,
    mac: r.mac,
    ...(r.uuid !== undefined ? { uuid: r.uuid } : {}),
    ...(r.hostname !== undefined ? { hostname: r.hostname } : {}),
    expiresAt: r.pinned ? Math.max(r.expiresAt, now + leaseMs) : r.expiresAt,
    bound: r.bound,
  }));
  const spent = [...t.spent].map(([ip, reusableAt]) => ({ ip, reusableAt }));
  return { leases, spent };
}

/** Loads `s` into an empty table, skipping (and listing) what no longer fits. */
export function restoreTable(t: LeaseTable, s: PoolSnapshot, now: number): RestoreReport {
  const skipped: Array<{ ip: string; why: string }> = [];
  let restored = 0;
  for (const l of s.leases) {
    const key = keyOf(l.mac, l.uuid);
    const why = problem(t, l.ip, key, l.mac);
    if (why !== undefined || t.byKey.has(key)) {
      skipped.push({ ip: formatIpv4(l.ip), why: why ?? 'a second entry for the same client' });
      continue;
    }
    // An expiry that happened while we were stopped is not reported as an event now.
    t.insert({ key, ip: l.ip, mac: l.mac, uuid: l.uuid, hostname: l.hostname, expiresAt: l.expiresAt, bound: l.bound, reported: l.expiresAt <= now, pinned: false });
    restored++;
  }
  for (const e of s.spent) {
    const why = problem(t, e.ip, undefined, -1);
    if (why !== undefined) skipped.push({ ip: formatIpv4(e.ip), why });
    else t.spent.set(e.ip, e.reusableAt);
  }
  t.resetCursor();
  return { restored, skipped };
}

/** Why an entry for `ip` (a lease of `key`, or a spent address when `key` is undefined) cannot be restored. */
function problem(t: LeaseTable, ip: number, key: ClientKey | undefined, mac: number): string | undefined {
  const bad = checkAssignable(t.config, ip);
  if (bad !== undefined) return bad.message;
  if (t.byIp.has(ip) || t.spent.has(ip)) return 'a second entry for the same address';
  // A spent address that is now reserved is harmless (reuse skips reserved addresses); a lease is not.
  const resv = t.resvByIp.get(ip);
  if (resv !== undefined && key !== undefined && resv !== key && resv !== macKey(mac)) return `reserved for ${resv}`;
  return undefined;
}
