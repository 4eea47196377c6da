/**
 * Where a guest's packet really goes on the host: the host-loopback alias is the host's own
 * 127.0.0.1 (cli.md defaults); every other destination is itself. Replies come back with the
 * mapping reversed so the guest sees the address it talked to.
 * @module
 */

/** 127.0.0.1 as a u32. */
export const LOOPBACK = 0x7f000001;

/** Maps guest-side destinations to host-side ones and back. */
export class AddressMap {
  constructor(
    /** The host-loopback alias, -1 when disabled. */
    private readonly hostIp: number,
  ) {}

  /** The host-side address for a guest's destination `ip`. */
  toHost(ip: number): number {
    return ip === this.hostIp && this.hostIp >= 0 ? LOOPBACK : ip;
  }

  /** The guest-visible source for a reply from host-side `ip` to a flow whose guest destination was `guestDst`. */
  toGuest(ip: number, guestDst: number): number {
    return ip === LOOPBACK && guestDst === this.hostIp ? this.hostIp : ip;
  }
}
