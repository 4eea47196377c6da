/**
 * The gateway's services, assembled on its stack: DNS on UDP/TCP 53 and DHCP on UDP 67, with
 * the glue between them (a DHCP client's hostname becomes a DNS name) and their events routed to
 * the facade.
 * @module
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../errors.js';
import type { LeaseEvent, ReleaseEvent } from '../events.js';
import type { Logger } from '../logger.js';
import type { OptionsError, ResolvedOptions } from '../options.js';
import type { Runtime } from '../runtime/runtime.js';
import type { GatewayStack } from '../stack/gateway-stack.js';
import { ConnectionDuplex } from '../stack/tcp/duplex.js';
import { parseIpv4 } from '../wire/address.js';
import { createDhcpService, type DhcpService, type DhcpServiceError } from './dhcp/index.js';
import { createDnsService, type DnsQueryEvent, type DnsService, type DnsServiceError } from './dns/index.js';

/** Where the services report. */
export interface ServiceEvents {
  /** Whether anyone listens for `dns-query` (checked per query; no event is built otherwise). */
  wantsDnsQueries(): boolean;
  dnsQuery(e: DnsQueryEvent): void;
  lease(e: LeaseEvent): void;
  release(e: ReleaseEvent): void;
  error(e: VnetError): void;
}

/** DNS and DHCP of one network. */
export interface GatewayServices {
  readonly dns: DnsService;
  readonly dhcp: DhcpService;
  /** Stops both and writes the leases file a last time. */
  close(): Promise<void>;
}

/** Builds DNS and DHCP on `stack`; a bad option of either fails the whole network. */
export function startGatewayServices(stack: GatewayStack, o: ResolvedOptions, runtime: Runtime, logger: Logger, events: ServiceEvents): Result<GatewayServices, OptionsError> {
  const dnsR = createDnsService(runtime, {
    gatewayIp: o.gatewayIp,
    hostAliasIp: o.hostIp,
    ...(o.hostNames !== undefined ? { hostNames: o.hostNames } : {}),
    ...(o.gatewayNames !== undefined ? { gatewayNames: o.gatewayNames } : {}),
    ...(o.domain !== undefined ? { domain: o.domain } : {}),
    ...(o.dnsUpstreams !== undefined ? { upstreams: o.dnsUpstreams } : {}),
    ...(o.resolvConfPath !== undefined ? { resolvConfPath: o.resolvConfPath } : {}),
    hostResolver: o.hostResolver,
    logger,
    // Keep UDP answers inside one frame (DNS Flag Day's 1232, or less on a small MTU).
    server: { maxUdpResponse: Math.min(1232, o.mtu - 28) },
  });
  if (dnsR.isErr()) {
    const option = dnsErrorOption(dnsR.error, o);
    return err(vnetError('invalid-option', `${option}: ${dnsR.error.message}`, { option, cause: dnsR.error }));
  }
  const dns = dnsR.value;
  for (const w of dns.warnings) logger.warn(`dns: ${w}`);
  dns.server.wantsQueryEvents = () => events.wantsDnsQueries();
  dns.server.onQuery = (e) => events.dnsQuery(e);
  const detachUdp = dns.server.attachUdp(stack.udp, o.gatewayIp);
  // DNS over TCP (RFC 7766) on the gateway.
  const tcp53 = stack.tcp.listen(o.gatewayIp, 53, (c) => dns.server.handleStream(new ConnectionDuplex(c)));

  if (o.leasesFile !== undefined) {
    // Fail at start, not at the first lease, when the leases file can never be written.
    const dir = dirname(o.leasesFile);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
      detachUdp();
      tcp53.close();
      dns.close();
      return err(vnetError('invalid-option', `leasesFile: directory ${dir} does not exist`, { option: 'leasesFile' }));
    }
  }
  const dhcpR = createDhcpService({
    runtime,
    udp: stack.udp,
    neighbours: stack.neighbours,
    subnet: o.subnet,
    gatewayIp: o.gatewayIp,
    hostIp: o.hostIp,
    lowestIp: o.lowestIp,
    highestIp: o.highestIp,
    leaseTimeSec: o.leaseTimeSeconds,
    mtu: o.mtu,
    ...(o.domain !== undefined ? { domainName: o.domain } : {}),
    searchDomains: o.searchDomains,
    reservations: o.reservations,
    ...(o.leasesFile !== undefined ? { leasesFile: o.leasesFile } : {}),
    onLease: (e) => {
      // Guests are reachable by their DHCP hostname (option 12) through the gateway's DNS.
      if (e.hostname !== undefined) {
        const named = dns.records.setGuestName(e.hostname, parseIpv4(e.ip)!);
        if (named.isErr()) logger.debug(`dns: guest name ${e.hostname}: ${named.error.message}`);
      }
      events.lease({ ip: e.ip, mac: e.mac, ...(e.uuid ? { uuid: e.uuid } : {}), ...(e.hostname ? { hostname: e.hostname } : {}), expiresAt: e.expiresAt });
    },
    onRelease: (e) => {
      dns.records.removeGuestIp(parseIpv4(e.ip)!);
      events.release({ ip: e.ip, mac: e.mac });
    },
    onError: (e) => {
      logger.warn(`dhcp: ${e.message}`);
      events.error(e);
    },
  });
  if (dhcpR.isErr()) {
    detachUdp();
    tcp53.close();
    dns.close();
    const option = dhcpErrorOption(dhcpR.error, o);
    return err(vnetError('invalid-option', `${option}: ${dhcpR.error.message}`, { option, cause: dhcpR.error }));
  }
  const dhcp = dhcpR.value;
  for (const sk of dhcp.restored.skipped) logger.warn(`leases file: skipped ${JSON.stringify(sk)}`);
  return ok({
    dns,
    dhcp,
    close: async () => {
      tcp53.close();
      dns.close();
      const saved = await dhcp.close();
      if (saved.isErr()) logger.error(`leases file: ${saved.error.message}`);
    },
  });
}

/** The option a DNS service error comes from: the list holding the bad name, else the upstreams. */
function dnsErrorOption(e: DnsServiceError, o: ResolvedOptions): string {
  if (e.kind === 'dns-bad-upstream') return 'dnsUpstreams';
  const name = e.name;
  if (o.hostNames?.includes(name)) return 'hostNames';
  if (o.gatewayNames?.includes(name)) return 'gatewayNames';
  return 'domain';
}

/** The network option behind each field the DHCP pool checks. */
const POOL_FIELD_OPTION: Record<string, string> = {
  subnet: 'subnet',
  gateway: 'gatewayIp',
  'lowest-ip': 'lowestIp',
  'highest-ip': 'highestIp',
  'lease-time': 'leaseTimeSeconds',
  'max-lease-time': 'leaseTimeSeconds',
};

/** The option a DHCP service error comes from. */
function dhcpErrorOption(e: DhcpServiceError, o: ResolvedOptions): string {
  switch (e.kind) {
    case 'bad-domain-name':
      return e.name === o.domain ? 'domain' : 'searchDomains';
    case 'leases-corrupt':
    case 'leases-version':
    case 'leases-io':
      return 'leasesFile';
    case 'bad-pool-config':
      return POOL_FIELD_OPTION[e.field] ?? 'subnet';
    default:
      return 'reservations';
  }
}
