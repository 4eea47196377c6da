/**
 * Exposed guest ports: the registry behind `net.exposePort`, `--expose` and the control API's
 * `/services/forwarder/*`. It validates a spec (expose-spec.ts), binds the host end and hands it
 * to an {@link ExposeTcp} (TCP and Unix sockets) or an {@link ExposeUdp}.
 *
 * Semantics follow vpnkit's control API (protocols.md §3.2): an exposed port is keyed by its host
 * end; exposing the same host end to the same guest end again is a no-op success that returns the
 * existing handle (two concurrent calls share one bind); another guest end on a taken host end is
 * `port-in-use`; port 0 is resolved and keyed by the port it got. Unlike vpnkit, unexposing an
 * unknown key is an error (`not-exposed`), so a typo does not pass silently.
 *
 * The guest sees each client's own address and port as the source of its connection or
 * datagrams, a loopback client as the host-loopback alias (expose-source.ts, user-needs.md row 6);
 * `preserveClientAddress: false` (per port, or as this forwarder's default) shows the gateway.
 *
 * Built from narrow dependencies (the gateway's TCP endpoint and UDP layer, its addresses, the
 * runtime, a logger, the DHCP leases) so it runs on an in-process endpoint pair in unit tests.
 * @module
 */
import { errAsync, okAsync, ResultAsync } from 'neverthrow';
import { vnetError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { Runtime } from '../runtime/runtime.js';
import type { TcpEndpoint } from '../stack/tcp/endpoint.js';
import type { UdpLayer } from '../stack/udp.js';
import {
  describeHostEnd,
  portKey,
  resolveExpose,
  resolveUnexpose,
  toExposedPort,
  unixKey,
  type ExposedPort,
  type ExposeError,
  type ExposeSpec,
  type LeaseInfo,
  type ResolvedExpose,
  type UnexposeKey,
} from './expose-spec.js';
import { chooseSource, RecentTuples, UdpSources, type SourceContext } from './expose-source.js';
import { ExposeTcp, newExposeTcpCounters, type ExposeTcpCounters } from './expose-tcp.js';
import { ExposeUdp, newExposeUdpCounters, type ExposeUdpCounters } from './expose-udp.js';
import { addGuestCount, type GuestCounts } from './guest-counts.js';

/** What a {@link PortForwarder} is built from. */
export interface PortForwarderOptions {
  /** The gateway's TCP endpoint (connections into guests). */
  endpoint: Pick<TcpEndpoint, 'connect'>;
  /**
   * The gateway's UDP layer: datagrams into guests, replies on the (address, port) each client
   * flow binds; `fallback` (the outbound NAT) gets what a flow's binding catches for others.
   */
  udp: Pick<UdpLayer, 'bind' | 'send'> & Partial<Pick<UdpLayer, 'fallback'>>;
  /** The gateway's address: the source the guest sees when a client's own cannot be shown. */
  gatewayIp: number;
  /**
   * The host-loopback alias (`ResolvedOptions.hostIp`, e.g. 192.168.65.254; -1 = disabled, the
   * default): the source a loopback client (127.0.0.0/8, ::1) appears from.
   */
  hostLoopbackIp?: number;
  /**
   * Default of {@link ExposeSpec}'s `preserveClientAddress` (default true): the guest sees each
   * client's address and port; false: the gateway's address and an ephemeral port.
   */
  preserveClientAddress?: boolean;
  runtime: Runtime;
  logger?: Logger;
  /** The network's DHCP leases (`exposePort(port)` picks the only leased guest). */
  leases: () => LeaseInfo[];
  /** Whether an address is a guest address of the network (the gateway's `isGuestAddress`). */
  isGuestAddress: (ip: number) => boolean;
  /** Whether a guest's MAC is known (neighbour cache), for precise log lines. */
  neighbourKnown?: (ip: number) => boolean;
  /** How long a guest has to answer a SYN before the host client is reset, ms (default 3000). */
  connectTimeoutMs?: number;
  /** Idle time of a UDP client flow, ms (default 60 000). */
  udpIdleTimeoutMs?: number;
  /** UDP client flows per exposed port (default 1024). */
  udpMaxFlows?: number;
  /** How long UDP datagrams wait for a guest's ARP answer, ms (default 3000). */
  udpResolveWaitMs?: number;
  /** Runs the end-of-turn flush toward host sockets (default: the process's end-of-turn queue). */
  defer?: (fn: () => void) => void;
}

/** A live exposed port: what it is, plus `close()` (= unexpose). */
export interface ExposeHandle extends Readonly<ExposedPort> {
  /** Connections (TCP, Unix) or client flows (UDP) open now. */
  readonly connections: number;
  /** Stops listening and closes every live connection or flow. Idempotent. */
  close(): Promise<void>;
}

/** Counters of the port forwarder (`GET /stats` → `expose`). */
export interface PortForwarderStats {
  ports: Array<ExposedPort & { connections: number }>;
  tcp: ExposeTcpCounters & { open: number };
  udp: ExposeUdpCounters;
}

interface Entry {
  readonly key: string;
  readonly p: ResolvedExpose;
  readonly info: ExposedPort;
  readonly impl: ExposeTcp | ExposeUdp;
  readonly handle: ExposeHandle;
}

/** Default time a guest has to answer a SYN for an exposed port, ms (two SYN tries at RFC 6298's 1 s RTO). */
export const DEFAULT_EXPOSE_CONNECT_TIMEOUT_MS = 3000;

/** Exposes guest ports on the host. */
export class PortForwarder {
  private readonly entries = new Map<string, Entry>();
  private readonly starting = new Map<string, ResultAsync<ExposeHandle, ExposeError>>();
  private readonly tcpCounters = newExposeTcpCounters();
  private readonly udpCounters = newExposeUdpCounters();
  /** The (address, port) pairs UDP client flows hold on the gateway, across every UDP port. */
  private readonly udpSources: UdpSources;
  /** TCP tuples closed in the last minute, across every TCP port. */
  private readonly recentTuples: RecentTuples;
  private readonly sourceCtx: SourceContext;
  private readonly logger: Logger;
  private closed = false;

  constructor(private readonly o: PortForwarderOptions) {
    this.logger = o.logger ?? silentLogger;
    this.udpSources = new UdpSources(o.runtime.rng);
    this.recentTuples = new RecentTuples(o.runtime.clock);
    this.sourceCtx = { gatewayIp: o.gatewayIp, hostLoopbackIp: o.hostLoopbackIp ?? -1, isGuestAddress: o.isGuestAddress };
  }

  /**
   * Exposes a guest port: `expose(22)` (the only leased guest, host 127.0.0.1:22) or
   * `expose({ guest, guestPort, hostIp, hostPort, protocol, hostPath })`. Resolves once the host
   * end is bound.
   */
  expose(spec: ExposeSpec): ResultAsync<ExposeHandle, ExposeError> {
    if (this.closed) return errAsync(vnetError('network-closed', 'expose: the port forwarder is closed'));
    const r = resolveExpose(spec, {
      isGuestAddress: this.o.isGuestAddress,
      leases: this.o.leases,
      ...(this.o.preserveClientAddress !== undefined ? { preserveClientAddress: this.o.preserveClientAddress } : {}),
    });
    if (r.isErr()) return errAsync(r.error);
    const p = r.value;
    const key = p.protocol === 'unix' ? unixKey(p.hostPath) : p.hostPort === 0 ? undefined : portKey(p.protocol, p.hostIp, p.hostPort);
    if (key !== undefined) {
      const e = this.entries.get(key);
      if (e !== undefined) return this.sameOrConflict(e, p);
      // Someone is binding this host end right now: decide once they are done.
      const inFlight = this.starting.get(key);
      if (inFlight !== undefined) return ResultAsync.fromSafePromise(Promise.resolve(inFlight)).andThen(() => this.expose(spec));
    }
    const started = this.start(p);
    if (key !== undefined) {
      this.starting.set(key, started);
      void started.then(() => this.starting.delete(key));
    }
    return started;
  }

  /** Removes an exposed port by its host end; closes its live connections. */
  unexpose(k: UnexposeKey): ResultAsync<void, ExposeError> {
    const r = resolveUnexpose(k);
    if (r.isErr()) return errAsync(r.error);
    const key = r.value;
    const e = this.entries.get(key);
    if (e === undefined) {
      const inFlight = this.starting.get(key);
      if (inFlight !== undefined) return ResultAsync.fromSafePromise(Promise.resolve(inFlight)).andThen(() => this.unexpose(k));
      return errAsync(vnetError('not-exposed', `unexpose: nothing is exposed on ${key.replace(/^(\w+) (.*)$/, '$2/$1')}`));
    }
    return ResultAsync.fromSafePromise(this.remove(e));
  }

  /** Every exposed port, sorted by host end (like gvproxy's `/all`). */
  list(): ExposedPort[] {
    return [...this.entries.values()].map((e) => ({ ...e.info })).sort((a, b) => describeHostEnd(a).localeCompare(describeHostEnd(b)));
  }

  /** Counters and the exposed ports with their live connections. */
  stats(): PortForwarderStats {
    let open = 0;
    const ports = [...this.entries.values()].map((e) => {
      if (e.impl instanceof ExposeTcp) open += e.impl.connections;
      return { ...e.info, connections: e.impl.connections };
    });
    return { ports, tcp: { ...this.tcpCounters, open }, udp: { ...this.udpCounters } };
  }

  /**
   * Adds the live connections into each guest to `tcp` (TCP and Unix-socket ports, handshakes
   * included) and its client flows to `udp` (UDP ports). O(exposed ports); for stats.
   */
  flowsByGuest(tcp: GuestCounts, udp: GuestCounts): void {
    for (const e of this.entries.values()) addGuestCount(e.impl instanceof ExposeTcp ? tcp : udp, e.p.guestIp, e.impl.connections);
  }

  /** Unexposes everything; later `expose` calls fail with `closed`. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.starting.values()].map((s) => Promise.resolve(s)));
    await Promise.all([...this.entries.values()].map((e) => this.remove(e)));
  }

  private sameOrConflict(e: Entry, p: ResolvedExpose): ResultAsync<ExposeHandle, ExposeError> {
    const sameGuest = e.p.guestIp === p.guestIp && e.p.guestPort === p.guestPort;
    // A Unix socket's clients have no address, so the setting cannot differ in effect there.
    const sameSource = p.protocol === 'unix' || e.p.preserveClientAddress === p.preserveClientAddress;
    if (sameGuest && sameSource) return okAsync(e.handle);
    const at: { hostIp?: string; hostPort?: number; hostPath?: string } = p.protocol === 'unix' ? { hostPath: p.hostPath } : { hostIp: p.hostIp, hostPort: p.hostPort };
    const how = sameGuest ? ` with preserveClientAddress ${String(e.p.preserveClientAddress)} (unexpose it first to change that)` : '';
    return errAsync(vnetError('port-in-use', `${describeHostEnd(e.info)} is already exposed to ${e.info.guestIp}:${e.info.guestPort}${how}`, at));
  }

  private start(p: ResolvedExpose): ResultAsync<ExposeHandle, ExposeError> {
    const impl =
      p.protocol === 'udp'
        ? new ExposeUdp(p, {
            udp: this.o.udp,
            runtime: this.o.runtime,
            logger: this.logger,
            counters: this.udpCounters,
            sources: this.udpSources,
            source: (client) => chooseSource(client, p.preserveClientAddress, this.sourceCtx),
            ...(this.o.udpIdleTimeoutMs !== undefined ? { idleTimeoutMs: this.o.udpIdleTimeoutMs } : {}),
            ...(this.o.udpMaxFlows !== undefined ? { maxFlows: this.o.udpMaxFlows } : {}),
            ...(this.o.udpResolveWaitMs !== undefined ? { resolveWaitMs: this.o.udpResolveWaitMs } : {}),
          })
        : new ExposeTcp(p, {
            endpoint: this.o.endpoint,
            runtime: this.o.runtime,
            logger: this.logger,
            counters: this.tcpCounters,
            source: (client) => chooseSource({ address: client.remoteAddress, port: client.remotePort }, p.preserveClientAddress, this.sourceCtx),
            recent: this.recentTuples,
            connectTimeoutMs: this.o.connectTimeoutMs ?? DEFAULT_EXPOSE_CONNECT_TIMEOUT_MS,
            ...(this.o.neighbourKnown !== undefined ? { neighbourKnown: this.o.neighbourKnown } : {}),
            ...(this.o.defer !== undefined ? { defer: this.o.defer } : {}),
          });
    return impl.start().andThen((port) => {
      if (this.closed) {
        void impl.close();
        return errAsync(vnetError('network-closed', `expose ${describeHostEnd(p)}: the port forwarder closed meanwhile`));
      }
      const info = toExposedPort(p, port);
      const key = p.protocol === 'unix' ? unixKey(p.hostPath) : portKey(p.protocol, p.hostIp, port);
      const entry: Entry = { key, p, info, impl, handle: this.handleFor(key, info, impl) };
      this.entries.set(key, entry);
      this.logger.info(`exposed ${describeHostEnd(info)} -> guest ${info.guestIp}:${info.guestPort}`);
      return okAsync(entry.handle);
    });
  }

  private handleFor(key: string, info: ExposedPort, impl: ExposeTcp | ExposeUdp): ExposeHandle {
    return Object.freeze({
      ...info,
      get connections() {
        return impl.connections;
      },
      close: async (): Promise<void> => {
        const e = this.entries.get(key);
        if (e !== undefined && e.impl === impl) await this.remove(e);
      },
    });
  }

  private async remove(e: Entry): Promise<void> {
    if (this.entries.get(e.key) !== e) return;
    this.entries.delete(e.key);
    await e.impl.close();
    this.logger.info(`unexposed ${describeHostEnd(e.info)}`);
  }
}
