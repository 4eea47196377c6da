/**
 * What a host interface is asked to be, checked against the network before anything touches the
 * system: a valid Linux interface name, an address of the bridge's subnet that is none of the
 * network's own, a unicast MAC, an MTU the bridge carries, and extra routes that send host traffic
 * for guest-side subnets via a guest. Pure functions: no state, no I/O (the checks that need the
 * network's live state — leases, neighbours, the switch — are in host-interface.ts).
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { MIN_MTU, type ResolvedOptions } from '../options.js';
import { broadcastOf, cidrContains, formatCidr, formatIpv4, isGroupMac, maskOf, parseIpv4, parseMac, type Ipv4Cidr } from '../wire/address.js';
import { hostInterfaceError, type HostInterfaceError } from './host-interface-errors.js';

/** What a caller asks for (API, control body, CLI flags). */
export interface HostInterfaceSpec {
  /** Host interface name: 1–15 characters (IFNAMSIZ), letters, digits, `_`, `.`, `-`, starting with a letter or digit. */
  readonly name: string;
  /** `IP/PREFIX` inside the network's subnet; the prefix must be the subnet's and may be left out. */
  readonly address: string;
  /** The interface's MAC; default: derived from name and address (stable across restarts), `02:76:…`. */
  readonly mac?: string;
  /** Interface MTU; default and maximum: the network's MTU. */
  readonly mtu?: number;
  /** Extra host routes into guests: `CIDR via GUEST-IP`, e.g. `10.88.0.0/16 via 192.168.65.2`. */
  readonly routes?: readonly string[];
}

/** A host route through a guest. */
export interface HostRoute {
  readonly destination: Ipv4Cidr;
  /** The guest address the host sends that traffic to (u32). */
  readonly via: number;
}

/** A spec after validation, as numbers. */
export interface ResolvedHostInterface {
  readonly name: string;
  readonly ip: number;
  readonly prefix: number;
  readonly mac: number;
  readonly mtu: number;
  readonly routes: readonly HostRoute[];
}

/** The part of the network's options a spec is checked against. */
export type HostAddressing = Pick<ResolvedOptions, 'subnet' | 'gatewayIp' | 'hostIp' | 'gatewayMac' | 'mtu'>;

/** Linux's IFNAMSIZ is 16 including the terminating NUL. */
const MAX_NAME = 15;
/**
 * Stricter than the kernel's dev_valid_name (which only bans `/`, `:` and whitespace): the name
 * ends up in `ip` argv, and a leading `-` would read as an option there.
 */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Checks a Linux interface name (see {@link HostInterfaceSpec.name}). */
export function validateInterfaceName(name: string): Result<string, HostInterfaceError> {
  if (name.length === 0 || name.length > MAX_NAME)
    return err(hostInterfaceError('bad-name', `interface name must be 1-${MAX_NAME} characters, got ${JSON.stringify(name)}`));
  if (!NAME_RE.test(name))
    return err(hostInterfaceError('bad-name', `interface name may use letters, digits, '_', '.', '-' and must start with a letter or digit, got ${JSON.stringify(name)}`));
  return ok(name);
}

/** Parses `CIDR via IP` (syntax only: whether it fits the network is {@link resolveHostInterfaceSpec}'s job). */
export function parseHostRoute(text: string): Result<HostRoute, HostInterfaceError> {
  const m = /^\s*(\S+)\s+via\s+(\S+)\s*$/.exec(text);
  if (m === null) return err(hostInterfaceError('bad-route', `route must be "CIDR via IP", got ${JSON.stringify(text)}`));
  const cidrText = m[1]!;
  const viaText = m[2]!;
  const slash = cidrText.indexOf('/');
  const addr = parseIpv4(slash < 0 ? cidrText : cidrText.slice(0, slash));
  const prefixText = slash < 0 ? '' : cidrText.slice(slash + 1);
  if (addr === undefined || !/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(prefixText))
    return err(hostInterfaceError('bad-route', `route destination must be an IPv4 CIDR like 10.88.0.0/16, got ${JSON.stringify(cidrText)}`));
  const prefix = Number(prefixText);
  const network = (addr & maskOf(prefix)) >>> 0;
  // The kernel refuses host bits ("Invalid prefix for given prefix length"); say so before trying.
  if (network !== addr)
    return err(hostInterfaceError('bad-route', `route destination ${cidrText} has host bits set; did you mean ${formatCidr({ network, prefix })}?`));
  const via = parseIpv4(viaText);
  if (via === undefined) return err(hostInterfaceError('bad-route', `route gateway must be an IPv4 address, got ${JSON.stringify(viaText)}`));
  return ok({ destination: { network, prefix }, via });
}

/** `CIDR via IP`, as {@link parseHostRoute} reads it. */
export function formatHostRoute(r: HostRoute): string {
  return `${formatCidr(r.destination)} via ${formatIpv4(r.via)}`;
}

/** Whether two prefixes share any address. */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return ((a.network ^ b.network) & maskOf(Math.min(a.prefix, b.prefix))) === 0;
}

/**
 * A stable, locally administered unicast MAC for an interface: `02:76` + FNV-1a of name and address.
 * Stable across restarts so guests' ARP caches stay right when vnetkit restarts; no randomness
 * needed (src/ may not touch it outside runtime/).
 */
export function deriveMac(name: string, ip: number): number {
  let h = 0x811c9dc5;
  const text = `${name}/${formatIpv4(ip)}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return 0x027600000000 + h;
}

const LOOPBACK: Ipv4Cidr = { network: 0x7f000000, prefix: 8 };
const MULTICAST_AND_RESERVED: Ipv4Cidr = { network: 0xe0000000, prefix: 3 };

/** Why `ip` cannot be the host interface's address or a route's next hop, or undefined. */
function ownAddressRole(a: HostAddressing, ip: number): string | undefined {
  if (!cidrContains(a.subnet, ip)) return `outside the subnet ${formatCidr(a.subnet)}`;
  if (ip === a.subnet.network) return 'the network address';
  if (ip === broadcastOf(a.subnet)) return 'the broadcast address';
  if (ip === a.gatewayIp) return 'the gateway address';
  if (ip === a.hostIp) return 'the host-loopback alias (the gateway answers for it)';
  return undefined;
}

/** Checks the extra routes of a spec against the subnet and the interface's own address. */
function resolveRoutes(texts: readonly string[], a: HostAddressing, ownIp: number): Result<HostRoute[], HostInterfaceError> {
  const routes: HostRoute[] = [];
  for (const text of texts) {
    const p = parseHostRoute(text);
    if (p.isErr()) return err(p.error);
    const r = p.value;
    const dst = formatCidr(r.destination);
    if (r.destination.prefix === 0)
      return err(hostInterfaceError('bad-route', `${dst}: a default route through a guest would send all host traffic (vnetkit's own included) into the bridge`));
    if (cidrsOverlap(r.destination, a.subnet))
      return err(hostInterfaceError('bad-route', `${dst} overlaps the bridge subnet ${formatCidr(a.subnet)}, which the interface reaches directly`));
    if (cidrsOverlap(r.destination, LOOPBACK) || cidrsOverlap(r.destination, MULTICAST_AND_RESERVED))
      return err(hostInterfaceError('bad-route', `${dst} is loopback, multicast or reserved space`));
    const role = r.via === ownIp ? "the host interface's own address" : ownAddressRole(a, r.via);
    if (role !== undefined) return err(hostInterfaceError('bad-route', `${formatHostRoute(r)}: the next hop must be a guest address, and ${formatIpv4(r.via)} is ${role}`));
    if (routes.some((x) => x.destination.network === r.destination.network && x.destination.prefix === r.destination.prefix))
      return err(hostInterfaceError('bad-route', `${dst} is given twice`));
    routes.push(r);
  }
  return ok(routes);
}

/** Validates a spec against the network's addressing and fills in defaults (MAC, MTU). */
export function resolveHostInterfaceSpec(spec: HostInterfaceSpec, a: HostAddressing): Result<ResolvedHostInterface, HostInterfaceError> {
  const name = validateInterfaceName(spec.name);
  if (name.isErr()) return err(name.error);
  const tag = (e: HostInterfaceError): HostInterfaceError => ({ ...e, interfaceName: spec.name });
  const address = typeof spec.address === 'string' ? spec.address : '';
  const slash = address.indexOf('/');
  const ip = parseIpv4(slash < 0 ? address : address.slice(0, slash));
  if (ip === undefined) return err(tag(hostInterfaceError('bad-address', `address must be IP/PREFIX, got ${JSON.stringify(spec.address)}`)));
  if (slash >= 0 && address.slice(slash + 1) !== String(a.subnet.prefix))
    return err(tag(hostInterfaceError('bad-address', `${address}: the prefix must be the bridge subnet's (/${a.subnet.prefix}, ${formatCidr(a.subnet)})`)));
  const role = ownAddressRole(a, ip);
  if (role !== undefined) return err(tag(hostInterfaceError('bad-address', `${formatIpv4(ip)} is ${role}; pick a free host address of ${formatCidr(a.subnet)}`)));
  let mac = deriveMac(spec.name, ip);
  if (spec.mac !== undefined) {
    const m = typeof spec.mac === 'string' ? parseMac(spec.mac) : undefined;
    if (m === undefined) return err(tag(hostInterfaceError('bad-mac', `not a MAC address: ${JSON.stringify(spec.mac)}`)));
    if (isGroupMac(m) || m === 0) return err(tag(hostInterfaceError('bad-mac', `${spec.mac} is not a unicast MAC`)));
    mac = m;
  }
  if (mac === a.gatewayMac) return err(tag(hostInterfaceError('bad-mac', `${spec.mac} is the gateway's MAC`)));
  // Not above the network's MTU: the other ports drop frames larger than their own maximum.
  const mtu = spec.mtu ?? a.mtu;
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > a.mtu)
    return err(tag(hostInterfaceError('bad-mtu', `MTU must be an integer from ${MIN_MTU} to the network's ${a.mtu}, got ${String(spec.mtu)}`)));
  const routes = resolveRoutes(spec.routes ?? [], a, ip);
  if (routes.isErr()) return err(tag(routes.error));
  return ok({ name: spec.name, ip, prefix: a.subnet.prefix, mac, mtu, routes: routes.value });
}
