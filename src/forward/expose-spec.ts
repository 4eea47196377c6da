/**
 * What an exposed port is, before any socket exists: the caller's spec (`exposePort(22)` or an
 * options object), its validation into a {@link ResolvedExpose}, the registry key, the errors
 * every expose call can return, and how an OS errno from `bind()` becomes one of them.
 *
 * Keys follow vpnkit's control semantics (protocols.md §3.2): a port is identified by its host
 * end (`tcp 127.0.0.1:2222`, `unix /run/x.sock`); exposing the same host end to the same guest
 * end again is a no-op success, to a different one is `port-in-use`.
 * @module
 */
import { isIPv6 } from 'node:net';
import { err, ok, type Result } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../errors.js';
import { formatIpv4, parseIpv4 } from '../wire/address.js';

/** The host end of an exposed port: a TCP or UDP socket, or a Unix stream socket (TCP in the guest). */
export type ExposeProtocol = 'tcp' | 'udp' | 'unix';

/** Options of `net.exposePort` ({@link VirtualNetwork.exposePort}) (the object form). */
export interface ExposeOptions {
  /** The guest's IPv4 address; default: the only leased guest. */
  guest?: string;
  /** The port in the guest (1–65535). */
  guestPort: number;
  /**
   * Host address to listen on (default `127.0.0.1`). `localhost` listens on both 127.0.0.1 and
   * ::1 (user-needs.md row 23); any other IPv4 or IPv6 address of the host is taken as given.
   */
  hostIp?: string;
  /** Host port (default: `guestPort`); 0 picks a free port, reported by the handle. */
  hostPort?: number;
  /** `tcp` (default) or `udp`; `unix` requires {@link hostPath}. */
  protocol?: ExposeProtocol;
  /** A host Unix socket path as the local end instead of hostIp:hostPort (TCP in the guest). */
  hostPath?: string;
  /**
   * Whether the guest sees each client's own address and port as the source (a loopback client
   * as the host-loopback alias with its port); `false`: the gateway's address and an ephemeral
   * port. Default: the network's `preserveClientAddress` (true). No effect on `unix` (its clients
   * have no address). See docs-site/guides/expose-ports.md "Who the guest sees".
   */
  preserveClientAddress?: boolean;
}

/** `exposePort(22)` (the only leased guest, host 127.0.0.1:22) or the object form. */
export type ExposeSpec = number | ExposeOptions;

/** What an exposed port is, as reported by its handle, `list()` and the control API. */
export interface ExposedPort {
  protocol: ExposeProtocol;
  /** Host address (absent for `unix`). */
  hostIp?: string;
  /** Host port, resolved when 0 was asked for (absent for `unix`). */
  hostPort?: number;
  /** Host socket path (`unix` only). */
  hostPath?: string;
  guestIp: string;
  guestPort: number;
  /** tcp and udp: whether the guest sees the client's address ({@link ExposeOptions.preserveClientAddress}); absent for `unix`. */
  preserveClientAddress?: boolean;
}

/** Which exposed port `net.unexposePort` ({@link VirtualNetwork.unexposePort}) removes (the host end). */
export interface UnexposeKey {
  /** Default `tcp` (`unix` when {@link hostPath} is given). */
  protocol?: ExposeProtocol;
  /** Default `127.0.0.1`. */
  hostIp?: string;
  hostPort?: number;
  hostPath?: string;
}

/** A lease as the DHCP service reports it (`net.leases()`). */
export interface LeaseInfo {
  ip: string;
  mac: string;
  uuid?: string;
  hostname?: string;
  /** When the lease ends, in ms since the epoch (as in the `lease` event). */
  expiresAt: number;
}

/** Every way an expose or unexpose call fails. */
export type ExposeError =
  /** The host port or path is taken (another process, or another exposed port). */
  | (VnetError<'port-in-use'> & { hostIp?: string; hostPort?: number; hostPath?: string })
  /** A malformed or unusable address, port or path (including an address the host does not have). */
  | VnetError<'bad-address'>
  /** The OS refused the bind (ports below 1024 without root, a path in a read-only directory). */
  | VnetError<'permission-denied'>
  /** The guest address is not a guest address of the network. */
  | VnetError<'not-a-guest'>
  /** `exposePort(port)` without exactly one leased guest. */
  | (VnetError<'no-guest'> & { leased: string[] })
  /** Unexpose of a host end that is not exposed. */
  | VnetError<'not-exposed'>
  /** The forwarder (or its network) is closed. */
  | VnetError<'network-closed'>
  /** Any other bind failure. */
  | VnetError<'listen-failed'>;

/** The kinds of {@link ExposeError}. */
export type ExposeErrorKind = ExposeError['kind'];

/** A validated spec: addresses parsed, defaults filled in. */
export interface ResolvedExpose {
  protocol: ExposeProtocol;
  /** Normalised host address (`127.0.0.1`, `::1`, `localhost`); '' for unix. */
  hostIp: string;
  /** 0 = pick a free port. */
  hostPort: number;
  hostPath: string;
  guestIp: number;
  guestPort: number;
  /** The spec's value, else the context's default. */
  preserveClientAddress: boolean;
}

/** What {@link resolveExpose} needs to know about the network. */
export interface ExposeContext {
  /** Whether `ip` is a guest address (in the subnet, not the gateway, alias, network or broadcast). */
  isGuestAddress(ip: number): boolean;
  /** The network's leases, for the default guest. */
  leases(): LeaseInfo[];
  /** The network's default for {@link ExposeOptions.preserveClientAddress} (default true). */
  preserveClientAddress?: boolean;
}

/** The default host address (cli.md: HOSTIP defaults to 127.0.0.1). */
export const DEFAULT_HOST_IP = '127.0.0.1';

const isPort = (p: unknown, min: number): p is number => typeof p === 'number' && Number.isInteger(p) && p >= min && p <= 65535;

/** Normalises a host address: IPv4 without leading zeros, IPv6 lower-case, `localhost`; undefined when invalid. */
export function normaliseHostIp(s: string): string | undefined {
  if (s === 'localhost') return s;
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return formatIpv4(v4);
  const bare = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  return isIPv6(bare) ? bare.toLowerCase() : undefined;
}

/** The guest of `exposePort(port)`: the one leased guest, else a `no-guest` error naming the leases. */
export function defaultGuest(leases: LeaseInfo[]): Result<number, ExposeError> {
  if (leases.length === 1) {
    const ip = parseIpv4(leases[0]!.ip);
    if (ip !== undefined) return ok(ip);
  }
  const names = leases.map((l) => `${l.ip} (${l.hostname ?? l.mac})`);
  const why =
    leases.length === 0
      ? 'no guest has a DHCP lease yet'
      : `${leases.length} guests have leases: ${names.join(', ')}`;
  return err(vnetError('no-guest', `cannot pick the guest to expose: ${why}; name it with { guest: IP, guestPort }`, { leased: leases.map((l) => l.ip) }));
}

/** Validates a spec and fills in the defaults (no sockets involved). */
export function resolveExpose(spec: ExposeSpec, ctx: ExposeContext): Result<ResolvedExpose, ExposeError> {
  const o: ExposeOptions = typeof spec === 'number' ? { guestPort: spec } : spec;
  if (typeof o !== 'object' || o === null) return bad(`expose: expected a port number or an options object`);
  if (!isPort(o.guestPort, 1)) return bad(`expose: guest port must be an integer 1-65535, got ${String(o.guestPort)}`);
  const protocol: ExposeProtocol = o.protocol ?? (o.hostPath !== undefined ? 'unix' : 'tcp');
  if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'unix') return bad(`expose: unknown protocol ${String(protocol)} (tcp, udp or unix)`);
  if (o.preserveClientAddress !== undefined && typeof o.preserveClientAddress !== 'boolean') return bad(`expose: preserveClientAddress must be true or false, got ${String(o.preserveClientAddress)}`);
  const preserveClientAddress = o.preserveClientAddress ?? ctx.preserveClientAddress ?? true;

  let guestIp: number;
  if (o.guest === undefined) {
    const g = defaultGuest(ctx.leases());
    if (g.isErr()) return err(g.error);
    guestIp = g.value;
  } else {
    const g = parseIpv4(o.guest);
    if (g === undefined) return bad(`expose: guest must be an IPv4 address, got ${o.guest}`);
    if (!ctx.isGuestAddress(g)) return err(vnetError('not-a-guest', `expose: ${o.guest} is not a guest address of the network (outside the subnet, or the gateway, host alias, network or broadcast address)`));
    guestIp = g;
  }

  if (protocol === 'unix' || o.hostPath !== undefined) {
    if (protocol === 'udp') return bad('expose: a Unix socket host end (hostPath) carries TCP; protocol udp cannot use it');
    const path = o.hostPath;
    if (typeof path !== 'string' || path === '' || path.includes('\0')) return bad(`expose: protocol unix needs a host socket path, got ${String(path)}`);
    if (o.hostIp !== undefined || o.hostPort !== undefined) return bad('expose: give either hostPath or hostIp/hostPort, not both');
    return ok({ protocol: 'unix', hostIp: '', hostPort: 0, hostPath: path, guestIp, guestPort: o.guestPort, preserveClientAddress });
  }
  const hostIp = normaliseHostIp(o.hostIp ?? DEFAULT_HOST_IP);
  if (hostIp === undefined) return bad(`expose: host address must be an IPv4 or IPv6 address or localhost, got ${String(o.hostIp)}`);
  const hostPort = o.hostPort ?? o.guestPort;
  if (!isPort(hostPort, 0)) return bad(`expose: host port must be an integer 0-65535, got ${String(o.hostPort)}`);
  return ok({ protocol, hostIp, hostPort, hostPath: '', guestIp, guestPort: o.guestPort, preserveClientAddress });
}

/** Validates an unexpose key into the registry key it names. */
export function resolveUnexpose(k: UnexposeKey): Result<string, ExposeError> {
  if (typeof k !== 'object' || k === null) return bad('unexpose: expected { hostIp, hostPort, protocol } or { hostPath }');
  const protocol = k.protocol ?? (k.hostPath !== undefined ? 'unix' : 'tcp');
  if (protocol === 'unix') {
    if (typeof k.hostPath !== 'string' || k.hostPath === '') return bad('unexpose: protocol unix needs hostPath');
    return ok(unixKey(k.hostPath));
  }
  if (protocol !== 'tcp' && protocol !== 'udp') return bad(`unexpose: unknown protocol ${String(protocol)} (tcp, udp or unix)`);
  const hostIp = normaliseHostIp(k.hostIp ?? DEFAULT_HOST_IP);
  if (hostIp === undefined) return bad(`unexpose: bad host address ${String(k.hostIp)}`);
  if (!isPort(k.hostPort, 1)) return bad(`unexpose: host port must be an integer 1-65535, got ${String(k.hostPort)}`);
  return ok(portKey(protocol, hostIp, k.hostPort));
}

/** Registry key of a host port (`tcp 127.0.0.1:2222`). */
export function portKey(protocol: 'tcp' | 'udp', hostIp: string, hostPort: number): string {
  return `${protocol} ${joinHostPort(hostIp, hostPort)}`;
}

/** Registry key of a host Unix socket (`unix /run/x.sock`). */
export function unixKey(path: string): string {
  return `unix ${path}`;
}

/** `127.0.0.1:22`, `[::1]:22`, `localhost:22`. */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The host end as text for messages (`127.0.0.1:2222/tcp`, `/run/x.sock`). */
export function describeHostEnd(p: { protocol: ExposeProtocol; hostIp?: string; hostPort?: number; hostPath?: string }): string {
  return p.protocol === 'unix' ? `unix socket ${p.hostPath}` : `${joinHostPort(p.hostIp ?? '', p.hostPort ?? 0)}/${p.protocol}`;
}

/**
 * Turns a failed `bind()`/`listen()` into an {@link ExposeError} naming the host end: EADDRINUSE →
 * `port-in-use`, EACCES/EPERM → `permission-denied` (privileged ports without root),
 * EADDRNOTAVAIL → `bad-address` (not an address of this host).
 */
export function bindError(e: unknown, p: ResolvedExpose, port = p.hostPort): ExposeError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const what = describeHostEnd({ ...p, hostPort: port });
  const at = p.protocol === 'unix' ? { hostPath: p.hostPath } : { hostIp: p.hostIp, hostPort: port };
  switch (code) {
    case 'EADDRINUSE':
      return vnetError('port-in-use', `${what} is already in use by another process`, { ...at, cause: e });
    case 'EACCES':
    case 'EPERM':
      return vnetError(
        'permission-denied',
        p.protocol !== 'unix' && port > 0 && port < 1024
          ? `${what}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`
          : `${what}: permission denied (${describeError(e)})`,
        { cause: e },
      );
    case 'EADDRNOTAVAIL':
    case 'EAFNOSUPPORT':
      return vnetError('bad-address', `${what}: ${p.hostIp} is not an address of this host`, { cause: e });
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'EINVAL':
      return vnetError('bad-address', `${what}: ${describeError(e)}`, { cause: e });
    default:
      return vnetError('listen-failed', `${what}: cannot listen: ${describeError(e)}`, { cause: e });
  }
}

/** What the registry reports for a resolved spec (after the port is bound). */
export function toExposedPort(p: ResolvedExpose, hostPort = p.hostPort): ExposedPort {
  const guest = { guestIp: formatIpv4(p.guestIp), guestPort: p.guestPort };
  if (p.protocol === 'unix') return { protocol: 'unix', hostPath: p.hostPath, ...guest };
  return { protocol: p.protocol, hostIp: p.hostIp, hostPort, ...guest, preserveClientAddress: p.preserveClientAddress };
}

function bad(message: string): Result<never, ExposeError> {
  return err(vnetError('bad-address', message));
}
