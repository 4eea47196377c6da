/**
 * Options of a VirtualNetwork and their resolution: strings from users (CLI, JSON, API) become
 * numbers, defaults are filled in (cli.md "Defaults of a VirtualNetwork"), and every bad value is
 * reported as one typed error naming the option.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from './errors.js';
import { broadcastOf, cidrContains, formatIpv4, parseCidr, parseIpv4, parseMac, type Ipv4Cidr } from './wire/address.js';
import type { Runtime } from './runtime/runtime.js';
import type { Logger } from './logger.js';
import { parseUpstream } from './services/dns/resolv-conf.js';

/** A fixed address for a NIC, by MAC or by vmnet UUID. */
export interface Reservation {
  mac?: string;
  uuid?: string;
  ip: string;
}

/** Options of {@link VirtualNetwork.create}; every field is optional. */
export interface NetworkOptions {
  /** IPv4 subnet of the bridge. Default `192.168.65.0/24`. */
  subnet?: string;
  /** The gateway's address (ARP, ping, DHCP, DNS). Default: first host of the subnet (`.1`). */
  gatewayIp?: string;
  /** Host-loopback alias: guest traffic to it reaches host 127.0.0.1. Default: `.254`; `false` disables it. */
  hostIp?: string | false;
  /** `false` turns the host-loopback alias off (same as `hostIp: false`): guests cannot reach host 127.0.0.1. */
  hostLoopback?: boolean;
  /** DHCP pool bounds. Default `.2` to `.253`. */
  lowestIp?: string;
  highestIp?: string;
  /** The gateway's MAC. Default `f6:16:36:bc:f9:c6` (vpnkit's, locally administered). */
  gatewayMac?: string;
  /** Link MTU advertised by DHCP (option 26) and vmnet. Default 1500; up to 65520. */
  mtu?: number;
  /** DHCP lease time in seconds. Default 3600. */
  leaseTimeSeconds?: number;
  /** Upstream DNS servers (`IP[:PORT]`, `[IPv6]:PORT`); replaces the host's `/etc/resolv.conf` list. */
  dnsUpstreams?: string[];
  /** Where the host's resolvers are read from when no `dnsUpstreams` are given. Default `/etc/resolv.conf`. */
  resolvConfPath?: string;
  /** Names answered with the host-loopback alias. Default `host.internal`, `host.docker.internal`. */
  hostNames?: string[];
  /** Names answered with the gateway address. Default `gateway.internal`. */
  gatewayNames?: string[];
  /**
   * Answer A/AAAA from the host's own resolver (getaddrinfo: /etc/hosts, nsswitch, split/VPN DNS)
   * instead of the upstreams. `'auto'` (default): on for macOS and Windows, off on Linux.
   */
  hostResolver?: 'auto' | boolean;
  /** Domain name handed out by DHCP (option 15). */
  domain?: string;
  /** Search domains handed out by DHCP (option 119). */
  searchDomains?: string[];
  /** Fixed addresses. */
  reservations?: Reservation[];
  /** Persist leases to this JSON file (atomic writes). */
  leasesFile?: string;
  /** Egress policy for guest-initiated traffic: CIDRs. With any `allow`, everything else is denied. */
  allow?: string[];
  deny?: string[];
  /** Capture every frame to this pcap file. */
  pcap?: string;
  /**
   * MTU announced (ICMP fragmentation-needed) for guest UDP datagrams with DF set that leave the
   * host toward a non-loopback address. Default: no clamp (the host kernel fragments as needed);
   * vpnkit uses 1452.
   */
  egressMtu?: number;
  /**
   * Forward guests' pings to other addresses through the host's unprivileged ICMP sockets (never
   * forged). `'auto'` (default): on where the platform allows it, else dropped and counted.
   */
  icmpForwarding?: boolean | 'auto';
  /** Close established TCP flows idle this long, ms (guest keepalives count). Default 0: never. */
  tcpIdleTimeoutMs?: number;
  /**
   * Exposed ports: the guest sees each client's own address and port as the source (a loopback
   * client as the host-loopback alias). Default true; `false` shows the gateway instead.
   */
  preserveClientAddress?: boolean;
  /** Most guest TCP flows open at once (pending connects included); over it new SYNs get RST. Default: unlimited. */
  maxTcpFlows?: number;
  /** Most guest UDP flows at once; at the cap the least recently used is closed. Default 4096. */
  maxUdpFlows?: number;
  /** New guest TCP flows per second per guest address (a token bucket); over it SYNs are dropped. Default: unlimited. */
  newFlowsPerSecond?: number;
  /** Verify IPv4/ICMP/UDP/TCP checksums of guest frames. Default true. */
  verifyChecksums?: boolean;
  /** Clock, timers and randomness (tests inject manual ones). */
  runtime?: Runtime;
  /** Where log lines go. Default: nowhere. */
  logger?: Logger;
}

/** A {@link Reservation} with parsed fields. */
export interface ResolvedReservation {
  mac?: number;
  uuid?: string;
  ip: number;
}

/** Options after validation, as numbers. */
export interface ResolvedOptions {
  subnet: Ipv4Cidr;
  gatewayIp: number;
  /** -1 when disabled. */
  hostIp: number;
  lowestIp: number;
  highestIp: number;
  gatewayMac: number;
  mtu: number;
  leaseTimeSeconds: number;
  dnsUpstreams: string[] | undefined;
  resolvConfPath: string | undefined;
  hostNames: string[] | undefined;
  gatewayNames: string[] | undefined;
  hostResolver: 'auto' | boolean;
  domain: string | undefined;
  searchDomains: string[];
  reservations: ResolvedReservation[];
  leasesFile: string | undefined;
  allow: Ipv4Cidr[];
  deny: Ipv4Cidr[];
  pcap: string | undefined;
  verifyChecksums: boolean;
  egressMtu: number | undefined;
  icmpForwarding: boolean | 'auto';
  tcpIdleTimeoutMs: number;
  preserveClientAddress: boolean;
  maxTcpFlows: number | undefined;
  maxUdpFlows: number | undefined;
  newFlowsPerSecond: number | undefined;
}

/** A bad option. */
export type OptionsError = VnetError<'invalid-option'> & { option: string };

/** Largest MTU: 65535 minus the Ethernet header and a little slack, like passt and QEMU (65520). */
export const MAX_MTU = 65520;
/** Smallest MTU IPv4 allows (RFC 791: every host must accept 576-byte datagrams; 68 minimum). */
export const MIN_MTU = 576;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bad(option: string, message: string): Result<never, OptionsError> {
  return err(vnetError('invalid-option', `${option}: ${message}`, { option }));
}

/** Validates options and fills in defaults. */
export function resolveOptions(o: NetworkOptions = {}): Result<ResolvedOptions, OptionsError> {
  const subnet = parseCidr(o.subnet ?? '192.168.65.0/24');
  if (subnet === undefined) return bad('subnet', `not an IPv4 CIDR: ${o.subnet}`);
  if (subnet.prefix > 29) return bad('subnet', `/${subnet.prefix} is too small for a gateway, an alias and guests`);
  const bcast = broadcastOf(subnet);
  const inSubnet = (name: string, s: string | undefined, dflt: number): Result<number, OptionsError> => {
    if (s === undefined) return ok(dflt);
    const ip = parseIpv4(s);
    if (ip === undefined) return bad(name, `not an IPv4 address: ${s}`);
    if (!cidrContains(subnet, ip) || ip === subnet.network || ip === bcast)
      return bad(name, `${s} is not a host address of ${formatIpv4(subnet.network)}/${subnet.prefix}`);
    return ok(ip);
  };
  const gw = inSubnet('gatewayIp', o.gatewayIp, subnet.network + 1);
  if (gw.isErr()) return err(gw.error);
  let hostIp = -1;
  if (o.hostLoopback === false && typeof o.hostIp === 'string') return bad('hostLoopback', 'cannot be false while hostIp names an address');
  if (o.hostIp !== false && o.hostLoopback !== false) {
    const h = inSubnet('hostIp', o.hostIp, bcast - 1);
    if (h.isErr()) return err(h.error);
    if (h.value === gw.value)
      return o.hostIp === undefined
        ? bad('gatewayIp', `${formatIpv4(gw.value)} is the default host-loopback alias; choose another gateway address or another alias, or turn the alias off`)
        : bad('hostIp', 'the host-loopback alias cannot equal the gateway address');
    hostIp = h.value;
  }
  const lo = inSubnet('lowestIp', o.lowestIp, subnet.network + 2);
  if (lo.isErr()) return err(lo.error);
  const hi = inSubnet('highestIp', o.highestIp, bcast - 2);
  if (hi.isErr()) return err(hi.error);
  if (lo.value > hi.value) return bad('lowestIp', `${o.lowestIp} is above highestIp ${formatIpv4(hi.value)}`);
  const gatewayMac = parseMac(o.gatewayMac ?? 'f6:16:36:bc:f9:c6');
  if (gatewayMac === undefined) return bad('gatewayMac', `not a MAC address: ${o.gatewayMac}`);
  if (Math.floor(gatewayMac / 0x10000000000) % 2 === 1) return bad('gatewayMac', 'must be a unicast MAC');
  const mtu = o.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) return bad('mtu', `must be an integer from ${MIN_MTU} to ${MAX_MTU}, got ${o.mtu}`);
  if (o.egressMtu !== undefined && (!Number.isInteger(o.egressMtu) || o.egressMtu < 68 || o.egressMtu > 65535))
    return bad('egressMtu', `must be an integer from 68 to 65535, got ${o.egressMtu}`);
  if (o.hostResolver !== undefined && o.hostResolver !== 'auto' && typeof o.hostResolver !== 'boolean')
    return bad('hostResolver', `expected 'auto', true or false, got ${String(o.hostResolver)}`);
  if (o.icmpForwarding !== undefined && o.icmpForwarding !== 'auto' && typeof o.icmpForwarding !== 'boolean')
    return bad('icmpForwarding', `expected 'auto', true or false, got ${String(o.icmpForwarding)}`);
  if (o.tcpIdleTimeoutMs !== undefined && (!Number.isFinite(o.tcpIdleTimeoutMs) || o.tcpIdleTimeoutMs < 0))
    return bad('tcpIdleTimeoutMs', `must be a non-negative number of ms, got ${o.tcpIdleTimeoutMs}`);
  if (o.preserveClientAddress !== undefined && typeof o.preserveClientAddress !== 'boolean')
    return bad('preserveClientAddress', `expected true or false, got ${String(o.preserveClientAddress)}`);
  for (const [name, v] of [['maxTcpFlows', o.maxTcpFlows], ['maxUdpFlows', o.maxUdpFlows], ['newFlowsPerSecond', o.newFlowsPerSecond]] as const)
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) return bad(name, `must be a positive integer, got ${v}`);
  const leaseTimeSeconds = o.leaseTimeSeconds ?? 3600;
  if (!Number.isInteger(leaseTimeSeconds) || leaseTimeSeconds < 60) return bad('leaseTimeSeconds', 'must be an integer of at least 60');
  for (const u of o.dnsUpstreams ?? []) {
    const p = parseUpstream(u);
    if (p.isErr()) return bad('dnsUpstreams', p.error.message);
  }
  const reservations: ResolvedReservation[] = [];
  for (const r of o.reservations ?? []) {
    const ip = inSubnet('reservations', r.ip, 0);
    if (ip.isErr()) return err(ip.error);
    if (ip.value === gw.value || ip.value === hostIp) return bad('reservations', `${r.ip} is the gateway or host-loopback address`);
    if ((r.mac === undefined) === (r.uuid === undefined)) return bad('reservations', 'give exactly one of mac or uuid');
    if (r.mac !== undefined) {
      const mac = parseMac(r.mac);
      if (mac === undefined) return bad('reservations', `not a MAC address: ${r.mac}`);
      reservations.push({ mac, ip: ip.value });
    } else {
      if (!UUID_RE.test(r.uuid!)) return bad('reservations', `not a UUID: ${r.uuid}`);
      reservations.push({ uuid: r.uuid!.toLowerCase(), ip: ip.value });
    }
  }
  const cidrs = (name: string, list: string[] | undefined): Result<Ipv4Cidr[], OptionsError> => {
    const out: Ipv4Cidr[] = [];
    for (const s of list ?? []) {
      const c = parseCidr(s);
      if (c === undefined) return bad(name, `not an IPv4 CIDR: ${s}`);
      out.push(c);
    }
    return ok(out);
  };
  const allow = cidrs('allow', o.allow);
  if (allow.isErr()) return err(allow.error);
  const deny = cidrs('deny', o.deny);
  if (deny.isErr()) return err(deny.error);
  return ok({
    subnet,
    gatewayIp: gw.value,
    hostIp,
    lowestIp: lo.value,
    highestIp: hi.value,
    gatewayMac,
    mtu,
    leaseTimeSeconds,
    dnsUpstreams: o.dnsUpstreams,
    resolvConfPath: o.resolvConfPath,
    hostNames: o.hostNames,
    gatewayNames: o.gatewayNames,
    hostResolver: o.hostResolver ?? 'auto',
    domain: o.domain,
    searchDomains: o.searchDomains ?? [],
    reservations,
    leasesFile: o.leasesFile,
    allow: allow.value,
    deny: deny.value,
    pcap: o.pcap,
    verifyChecksums: o.verifyChecksums ?? true,
    egressMtu: o.egressMtu,
    icmpForwarding: o.icmpForwarding ?? 'auto',
    tcpIdleTimeoutMs: o.tcpIdleTimeoutMs ?? 0,
    preserveClientAddress: o.preserveClientAddress ?? true,
    maxTcpFlows: o.maxTcpFlows,
    maxUdpFlows: o.maxUdpFlows,
    newFlowsPerSecond: o.newFlowsPerSecond,
  });
}
