/**
 * The DHCP pool's settings (cli.md "Defaults of a VirtualNetwork"), their defaults and
 * validation, and the checks every address handed to a NIC must pass.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import { broadcastOf, cidrContains, formatCidr, formatIpv4, type Ipv4Cidr } from '../../wire/address.js';
import type { NotAssignableError, OutsidePoolError, OutsideSubnetError, PoolConfigError } from './dhcp-errors.js';

/** Default lease time: an hour. Guests renew at T1 (half of it); addresses stay stable anyway (see lease-pool.ts). */
export const DEFAULT_LEASE_TIME_SEC = 3600;
/** Longest lease a client may ask for with option 51 (RFC 2132 §9.2): a day. */
export const DEFAULT_MAX_LEASE_TIME_SEC = 86_400;
/**
 * How long an offered address is held for the client that was offered it (RFC 2131 §4.3.1
 * "SHOULD reserve the offered address"); clients retransmit within seconds (RFC 2131 §4.1).
 */
export const DEFAULT_OFFER_HOLD_MS = 60_000;
/**
 * How long a declined address stays out of the pool (RFC 2131 §4.3.3 "MUST mark the network
 * address as not available"; the RFC sets no time, ISC dhcpd abandons it for a lease time).
 */
export const DEFAULT_DECLINE_QUARANTINE_MS = 600_000;

/** Settings of a {@link LeasePool}. */
export interface LeasePoolOptions {
  /** The network's prefix, e.g. 192.168.65.0/24. */
  readonly subnet: Ipv4Cidr;
  /** The gateway's address (never handed out). */
  readonly gatewayIp: number;
  /** The host-loopback alias (never handed out); -1 or absent when disabled. */
  readonly hostIp?: number;
  /** First pool address; default network + 2 (192.168.65.2). */
  readonly lowestIp?: number;
  /** Last pool address; default broadcast − 2 (192.168.65.253). */
  readonly highestIp?: number;
  /** Lease time granted when the client asks for none, seconds. */
  readonly leaseTimeSec?: number;
  /** Longest lease granted, seconds. */
  readonly maxLeaseTimeSec?: number;
  /** See {@link DEFAULT_OFFER_HOLD_MS}. */
  readonly offerHoldMs?: number;
  /** See {@link DEFAULT_DECLINE_QUARANTINE_MS}. */
  readonly declineQuarantineMs?: number;
}

/** {@link LeasePoolOptions} with every default applied and checked. */
export interface ResolvedPoolOptions {
  readonly subnet: Ipv4Cidr;
  readonly gatewayIp: number;
  readonly hostIp: number;
  readonly network: number;
  readonly broadcast: number;
  readonly lowestIp: number;
  readonly highestIp: number;
  readonly leaseTimeSec: number;
  readonly maxLeaseTimeSec: number;
  readonly offerHoldMs: number;
  readonly declineQuarantineMs: number;
}

/** Applies defaults and checks the pool settings. */
export function resolvePoolOptions(o: LeasePoolOptions): Result<ResolvedPoolOptions, PoolConfigError> {
  const bad = (field: string, why: string): Result<ResolvedPoolOptions, PoolConfigError> =>
    err(vnetError('bad-pool-config', `DHCP ${field}: ${why}`, { field }));
  const network = o.subnet.network;
  const broadcast = broadcastOf(o.subnet);
  // A /31 or /32 has no room for a gateway and a guest (RFC 3021 point-to-point links aside).
  if (o.subnet.prefix > 30) return bad('subnet', `${formatCidr(o.subnet)} is too small for a gateway and guests`);
  if (!cidrContains(o.subnet, o.gatewayIp)) return bad('gateway', `${formatIpv4(o.gatewayIp)} is outside ${formatCidr(o.subnet)}`);
  const lowestIp = o.lowestIp ?? network + 2;
  const highestIp = o.highestIp ?? broadcast - 2;
  const inside = (ip: number): boolean => cidrContains(o.subnet, ip) && ip !== network && ip !== broadcast;
  if (!inside(lowestIp)) return bad('lowest-ip', `${formatIpv4(lowestIp)} is not a host address of ${formatCidr(o.subnet)}`);
  if (!inside(highestIp)) return bad('highest-ip', `${formatIpv4(highestIp)} is not a host address of ${formatCidr(o.subnet)}`);
  if (lowestIp > highestIp) return bad('lowest-ip', `${formatIpv4(lowestIp)} is above the highest address ${formatIpv4(highestIp)}`);
  const leaseTimeSec = o.leaseTimeSec ?? DEFAULT_LEASE_TIME_SEC;
  const maxLeaseTimeSec = o.maxLeaseTimeSec ?? Math.max(DEFAULT_MAX_LEASE_TIME_SEC, leaseTimeSec);
  // Option 51 is a u32 of seconds; 0xffffffff means "infinite" (RFC 2131 §3.3), which we never grant.
  const seconds = (v: number): boolean => Number.isInteger(v) && v >= 1 && v < 0xffffffff;
  if (!seconds(leaseTimeSec)) return bad('lease-time', `${leaseTimeSec} is not a whole number of seconds in [1, 2^32-2]`);
  if (!seconds(maxLeaseTimeSec) || maxLeaseTimeSec < leaseTimeSec) return bad('max-lease-time', `${maxLeaseTimeSec} must be ≥ the lease time ${leaseTimeSec}`);
  const offerHoldMs = o.offerHoldMs ?? DEFAULT_OFFER_HOLD_MS;
  const declineQuarantineMs = o.declineQuarantineMs ?? DEFAULT_DECLINE_QUARANTINE_MS;
  if (!(offerHoldMs >= 0) || !(declineQuarantineMs >= 0)) return bad('timers', 'offer hold and decline quarantine must be ≥ 0 ms');
  return ok({
    subnet: o.subnet,
    gatewayIp: o.gatewayIp,
    hostIp: o.hostIp ?? -1,
    network,
    broadcast,
    lowestIp,
    highestIp,
    leaseTimeSec,
    maxLeaseTimeSec,
    offerHoldMs,
    declineQuarantineMs,
  });
}

/**
 * Why `ip` can never be a guest's address, or undefined when it can: outside the subnet, one of
 * the four special addresses, or outside the pool bounds (cli.md "fixed addresses").
 */
export function checkAssignable(c: ResolvedPoolOptions, ip: number): OutsideSubnetError | NotAssignableError | OutsidePoolError | undefined {
  const s = formatIpv4(ip);
  if (!cidrContains(c.subnet, ip)) {
    return vnetError('address-outside-subnet', `${s} is outside the subnet ${formatCidr(c.subnet)}`, { ip: s, subnet: formatCidr(c.subnet) });
  }
  const role: NotAssignableError['role'] | undefined =
    ip === c.network ? 'network' : ip === c.broadcast ? 'broadcast' : ip === c.gatewayIp ? 'gateway' : ip === c.hostIp ? 'host-alias' : undefined;
  if (role !== undefined) {
    const what = { network: 'the network address', broadcast: 'the broadcast address', gateway: 'the gateway address', 'host-alias': 'the host-loopback alias' }[role];
    return vnetError('address-not-assignable', `${s} is ${what}`, { ip: s, role });
  }
  if (ip < c.lowestIp || ip > c.highestIp) {
    const lowest = formatIpv4(c.lowestIp);
    const highest = formatIpv4(c.highestIp);
    return vnetError('address-outside-pool', `${s} is outside the DHCP pool ${lowest}–${highest}`, { ip: s, lowest, highest });
  }
  return undefined;
}
