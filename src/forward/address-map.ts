/**
 * Where a guest's packet really goes on the host: the host-loopback alias is the host's own
 * 127.0.0.1 (cli.md defaults); every other destination is itself. Replies come back with the
 * mapping reversed so the guest sees the address it talked to.
 *
 * Some destinations a guest may name never leave through the host: "this network" 0.0.0.0/8 and
 * loopback 127.0.0.0/8 (RFC 1122 §3.2.1.3: never on the wire; on the host they would reach the
 * host's own services, which only the alias may do, and only while it exists), and 224.0.0.0/3
 * (multicast and reserved). They map to {@link UNROUTABLE}, which the egress policy refuses.
 * @module
 */

/** 127.0.0.1 as a u32. */
export const LOOPBACK = 0x7f000001;

/** The host-side address of a guest destination that must not leave through the host. */
export const UNROUTABLE = -1;

/** The host-side address for guest destination `ip`, given the alias (-1 when disabled). */
export function hostAddressOf(ip: number, alias: number): number {
  if (ip === alias && alias >= 0) return LOOPBACK;
  const first = ip >>> 24;
  return first === 0 || first === 127 || first >= 224 ? UNROUTABLE : ip;
}

/** Maps guest-side destinations to host-side ones and back. */
export class AddressMap {
  constructor(
    /** The host-loopback alias, -1 when disabled. */
    private readonly hostIp: number,
  ) {}

  /** The host-side address for a guest's destination `ip`. */
  toHost(ip: number): number {
    return hostAddressOf(ip, this.hostIp);
  }

  /** The guest-visible source for a reply from host-side `ip` to a flow whose guest destination was `guestDst`. */
  toGuest(ip: number, guestDst: number): number {
    return ip === LOOPBACK && guestDst === this.hostIp ? this.hostIp : ip;
  }
}
