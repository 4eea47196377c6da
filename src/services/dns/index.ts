/**
 * The DNS service assembled: local records, the upstream forwarder on the host's resolvers (or
 * `--dns-upstream` values, which replace them; cli.md), optionally the host resolver for A and
 * AAAA (host-resolver mode), and the server for UDP/TCP 53 on the gateway. The facade builds one
 * with {@link createDnsService}, then calls `server.attachUdp` and hands TCP connections accepted
 * on gateway:53 to `server.handleStream`.
 *
 * Modes.
 * - *upstream* (default on Linux): every question that is not a local name is forwarded to the
 *   upstream servers.
 * - *host-resolver* (default on macOS and Windows; `hostResolver: true` anywhere): A and AAAA
 *   questions are answered by the host's getaddrinfo, so whatever the host resolves — VPN split
 *   DNS, /etc/hosts, scoped resolvers — the guest resolves; other types still go upstream.
 *
 * The hosts file. vpnkit answers A/AAAA from /etc/hosts before its resolver in both of its modes
 * (protocols.md §4.4). Here the hosts file is read only in host-resolver mode, by getaddrinfo
 * itself (so nsswitch's order and the platform's own hosts file apply); upstream mode never reads
 * it. Upstream mode means "these servers answer", and a host's hosts file is mostly loopback
 * names (`localhost`, `127.0.1.1 myhost`, `127.0.0.1 kubernetes.docker.internal`) that mean the
 * host's loopback but would take a guest to its own. Names a guest needs in upstream mode are
 * added as local records instead.
 *
 * Following resolv.conf. Without explicit upstreams the server list is re-read when
 * resolv.conf changes (`resolv-conf-watch.ts`), swapped when it differs, and the change logged;
 * explicit upstreams are never replaced.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { silentLogger, type Logger } from '../../logger.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { HostLookup } from './host-lookup.js';
import { HostResolver, hostResolverEnabled, type HostResolverOptions, type HostResolverSetting, type HostResolverStats } from './host-resolver.js';
import { nodeWatchedFiles } from './node-files.js';
import { NodeHostLookup } from './node-host-lookup.js';
import { NodeDnsTransport, RESOLV_CONF_PATH } from './node-transport.js';
import { LocalRecords, type DnsRecordError, type LocalRecordsOptions } from './records.js';
import { ResolvConfWatcher, type ResolvConfWatchOptions, type ResolvConfWatchStats, type WatchedFiles } from './resolv-conf-watch.js';
import { formatUpstream, parseResolvConf, parseUpstream, type DnsUpstreamSpecError, type UpstreamServer } from './resolv-conf.js';
import { DnsServer, type DnsServerOptions, type DnsServerStats } from './server.js';
import type { DnsUpstreamTransport } from './transport.js';
import { Upstream, type UpstreamOptions, type UpstreamStats } from './upstream.js';

export { DnsServer, DNS_SERVICE_PORT, type DnsAnswerSource, type DnsClient, type DnsEventAnswer, type DnsQueryEvent, type DnsServerOptions, type DnsServerStats } from './server.js';
export { LocalRecords, DEFAULT_GATEWAY_NAMES, DEFAULT_HOST_NAMES, type DnsRecordError, type LocalRecordView, type LocalRecordsOptions, type SrvRecordData, type UserRecord, type UserRecordType } from './records.js';
export { Upstream, type UpstreamAnswer, type UpstreamError, type UpstreamOptions, type UpstreamStats } from './upstream.js';
export { formatUpstream, parseResolvConf, parseUpstream, type ResolvConf, type UpstreamServer } from './resolv-conf.js';
export { NodeDnsTransport, readResolvConf, RESOLV_CONF_PATH } from './node-transport.js';
export type { DnsUpstreamTransport, UpstreamTcpExchange, UpstreamUdpSocket } from './transport.js';
export { HostResolver, hostResolverEnabled, type HostAnswer, type HostResolverOptions, type HostResolverSetting, type HostResolverStats } from './host-resolver.js';
export { classifyLookupError, isHostLookupName, type HostLookup, type HostLookupOutcome, type LookupFailure } from './host-lookup.js';
export { NodeHostLookup } from './node-host-lookup.js';
export { ResolvConfWatcher, type ResolvConfWatchOptions, type ResolvConfWatchStats, type WatchedFiles } from './resolv-conf-watch.js';
export { nodeWatchedFiles } from './node-files.js';
export { rcodeName } from './query-event.js';

/** How A/AAAA questions that are not local names are answered. */
export type DnsMode = 'host-resolver' | 'upstream';

/** Everything configurable about the DNS service. */
export interface DnsServiceOptions extends LocalRecordsOptions {
  /** `--dns-upstream IP[:PORT]` values; when non-empty they replace resolv.conf's servers, for good. */
  readonly upstreams?: readonly string[];
  /** Where the host's resolvers are read from (default /etc/resolv.conf). */
  readonly resolvConfPath?: string;
  /**
   * Host-resolver mode: `true`, `false`, or `auto` (the default) = on for macOS and Windows
   * hosts, off on Linux. See {@link hostResolverEnabled}.
   */
  readonly hostResolver?: HostResolverSetting;
  /** The platform `auto` decides for (default `process.platform`; tests pass one). */
  readonly platform?: string;
  /** The host's resolver (default: getaddrinfo through `dns.lookup`). */
  readonly hostLookup?: HostLookup;
  /** Host resolver limits and TTL. */
  readonly hostResolverOptions?: HostResolverOptions;
  /**
   * Follow resolv.conf changes when no explicit upstreams are given (default `true`); an object
   * sets the poll and debounce times, `false` reads the file once.
   */
  readonly watchResolvConf?: boolean | ResolvConfWatchOptions;
  /** File-system access for resolv.conf (default: `node:fs`). */
  readonly files?: WatchedFiles;
  /** Host networking for the forwarder (default: Node sockets). */
  readonly transport?: DnsUpstreamTransport;
  /** Forwarder timeouts and limits. */
  readonly forwarder?: Omit<UpstreamOptions, 'servers'>;
  /** Server limits and the query listener. */
  readonly server?: Omit<DnsServerOptions, 'runtime' | 'records' | 'upstream' | 'hostResolver'>;
  /** Where the mode line and upstream changes are logged (default: nowhere). */
  readonly logger?: Logger;
}

/** A snapshot of the whole service, for `/stats`. */
export interface DnsServiceStats {
  readonly mode: DnsMode;
  /** Upstream servers now, `IP:PORT`. */
  readonly upstreams: readonly string[];
  /** Where they come from: `explicit` (`--dns-upstream`) or the resolv.conf path. */
  readonly upstreamSource: string;
  readonly server: DnsServerStats;
  readonly upstream: UpstreamStats;
  /** Present in host-resolver mode. */
  readonly hostResolver: HostResolverStats | undefined;
  /** Present while resolv.conf is followed; `reloads` counts server-list swaps. */
  readonly resolvConf: (ResolvConfWatchStats & { readonly path: string; readonly reloads: number }) | undefined;
}

/** A running DNS service. */
export interface DnsService {
  readonly server: DnsServer;
  readonly records: LocalRecords;
  readonly upstream: Upstream;
  /** The mode in use (also in {@link stats} and the log line at creation). */
  readonly mode: DnsMode;
  /** The host resolver, in host-resolver mode. */
  readonly hostResolver: HostResolver | undefined;
  /**
   * Things worth a log line that did not stop the service: resolv.conf missing or without
   * servers (then only local names — and in host-resolver mode A/AAAA — resolve, the rest get
   * SERVFAIL), ignored lines.
   */
  readonly warnings: readonly string[];
  /**
   * Re-reads resolv.conf now (when no explicit upstreams were given) and swaps the server list if
   * it changed; returns the warnings of this read. A file that cannot be read keeps the old list.
   */
  reloadResolvConf(): string[];
  /** One line saying how names are answered, for logs and the ready line. */
  describe(): string;
  /** Counters of every part. */
  stats(): DnsServiceStats;
  /** Stops answering, fails queries in flight, stops following resolv.conf. */
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
  const logger = opts.logger ?? silentLogger;
  const files = opts.files ?? nodeWatchedFiles;
  const path = opts.resolvConfPath ?? RESOLV_CONF_PATH;
  const followsFile = explicit.length === 0;
  const read = (): { servers: UpstreamServer[] | undefined; warnings: string[] } => {
    const r = files.read(path);
    if (r.isErr()) return { servers: undefined, warnings: [r.error.message] };
    const conf = parseResolvConf(r.value);
    const warnings = conf.ignored.map((l) => `${path}: ignored ${JSON.stringify(l.trim())}`);
    if (conf.servers.length === 0) warnings.push(`${path} lists no nameserver`);
    return { servers: conf.servers, warnings };
  };
  const initial = followsFile ? read() : { servers: explicit, warnings: [] };
  const upstream = new Upstream(runtime, opts.transport ?? new NodeDnsTransport(), { ...opts.forwarder, servers: initial.servers ?? [] });
  const hostOn = hostResolverEnabled(opts.hostResolver, opts.platform ?? process.platform);
  const host = hostOn ? new HostResolver(runtime, opts.hostLookup ?? new NodeHostLookup(), opts.hostResolverOptions) : undefined;
  const mode: DnsMode = host !== undefined ? 'host-resolver' : 'upstream';
  const server = new DnsServer({ ...opts.server, runtime, records: records.value, upstream, ...(host !== undefined ? { hostResolver: host } : {}) });

  let reloads = 0;
  const reload = (): string[] => {
    if (!followsFile) return [];
    const next = read();
    for (const w of next.warnings) logger.warn(`dns: ${w}`);
    if (next.servers === undefined) return next.warnings;
    const before = describeUpstreams(upstream);
    upstream.setServers(next.servers);
    const after = describeUpstreams(upstream);
    if (before.join() !== after.join()) {
      reloads++;
      logger.info(`dns: ${path} changed: upstream servers ${list(before)} → ${list(after)}`);
    }
    return next.warnings;
  };
  const watchOpts = opts.watchResolvConf ?? true;
  const watcher = followsFile && watchOpts !== false ? new ResolvConfWatcher(runtime, files, path, reload, watchOpts === true ? {} : watchOpts) : undefined;

  const describe = (): string => {
    const source = followsFile ? `from ${path}${watcher !== undefined ? ', followed' : ''}` : 'explicit';
    const ups = `${list(describeUpstreams(upstream))} (${source})`;
    const why = opts.hostResolver === undefined || opts.hostResolver === 'auto' ? `auto on ${opts.platform ?? process.platform}` : 'configured';
    return host !== undefined
      ? `mode host-resolver (${why}): A/AAAA from the host resolver (getaddrinfo, TTL ${host.ttlSeconds} s), other types to ${ups}`
      : `mode upstream (${why}): forwarding to ${ups}`;
  };
  logger.info(`dns: ${describe()}`);

  return ok({
    server,
    records: records.value,
    upstream,
    mode,
    hostResolver: host,
    warnings: initial.warnings,
    reloadResolvConf: reload,
    describe,
    stats: () => ({
      mode,
      upstreams: describeUpstreams(upstream),
      upstreamSource: followsFile ? path : 'explicit',
      server: server.stats(),
      upstream: upstream.stats(),
      hostResolver: host?.stats(),
      resolvConf: watcher === undefined ? undefined : { path, reloads, ...watcher.stats() },
    }),
    close: () => {
      watcher?.close();
      server.close();
      host?.close();
      upstream.close();
    },
  });
}

/** The upstream list as text, for the ready line and `/stats`. */
export function describeUpstreams(u: Upstream): string[] {
  return u.servers.map(formatUpstream);
}

function list(servers: readonly string[]): string {
  return servers.length === 0 ? 'none' : servers.join(', ');
}
