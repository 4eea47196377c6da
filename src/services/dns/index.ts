/**
 * The DNS service assembled: local records, the upstream forwarder on the host's resolvers (or
 * `--dns-upstream` values, which replace them; cli.md), and the server for UDP/TCP 53 on the
 * gateway. The facade builds one with {@link createDnsService}, then calls `server.attachUdp` and
 * hands TCP connections accepted on gateway:53 to `server.handleStream`.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import type { Runtime } from '../../runtime/runtime.js';
import { NodeDnsTransport, readResolvConf, RESOLV_CONF_PATH } from './node-transport.js';
import { LocalRecords, type DnsRecordError, type LocalRecordsOptions } from './records.js';
import { formatUpstream, parseUpstream, type DnsUpstreamSpecError, type UpstreamServer } from './resolv-conf.js';
import { DnsServer, type DnsServerOptions } from './server.js';
import type { DnsUpstreamTransport } from './transport.js';
import { Upstream, type UpstreamOptions } from './upstream.js';

export { DnsServer, DNS_SERVICE_PORT, type DnsClient, type DnsQueryEvent, type DnsServerOptions, type DnsServerStats } from './server.js';
export { LocalRecords, DEFAULT_GATEWAY_NAMES, DEFAULT_HOST_NAMES, type DnsRecordError, type LocalRecordView, type LocalRecordsOptions, type SrvRecordData, type UserRecord, type UserRecordType } from './records.js';
export { Upstream, type UpstreamAnswer, type UpstreamError, type UpstreamOptions, type UpstreamStats } from './upstream.js';
export { formatUpstream, parseResolvConf, parseUpstream, type ResolvConf, type UpstreamServer } from './resolv-conf.js';
export { NodeDnsTransport, readResolvConf, RESOLV_CONF_PATH } from './node-transport.js';
export type { DnsUpstreamTransport, UpstreamTcpExchange, UpstreamUdpSocket } from './transport.js';

/** Everything configurable about the DNS service. */
export interface DnsServiceOptions extends LocalRecordsOptions {
  /** `--dns-upstream IP[:PORT]` values; when non-empty they replace resolv.conf's servers. */
  readonly upstreams?: readonly string[];
  /** Where the host's resolvers are read from (default /etc/resolv.conf). */
  readonly resolvConfPath?: string;
  /** Host networking for the forwarder (default: Node sockets). */
  readonly transport?: DnsUpstreamTransport;
  /** Forwarder timeouts and limits. */
  readonly forwarder?: Omit<UpstreamOptions, 'servers'>;
  /** Server limits and the query listener. */
  readonly server?: Omit<DnsServerOptions, 'runtime' | 'records' | 'upstream'>;
}

/** A running DNS service. */
export interface DnsService {
  readonly server: DnsServer;
  readonly records: LocalRecords;
  readonly upstream: Upstream;
  /**
   * Things worth a log line that did not stop the service: resolv.conf missing or without
   * servers (then only local names resolve and the rest get SERVFAIL), ignored lines.
   */
  readonly warnings: readonly string[];
  /** Re-reads resolv.conf (when no explicit upstreams were given); returns the new warnings. */
  reloadResolvConf(): string[];
  /** Stops answering and fails queries in flight. */
  close(): void;
}

/** Why the service could not be built. */
export type DnsServiceError = DnsRecordError | DnsUpstreamSpecError;

/**
 * Builds the DNS service. A missing or empty resolv.conf is a warning, not an error: hosts without
 * one (Windows) still get the built-in names, as vpnkit installs an empty server list then
 * (protocols.md §4.4).
 */
export function createDnsService(runtime: Runtime, opts: DnsServiceOptions): Result<DnsService, DnsServiceError> {
  const records = LocalRecords.create(opts);
  if (records.isErr()) return err(records.error);
  const explicit: UpstreamServer[] = [];
  for (const spec of opts.upstreams ?? []) {
    const s = parseUpstream(spec);
    if (s.isErr()) return err(s.error);
    explicit.push(s.value);
  }
  const path = opts.resolvConfPath ?? RESOLV_CONF_PATH;
  const hostServers = (): { servers: UpstreamServer[]; warnings: string[] } => {
    const r = readResolvConf(path);
    if (r.isErr()) return { servers: [], warnings: [r.error.message] };
    const warnings = r.value.ignored.map((l) => `${path}: ignored ${JSON.stringify(l.trim())}`);
    if (r.value.servers.length === 0) warnings.push(`${path} lists no nameserver`);
    return { servers: r.value.servers, warnings };
  };
  const initial = explicit.length > 0 ? { servers: explicit, warnings: [] } : hostServers();
  const upstream = new Upstream(runtime, opts.transport ?? new NodeDnsTransport(), { ...opts.forwarder, servers: initial.servers });
  const server = new DnsServer({ ...opts.server, runtime, records: records.value, upstream });
  return ok({
    server,
    records: records.value,
    upstream,
    warnings: initial.warnings,
    reloadResolvConf: () => {
      if (explicit.length > 0) return [];
      const next = hostServers();
      upstream.setServers(next.servers);
      return next.warnings;
    },
    close: () => {
      server.close();
      upstream.close();
    },
  });
}

/** The upstream list as text, for the ready line and `/stats`. */
export function describeUpstreams(u: Upstream): string[] {
  return u.servers.map(formatUpstream);
}
