/**
 * Open flows per guest address, counted when stats are asked for (never per packet): each
 * forwarder adds its flows to a {@link GuestCounts}, and the network maps the addresses to NICs
 * (`NicStats.tcpFlows`, `udpFlows`, `icmpFlows`).
 * @module
 */

/** Guest IPv4 address (as a number) → open flows. */
export type GuestCounts = Map<number, number>;

/** Adds `n` flows of guest `ip` to `into` (nothing for 0). */
export function addGuestCount(into: GuestCounts, ip: number, n = 1): void {
  if (n > 0) into.set(ip, (into.get(ip) ?? 0) + n);
}
