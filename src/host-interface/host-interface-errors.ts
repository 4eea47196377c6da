/**
 * Every way giving the host an interface on the bridge can fail, one `kind` per cause, so the
 * CLI, the control API (HTTP status per kind, control-routes.ts) and embedders can react to each.
 * @module
 */
import { vnetError, type VnetError } from '../errors.js';

/** The kinds of {@link HostInterfaceError}. */
export type HostInterfaceErrorKind =
  /** Not Linux: TAP devices and `ip` are Linux features. */
  | 'unsupported-platform'
  /** The native addon is not built, failed to load, or is stale (its message says which). */
  | 'native-unavailable'
  /** `/dev/net/tun` is missing (`modprobe tun`) or the kernel has no TUN/TAP support. */
  | 'tun-unavailable'
  /** No CAP_NET_ADMIN: `EPERM` from TUNSETIFF or from `ip`. */
  | 'not-permitted'
  /** A network device of that name already exists on the host. */
  | 'interface-exists'
  /** This network already has a host interface (one per network: a second would give the host two routes to the subnet). */
  | 'already-attached'
  /** The interface name is not a valid Linux interface name. */
  | 'bad-name'
  /** The address is malformed, outside the subnet, or one of the network's own addresses. */
  | 'bad-address'
  /** The MAC is malformed, a group address, or already on the bridge. */
  | 'bad-mac'
  /** The MTU is not an integer in range. */
  | 'bad-mtu'
  /** A route is malformed, overlaps the subnet, goes via a non-guest address, or exists already. */
  | 'bad-route'
  /** A guest holds the address (DHCP lease, reservation, or seen on the wire). */
  | 'address-in-use'
  /** After configuration the host still routes the subnet through another device (a LAN or VPN with the same subnet). */
  | 'subnet-conflict'
  /** `ip` (iproute2) is not installed or not on PATH. */
  | 'ip-unavailable'
  /** An `ip` command failed for another reason (its stderr is in the message). */
  | 'config-failed'
  /** No host interface of that name on this network. */
  | 'not-found'
  /** The network is closed (or closing). */
  | 'network-closed';

/** A failure of `attachHostInterface`, `detachHostInterface` or a host-interface flag/route parser. */
export interface HostInterfaceError extends VnetError<HostInterfaceErrorKind> {
  /** The interface name concerned, when known. */
  readonly interfaceName?: string;
}

/** Builds a {@link HostInterfaceError}. */
export function hostInterfaceError(kind: HostInterfaceErrorKind, message: string, extra: { interfaceName?: string; cause?: unknown } = {}): HostInterfaceError {
  return vnetError(kind, message, extra);
}
