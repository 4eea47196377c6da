/**
 * Ethernet II header view (IEEE 802.3 framing without FCS or VLAN tag, as every transport here
 * carries it: protocols.md §1.6, §6). Offsets are relative to the frame start.
 * @module
 */
import { setU16be, setU48be, u16be, u48be } from './bytes.js';
import { Drop, type DropCode } from './drop.js';

/** Header length. */
export const ETH_HLEN = 14;
/** Smallest frame on the wire without FCS; shorter frames are padded by senders (hyperkit does). */
export const ETH_MIN_FRAME = 60;

/** Field offsets. */
export const EthOff = { dst: 0, src: 6, type: 12 } as const;

/** Ethertypes we look at. */
export const EtherType = { IPv4: 0x0800, ARP: 0x0806, IPv6: 0x86dd, VLAN: 0x8100 } as const;

/** Checks that a frame can hold an Ethernet header. */
export function checkEthernet(len: number): DropCode {
  return len < ETH_HLEN ? Drop.Truncated : Drop.None;
}

/** Destination MAC as a 48-bit number. */
export const ethDst = (b: Uint8Array, off: number): number => u48be(b, off);
/** Source MAC as a 48-bit number. */
export const ethSrc = (b: Uint8Array, off: number): number => u48be(b, off + 6);
/** Ethertype: {@link EtherType}. */
export const ethType = (b: Uint8Array, off: number): number => u16be(b, off + 12);
/** Whether the destination has the group bit (broadcast/multicast). */
export const ethDstIsGroup = (b: Uint8Array, off: number): boolean => (b[off]! & 1) === 1;
/** Whether the source has the group bit: never legal, such frames are dropped. */
export const ethSrcIsGroup = (b: Uint8Array, off: number): boolean => (b[off + 6]! & 1) === 1;

/** Writes an Ethernet header. */
export function writeEthernet(b: Uint8Array, off: number, dst: number, src: number, type: number): void {
  setU48be(b, off, dst);
  setU48be(b, off + 6, src);
  setU16be(b, off + 12, type);
}
