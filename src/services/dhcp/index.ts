/**
 * The DHCP service in one call, for the facade: a {@link LeasePool} from the network's addressing,
 * its reservations, an optional {@link LeaseStore} (`--leases FILE`) and a {@link DhcpServer} on
 * the gateway's UDP layer. The pieces stay available for the vmnet handshake
 * (`server.bindVmnet`), the control API (`pool.leases()`, `pool.reserve()`) and stats.
 *
 * Order matters: the leases file is restored before the reservations are made, so a reservation
 * meets the same rule at start as `pool.reserve()` at run time (cli.md, fixed addresses): an
 * address whose lease another NIC still holds is refused (`address-in-use`) and that NIC keeps
 * it, and the service does not start. An expired remembered lease gives way to the reservation,
 * and a NIC's own lease never conflicts with its reservation. Entries the restore itself cannot
 * keep are listed in `restored.skipped` (log them).
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../errors.js';
import { wallClockMs } from '../../runtime/clock.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Ipv4Cidr } from '../../wire/address.js';
import type { AddressInUseError, LeaseStoreError, PoolConfigError, ReserveError } from './dhcp-errors.js';
import type { DomainNameError } from './domain-search.js';
import { LeasePool, type RestoreReport } from './lease-pool.js';
import { LeaseStore } from './lease-store.js';
import { DhcpServer, type DhcpLeaseEvent, type DhcpReleaseEvent, type DhcpUdp } from './server.js';
import type { DhcpServerError } from './dhcp-errors.js';
import type { ClientSelector } from './client-key.js';

export { LeasePool, type Lease, type Reservation, type PoolSnapshot, type RestoreReport } from './lease-pool.js';
export { LeaseStore, readLeasesFile, LEASES_FILE_VERSION, type LeasesFileV1 } from './lease-store.js';
export { DhcpServer, type DhcpLeaseEvent, type DhcpReleaseEvent, type DhcpStats, type DhcpUdp } from './server.js';
export { parseClientSelector, type ClientSelector, type ClientKey } from './client-key.js';
export type * from './dhcp-errors.js';

/** Options of {@link createDhcpService}. Addresses are u32 numbers, as in `ResolvedOptions`. */
export interface DhcpServiceOptions {
  readonly runtime: Pick<Runtime, 'clock' | 'scheduler'>;
  /** The gateway's UDP layer (`UdpLayer`). */
  readonly udp: DhcpUdp;
  /** The gateway's neighbour cache, taught every ACKed address. */
  readonly neighbours?: { learn(ip: number, mac: number): void };
  readonly subnet: Ipv4Cidr;
  readonly gatewayIp: number;
  /** -1 when disabled. */
  readonly hostIp: number;
  readonly lowestIp: number;
  readonly highestIp: number;
  readonly leaseTimeSec: number;
  readonly mtu: number;
  readonly domainName?: string;
  readonly searchDomains?: readonly string[];
  /** Fixed addresses (`--reserve`). */
  readonly reservations?: ReadonlyArray<{ readonly uuid?: string; readonly mac?: number; readonly ip: number }>;
  /** `--leases FILE`. */
  readonly leasesFile?: string;
  /** Wall clock override (tests). */
  readonly wallNow?: () => number;
  readonly onLease?: (e: DhcpLeaseEvent) => void;
  readonly onRelease?: (e: DhcpReleaseEvent) => void;
  /** Protocol-level problems (exhaustion, NAKs, declines) and failed background saves of the leases file. */
  readonly onError?: (e: DhcpServerError) => void;
}

/** A running DHCP service. */
export interface DhcpService {
  readonly pool: LeasePool;
  readonly server: DhcpServer;
  /** Present with `leasesFile`. */
  readonly store: LeaseStore | undefined;
  /** What the leases file brought back (empty without one). */
  readonly restored: RestoreReport;
  /** Stops serving and writes the leases file a last time. */
  close(): Promise<Result<void, LeaseStoreError>>;
}

/** Everything {@link createDhcpService} can refuse. */
export type DhcpServiceError = PoolConfigError | ReserveError | LeaseStoreError | DomainNameError;

/**
 * Builds the pool, starts the server on UDP 67, restores the leases file, then applies the
 * reservations; the leases file is followed (written) only once all of that succeeded.
 */
export function createDhcpService(o: DhcpServiceOptions): Result<DhcpService, DhcpServiceError> {
  const pool = LeasePool.create(
    { subnet: o.subnet, gatewayIp: o.gatewayIp, hostIp: o.hostIp, lowestIp: o.lowestIp, highestIp: o.highestIp, leaseTimeSec: o.leaseTimeSec },
    o.runtime.clock,
  );
  if (pool.isErr()) return err(pool.error);
  // The server first: its option checks fail before any file is touched, and it arms the expiry
  // timer for whatever the leases file brings back.
  const server = DhcpServer.create({
    udp: o.udp,
    pool: pool.value,
    scheduler: o.runtime.scheduler,
    serverIp: o.gatewayIp,
    mtu: o.mtu,
    ...(o.neighbours !== undefined ? { neighbours: o.neighbours } : {}),
    ...(o.domainName !== undefined ? { domainName: o.domainName } : {}),
    ...(o.searchDomains !== undefined ? { searchDomains: o.searchDomains } : {}),
    ...(o.wallNow !== undefined ? { wallNow: o.wallNow } : {}),
    ...(o.onLease !== undefined ? { onLease: o.onLease } : {}),
    ...(o.onRelease !== undefined ? { onRelease: o.onRelease } : {}),
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  if (server.isErr()) return err(server.error);
  // Restoring only reads the file and reserving only changes the pool: a refusal below leaves the
  // leases file and its directory as they were. The store follows the pool once both succeeded.
  const storeOptions = o.leasesFile === undefined ? undefined : { file: o.leasesFile, pool: pool.value, scheduler: o.runtime.scheduler, ...(o.wallNow !== undefined ? { wallNow: o.wallNow } : {}) };
  let restored: RestoreReport = { restored: 0, skipped: [] };
  let restoreChanged = false;
  if (storeOptions !== undefined) {
    const off = pool.value.onChange(() => (restoreChanged = true));
    const r = LeaseStore.restore(storeOptions);
    off();
    if (r.isErr()) {
      server.value.close();
      return err(r.error);
    }
    restored = r.value;
  }
  for (const r of o.reservations ?? []) {
    const sel: ClientSelector = r.uuid !== undefined ? { uuid: r.uuid } : { mac: r.mac ?? -1 };
    const done = pool.value.reserve(sel, r.ip);
    if (done.isErr()) {
      server.value.close();
      return err(done.error.kind === 'address-in-use' && o.leasesFile !== undefined ? remembered(done.error, r.ip, pool.value, o) : done.error);
    }
  }
  // What the restore changed (entries it could not keep) is written at the next turn; reservations
  // are not part of the file.
  const store = storeOptions === undefined ? undefined : LeaseStore.follow({ ...storeOptions, ...(o.onError !== undefined ? { onError: o.onError } : {}) }, restoreChanged);
  const s = server.value;
  return ok({
    pool: pool.value,
    server: s,
    store,
    restored,
    async close() {
      s.close();
      return store === undefined ? ok(undefined) : store.close();
    },
  });
}

/** A reservation refused for a lease the leases file brought back: says so, and until when. */
function remembered(e: AddressInUseError, ip: number, pool: LeasePool, o: DhcpServiceOptions): AddressInUseError {
  const lease = e.how === 'leased' ? pool.leaseAt(ip) : undefined;
  if (lease === undefined) return e;
  const until = new Date(Math.round((o.wallNow ?? wallClockMs)() + (lease.expiresAt - o.runtime.clock.now()))).toISOString();
  return vnetError('address-in-use', `${e.message} (a lease from the leases file ${o.leasesFile}, valid until ${until}; that NIC keeps it)`, {
    ip: e.ip,
    holder: e.holder,
    how: e.how,
  });
}
