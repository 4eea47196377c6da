/**
 * The DHCP service in one call, for the facade: a {@link LeasePool} from the network's addressing,
 * its reservations, an optional {@link LeaseStore} (`--leases FILE`) and a {@link DhcpServer} on
 * the gateway's UDP layer. The pieces stay available for the vmnet handshake
 * (`server.bindVmnet`), the control API (`pool.leases()`, `pool.reserve()`) and stats.
 *
 * Order matters: reservations are made before the leases file is loaded, so the configuration
 * wins over remembered state — a remembered lease on an address now reserved for another NIC is
 * skipped and listed in `restored.skipped` (log it). At run time `pool.reserve()` follows the
 * stricter rule of cli.md: an address leased to another NIC is refused and that NIC keeps it.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import type { Runtime } from '../../runtime/runtime.js';
import type { Ipv4Cidr } from '../../wire/address.js';
import type { LeaseStoreError, PoolConfigError, ReserveError } from './dhcp-errors.js';
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

/** Builds the pool, applies reservations, loads the leases file, and starts the server on UDP 67. */
export function createDhcpService(o: DhcpServiceOptions): Result<DhcpService, DhcpServiceError> {
  const pool = LeasePool.create(
    { subnet: o.subnet, gatewayIp: o.gatewayIp, hostIp: o.hostIp, lowestIp: o.lowestIp, highestIp: o.highestIp, leaseTimeSec: o.leaseTimeSec },
    o.runtime.clock,
  );
  if (pool.isErr()) return err(pool.error);
  for (const r of o.reservations ?? []) {
    const sel: ClientSelector = r.uuid !== undefined ? { uuid: r.uuid } : { mac: r.mac ?? -1 };
    const done = pool.value.reserve(sel, r.ip);
    if (done.isErr()) return err(done.error);
  }
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
  let store: LeaseStore | undefined;
  let restored: RestoreReport = { restored: 0, skipped: [] };
  if (o.leasesFile !== undefined) {
    const opened = LeaseStore.open({
      file: o.leasesFile,
      pool: pool.value,
      scheduler: o.runtime.scheduler,
      ...(o.wallNow !== undefined ? { wallNow: o.wallNow } : {}),
      ...(o.onError !== undefined ? { onError: o.onError } : {}),
    });
    if (opened.isErr()) {
      server.value.close();
      return err(opened.error);
    }
    store = opened.value.store;
    restored = opened.value.report;
  }
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
