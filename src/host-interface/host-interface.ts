/**
 * Host routes into guests (user-needs.md row 1, what docker-tuntap-osx and docker-mac-net-connect
 * give Docker Desktop users): a TAP device on the host joins the bridge as one more station. The
 * host kernel ARPs for guests and guests ARP for it, so `ping`, `curl` or `ssh` from the host
 * reach a guest's own IP — no port forwarding — and extra host routes (`10.88.0.0/16 via a
 * guest`) reach networks behind a guest, such as a container bridge inside a VM.
 *
 * Attaching, in order (each failure undoes what was done before it):
 * 1. the spec is checked against the network (spec.ts) and its live state: the MAC is not on the
 *    bridge yet, no guest was seen using the address, and an address inside the DHCP pool is
 *    **reserved** in the pool for the interface's MAC (refused when a guest holds it) so DHCP
 *    never offers it; an address outside the pool only has to be unused;
 * 2. the name must be free — TUNSETIFF on an existing persistent TAP would attach to it, and
 *    closing would then not delete it;
 * 3. the TAP is created (native addon), given its MAC and MTU, its address, attached to the
 *    switch as a {@link TapPort} (before the link goes up, so the first ARP is not lost), brought
 *    up, and the extra routes are added;
 * 4. `ip route get GATEWAY` must answer through the new device — otherwise a LAN or VPN with the
 *    same subnet wins on this host, and nothing would reach the guests.
 *
 * `close()` detaches the port, closes the TAP (the kernel deletes a non-persistent TAP and every
 * route through it at once), frees the pool reservation and checks the device is gone. Closing
 * the network closes its host interface: a facade that calls {@link closeHostInterfaces} in its
 * own `close()` says so with `closesHostInterfaces: true`; otherwise this module chains onto the
 * network object's `close()` at the first attach.
 * @module
 */
import { err, errAsync, ok, ResultAsync, type Result } from 'neverthrow';
import type { Logger } from '../logger.js';
import type { NativeUnavailable } from '../native/index.js';
import type { OsError } from '../native/os-error.js';
import { TapDevice } from '../native/tap-device.js';
import type { ResolvedOptions } from '../options.js';
import type { LeasePool } from '../services/dhcp/lease-pool.js';
import type { Neighbours } from '../stack/neighbours.js';
import type { Switch } from '../switch/switch.js';
import { TapPort, type FrameDevice } from '../transports/tap-port.js';
import { formatIpv4, formatMac } from '../wire/address.js';
import { dropCountsToObject } from '../wire/drop.js';
import { ETH_HLEN } from '../wire/ethernet.js';
import { hostInterfaceError, type HostInterfaceError } from './host-interface-errors.js';
import { ipArgs, ipFailure, routeDevice, saysNoSuchDevice, systemIpRunner, type IpRunner, type IpStep } from './ip-command.js';
import { formatHostRoute, resolveHostInterfaceSpec, type HostInterfaceSpec, type HostRoute, type ResolvedHostInterface } from './spec.js';

/** What a host interface needs from a network; `VirtualNetwork` has all of it. */
export interface HostInterfaceNetwork {
  /** Addressing the spec is checked against (subnet, gateway, alias, pool bounds, MTU). */
  readonly options: Pick<ResolvedOptions, 'subnet' | 'gatewayIp' | 'hostIp' | 'gatewayMac' | 'mtu' | 'lowestIp' | 'highestIp'>;
  /** The bridge the TAP port joins. */
  readonly switch: Pick<Switch, 'attach' | 'detach' | 'input' | 'portIdOf'>;
  /** Addresses guests were seen using (refused to the host interface). */
  readonly neighbours: Pick<Neighbours, 'lookup' | 'forget'>;
  /** The DHCP pool, where an address inside the pool is reserved. */
  readonly dhcp: { readonly pool: Pick<LeasePool, 'reserve' | 'unreserve'> };
  readonly logger: Logger;
  /** Closes the network (chained onto unless {@link closesHostInterfaces}). */
  close(): Promise<void>;
  /** True when the network's own `close()` calls {@link closeHostInterfaces} (then nothing is chained onto it). */
  readonly closesHostInterfaces?: boolean;
}

/** The operating-system effects, injectable for tests. */
export interface HostInterfaceEnv {
  /** Default `process.platform`. */
  readonly platform?: NodeJS.Platform;
  /** Creates the TAP; default `TapDevice.open` (native addon). */
  readonly openTap?: (name: string) => Result<FrameDevice, NativeUnavailable | OsError>;
  /** Runs `ip`; default {@link systemIpRunner}. */
  readonly ip?: IpRunner;
}

/** A host interface as the control API and stats show it. */
export interface HostInterfaceInfo {
  name: string;
  /** `IP/PREFIX`. */
  address: string;
  mac: string;
  mtu: number;
  /** `CIDR via IP` each. */
  routes: string[];
  /** Whether the address was reserved in the DHCP pool for the interface. */
  reservedFromPool: boolean;
  /** Frames the host sent into the bridge / the bridge delivered to the host. */
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  drops: Record<string, number>;
}

/** Per-network bookkeeping: at most one interface, attach in progress, closed. */
interface NetState {
  iface: HostInterface | undefined;
  /** The attach in progress, if any (close waits for it to finish or roll back). */
  pending: Promise<unknown> | undefined;
  closed: boolean;
  hooked: boolean;
}

const states = new WeakMap<HostInterfaceNetwork, NetState>();

function stateOf(net: HostInterfaceNetwork): NetState {
  let s = states.get(net);
  if (s === undefined) {
    s = { iface: undefined, pending: undefined, closed: false, hooked: false };
    states.set(net, s);
  }
  return s;
}

/** A TAP on the host, attached to a network's bridge. Made by `VirtualNetwork.attachHostInterface`. */
export class HostInterface {
  private closing: Promise<void> | undefined;
  private released = false;

  /** @internal */
  constructor(
    private readonly net: HostInterfaceNetwork,
    private readonly state: NetState,
    private readonly ip: IpRunner,
    private readonly spec: ResolvedHostInterface,
    /** The switch port (counters, advanced use). */
    readonly port: TapPort,
    /** Whether the address was reserved in the DHCP pool for this interface. */
    readonly reservedFromPool: boolean,
  ) {}

  /** The host interface name. */
  get name(): string {
    return this.spec.name;
  }
  /** `IP/PREFIX`. */
  get address(): string {
    return `${formatIpv4(this.spec.ip)}/${this.spec.prefix}`;
  }
  /** The interface MAC as `aa:bb:…`. */
  get mac(): string {
    return formatMac(this.spec.mac);
  }
  /** The interface MTU. */
  get mtu(): number {
    return this.spec.mtu;
  }
  /** The extra routes through guests. */
  get routes(): readonly HostRoute[] {
    return this.spec.routes;
  }
  /** True once closed (by {@link close}, the network closing, or the device vanishing). */
  get closed(): boolean {
    return this.released;
  }

  /** Snapshot for the control API and stats. */
  info(): HostInterfaceInfo {
    const c = this.port.counters;
    return {
      name: this.name,
      address: this.address,
      mac: this.mac,
      mtu: this.mtu,
      routes: this.spec.routes.map(formatHostRoute),
      reservedFromPool: this.reservedFromPool,
      framesIn: c.framesIn,
      bytesIn: c.bytesIn,
      framesOut: c.framesOut,
      bytesOut: c.bytesOut,
      drops: dropCountsToObject(c.drops),
    };
  }

  /** Detaches the port and deletes the device with its routes. Idempotent; never rejects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.release('closed');
      // Closing the last descriptor deletes a non-persistent TAP synchronously; should the device
      // still exist (someone made it persistent meanwhile), delete it explicitly.
      const shown = await this.ip(ipArgs.show(this.name));
      if (shown.exitCode !== 0) return;
      const del = await this.ip(ipArgs.deleteLink(this.name));
      if (del.exitCode !== 0) this.net.logger.warn(`host interface ${this.name}: still present after close: ${ipFailure('delete', ipArgs.deleteLink(this.name), del, this.name).message}`);
    })();
    return this.closing;
  }

  /** Undoes the attachment in the process (synchronous part of close; also when the device vanished). @internal */
  release(reason: string): void {
    if (this.released) return;
    this.released = true;
    this.net.switch.detach(this.port);
    this.port.close({ kind: 'closed', message: `${this.port.name}: ${reason}` });
    this.net.neighbours.forget(this.spec.ip);
    if (this.reservedFromPool) this.net.dhcp.pool.unreserve({ mac: this.spec.mac });
    if (this.state.iface === this) this.state.iface = undefined;
    this.net.logger.info(`host interface ${this.name} removed: ${reason}`);
  }
}

/** Maps a failed TAP creation to the cause a user can act on. */
function openFailure(name: string, e: NativeUnavailable | OsError): HostInterfaceError {
  const extra = { interfaceName: name, cause: e };
  if (e.kind === 'native-unavailable') return hostInterfaceError('native-unavailable', `host interface ${name} needs the native addon: ${e.message}`, extra);
  switch (e.code) {
    case 'EPERM':
    case 'EACCES':
      return hostInterfaceError('not-permitted', `creating TAP ${name} needs root or CAP_NET_ADMIN (${e.code} from /dev/net/tun)`, extra);
    case 'EBUSY':
    case 'EINVAL':
    case 'EEXIST':
      return hostInterfaceError('interface-exists', `a network device named ${name} already exists (${e.code})`, extra);
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return hostInterfaceError('tun-unavailable', `/dev/net/tun is not usable (${e.code}); load the tun module (modprobe tun)`, extra);
    case 'ENAMETOOLONG':
      return hostInterfaceError('bad-name', `interface name ${name} is too long`, extra);
    default:
      return hostInterfaceError('config-failed', `creating TAP ${name}: ${e.message}`, extra);
  }
}

/** Until the facade calls {@link closeHostInterfaces} itself, chain onto this network object's close(). */
function hookNetworkClose(net: HostInterfaceNetwork, st: NetState): void {
  if (st.hooked || net.closesHostInterfaces === true) return;
  st.hooked = true;
  const original = net.close.bind(net);
  net.close = async () => {
    await closeHostInterfaces(net);
    await original();
  };
}

/**
 * Gives the host an interface on the network's bridge (see the module docs for the steps and
 * the address policy). Linux only; needs the native addon and root or CAP_NET_ADMIN.
 */
export function attachHostInterface(net: HostInterfaceNetwork, spec: HostInterfaceSpec, env: HostInterfaceEnv = {}): ResultAsync<HostInterface, HostInterfaceError> {
  return new ResultAsync(attach(net, spec, env));
}

async function attach(net: HostInterfaceNetwork, spec: HostInterfaceSpec, env: HostInterfaceEnv): Promise<Result<HostInterface, HostInterfaceError>> {
  const st = stateOf(net);
  if (st.closed) return err(hostInterfaceError('network-closed', 'the network is closed'));
  const platform = env.platform ?? process.platform;
  if (platform !== 'linux') return err(hostInterfaceError('unsupported-platform', `host interfaces need Linux TAP devices; this is ${platform}`));
  const r = resolveHostInterfaceSpec(spec, net.options);
  if (r.isErr()) return err(r.error);
  const current = st.iface?.name;
  if (current !== undefined || st.pending !== undefined)
    return err(hostInterfaceError('already-attached', `the network already has a host interface${current !== undefined ? ` (${current})` : ''}`, { interfaceName: spec.name }));
  hookNetworkClose(net, st);
  const building = build(net, st, r.value, env);
  st.pending = building;
  try {
    return await building;
  } finally {
    st.pending = undefined;
  }
}

async function build(net: HostInterfaceNetwork, st: NetState, o: ResolvedHostInterface, env: HostInterfaceEnv): Promise<Result<HostInterface, HostInterfaceError>> {
  const name = o.name;
  const ip = env.ip ?? systemIpRunner;
  const tagged = { interfaceName: name };
  if (net.switch.portIdOf(o.mac) >= 0) return err(hostInterfaceError('bad-mac', `${formatMac(o.mac)} is already on the bridge`, tagged));
  const seen = net.neighbours.lookup(o.ip);
  if (seen >= 0 && seen !== o.mac)
    return err(hostInterfaceError('address-in-use', `${formatIpv4(o.ip)} is in use by a guest (${formatMac(seen)})`, tagged));
  const inPool = o.ip >= net.options.lowestIp && o.ip <= net.options.highestIp;
  if (inPool) {
    const res = net.dhcp.pool.reserve({ mac: o.mac }, o.ip);
    if (res.isErr()) return err(hostInterfaceError('address-in-use', `${formatIpv4(o.ip)} cannot be reserved for the host interface: ${res.error.message}`, { ...tagged, cause: res.error }));
  }
  const undo: Array<() => void> = [];
  if (inPool) undo.push(() => void net.dhcp.pool.unreserve({ mac: o.mac }));
  const fail = (e: HostInterfaceError): Result<never, HostInterfaceError> => {
    for (const u of undo.reverse()) u();
    return err(e);
  };
  const closedMeanwhile = (): boolean => st.closed;
  const run = async (step: IpStep, args: string[]): Promise<HostInterfaceError | undefined> => {
    const out = await ip(args);
    if (out.exitCode !== 0) return ipFailure(step, args, out, name);
    return closedMeanwhile() ? hostInterfaceError('network-closed', 'the network closed while the host interface was being set up', tagged) : undefined;
  };

  const shown = await ip(ipArgs.show(name));
  if (shown.exitCode === 0) return fail(hostInterfaceError('interface-exists', `a network device named ${name} already exists on the host`, tagged));
  if (!saysNoSuchDevice(shown)) return fail(ipFailure('show', ipArgs.show(name), shown, name));
  if (closedMeanwhile()) return fail(hostInterfaceError('network-closed', 'the network is closed', tagged));

  const dev = (env.openTap ?? ((n: string) => TapDevice.open(n)))(name);
  if (dev.isErr()) return fail(openFailure(name, dev.error));
  const port = new TapPort(dev.value, { name: `tap:${name}`, maxFrame: o.mtu + ETH_HLEN });
  undo.push(() => port.close());

  let e = (await run('link', ipArgs.setMacMtu(name, o.mac, o.mtu))) ?? (await run('address', ipArgs.addAddress(name, o.ip, o.prefix)));
  if (e !== undefined) return fail(e);
  // On the bridge before the link goes up: the kernel's first ARP and router solicitation get through.
  net.switch.attach(port);
  port.onFrame = (p, b, off, len) => net.switch.input(p, b, off, len);
  port.start();
  undo.push(() => net.switch.detach(port));
  e = await run('up', ipArgs.up(name));
  for (const route of o.routes) e ??= await run('route', ipArgs.addRoute(name, route));
  if (e !== undefined) return fail(e);

  const via = await ip(ipArgs.routeGet(net.options.gatewayIp));
  if (via.exitCode !== 0) return fail(ipFailure('route-get', ipArgs.routeGet(net.options.gatewayIp), via, name));
  const dev2 = routeDevice(via.stdout);
  if (dev2 !== name)
    return fail(
      hostInterfaceError(
        'subnet-conflict',
        `the host routes ${formatIpv4(net.options.gatewayIp)} through ${dev2 ?? 'something else'}, not ${name}: another interface or VPN claims the subnet; pick another --subnet`,
        tagged,
      ),
    );
  if (closedMeanwhile()) return fail(hostInterfaceError('network-closed', 'the network closed while the host interface was being set up', tagged));

  const hi = new HostInterface(net, st, ip, o, port, inPool);
  port.onClose = (reason) => {
    // The device went away under us (`ip link del`, a read error): forget it like a vanished NIC.
    if (reason.kind === 'error' && !hi.closed) {
      net.logger.warn(`host interface ${name}: ${reason.message}`);
      hi.release(reason.message);
    }
  };
  st.iface = hi;
  net.logger.info(`host interface ${name} up: ${hi.address} (${hi.mac}, mtu ${o.mtu})${o.routes.length > 0 ? `, routes ${o.routes.map(formatHostRoute).join(', ')}` : ''}`);
  return ok(hi);
}

/** The network's host interface, if it has one. */
export function hostInterfaceOf(net: HostInterfaceNetwork): HostInterface | undefined {
  return states.get(net)?.iface;
}

/** Closes the network's host interface called `name`; `not-found` when there is none. */
export function detachHostInterface(net: HostInterfaceNetwork, name: string): ResultAsync<void, HostInterfaceError> {
  const hi = states.get(net)?.iface;
  if (hi === undefined || hi.name !== name) return errAsync(hostInterfaceError('not-found', `no host interface named ${name} on this network`, { interfaceName: name }));
  return ResultAsync.fromSafePromise(hi.close());
}

/** Closes the network's host interface and refuses later attaches; for the network's `close()`. Idempotent. */
export async function closeHostInterfaces(net: HostInterfaceNetwork): Promise<void> {
  const st = stateOf(net);
  st.closed = true;
  // An attach in progress sees `closed` at its next step and rolls back; wait for that.
  await st.pending;
  await st.iface?.close();
}
