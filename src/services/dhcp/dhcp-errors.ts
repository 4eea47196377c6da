/**
 * The typed failures of the DHCP service: pool configuration, reservations, vmnet bindings,
 * allocation, protocol refusals reported after a NAK, and the leases file. Each is a
 * {@link VnetError} variant discriminated on `kind`, carrying the facts a caller needs.
 *
 * The three vmnet binding errors and {@link PoolExhaustedError} carry vpnkit's exact reason texts
 * (protocols.md §1.5, §1.7) as their `message`, so the vmnet handshake can send `message` as the
 * Disconnect reason unchanged.
 * @module
 */
import type { VnetError } from '../../errors.js';

/** A pool setting that cannot work (bounds outside the subnet, lowest above highest, …). */
export type PoolConfigError = VnetError<'bad-pool-config'> & { readonly field: string };

/** An address outside the network's subnet. */
export type OutsideSubnetError = VnetError<'address-outside-subnet'> & { readonly ip: string; readonly subnet: string };

/** An address inside the subnet but outside the pool bounds (`--lowest-ip`/`--highest-ip`). */
export type OutsidePoolError = VnetError<'address-outside-pool'> & { readonly ip: string; readonly lowest: string; readonly highest: string };

/** The network address, the broadcast address, the gateway or the host-loopback alias. */
export type NotAssignableError = VnetError<'address-not-assignable'> & {
  readonly ip: string;
  readonly role: 'network' | 'broadcast' | 'gateway' | 'host-alias';
};

/** The address is leased or reserved to another NIC, which keeps it. */
export type AddressInUseError = VnetError<'address-in-use'> & {
  readonly ip: string;
  /** The other NIC: `uuid:<uuid>` or `mac:<aa:bb:…>`. */
  readonly holder: string;
  readonly how: 'leased' | 'reserved';
};

/** A reservation key that is neither a MAC nor a UUID. */
export type BadClientKeyError = VnetError<'bad-client-key'> & { readonly key: string };

/** No address left: every pool address is reserved, leased, or quarantined. vpnkit's text (§1.5). */
export type PoolExhaustedError = VnetError<'pool-exhausted'>;

/** vmnet Preferred_ipv4 outside the pool bounds: "Preferred IP address out of range." (§1.7). */
export type PreferredOutOfRangeError = VnetError<'preferred-ip-out-of-range'> & { readonly ip: string };

/** vmnet Preferred_ipv4 held by another UUID or NIC: "Preferred IP address <ip> already used." (§1.7). */
export type PreferredInUseError = VnetError<'preferred-ip-in-use'> & { readonly ip: string; readonly holder: string };

/** vmnet Preferred_ipv4 differs from the UUID's address: vpnkit's "UUID already assigned…" (§1.7). */
export type UuidIpMismatchError = VnetError<'uuid-ip-mismatch'> & { readonly uuid: string; readonly ip: string; readonly requested: string };

/** Everything {@link LeasePool.reserve} can report. */
export type ReserveError = OutsideSubnetError | OutsidePoolError | NotAssignableError | AddressInUseError | BadClientKeyError;

/** Everything {@link LeasePool.bindVmnet} can report; `message` is the vmnet Disconnect reason. */
export type VmnetBindError = PreferredOutOfRangeError | PreferredInUseError | UuidIpMismatchError | PoolExhaustedError;

/** Why a DHCPREQUEST was refused; reported through `onError` after the DHCPNAK went out (RFC 2131 §4.3.2). */
export type DhcpNakError = VnetError<'dhcp-nak'> & {
  readonly ip: string;
  readonly mac: string;
  /** Machine-readable reason; `message` is what option 56 of the NAK said. */
  readonly reason: 'wrong-subnet' | 'not-yours' | 'in-use' | 'outside-pool' | 'quarantined';
};

/** A client declined its address (RFC 2131 §4.3.3): something else on the link answers for it. */
export type AddressDeclinedError = VnetError<'address-declined'> & { readonly ip: string; readonly mac: string; readonly quarantineMs: number };

/** A DHCPDISCOVER that could not be offered any address. */
export type DhcpExhaustedError = VnetError<'pool-exhausted'> & { readonly mac: string };

/** What the DHCP server reports through `onError`. */
export type DhcpServerError = DhcpNakError | AddressDeclinedError | DhcpExhaustedError | PoolExhaustedError | LeaseStoreError;

/** The leases file exists but is not a leases file we can read (bad JSON, wrong shape). */
export type LeasesCorruptError = VnetError<'leases-corrupt'> & { readonly file: string };

/** The leases file was written by a newer vnetkit (a version we do not know). */
export type LeasesVersionError = VnetError<'leases-version'> & { readonly file: string; readonly version: unknown };

/** Reading or writing the leases file failed at the OS level; `cause` holds the errno error. */
export type LeasesIoError = VnetError<'leases-io'> & { readonly file: string; readonly op: 'read' | 'write' };

/** Everything the lease store can report. */
export type LeaseStoreError = LeasesCorruptError | LeasesVersionError | LeasesIoError;
