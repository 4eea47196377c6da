/**
 * ARP for IPv4 over Ethernet (RFC 826). Only the 28-byte Ethernet/IPv4 form is accepted.
 * Offsets are relative to the ARP header (after Ethernet).
 * @module
 */
import { setU16be, setU32be, setU48be, u16be, u32be, u48be } from './bytes.js';
import { Drop, type DropCode } from './drop.js';

/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;
/** Operations. */
export const ArpOp = { Request: 1, Reply: 2 } as const;

/** Checks hardware type 1, protocol 0x0800, address sizes 6/4, and length. */
export function checkArp(b: Uint8Array, off: number, len: number): DropCode {
  if (len < ARP_LEN) return Drop.Truncated;
  if (u16be(b, off) !== 1 || u16be(b, off + 2) !== 0x0800 || b[off + 4] !== 6 || b[off + 5] !== 4) return Drop.Unsupported;
  return Drop.None;
}

/** Operation (RFC 826 `ar$op`): {@link ArpOp}. */
export const arpOp = (b: Uint8Array, off: number): number => u16be(b, off + 6);
/** Sender hardware address (`ar$sha`). */
export const arpSenderMac = (b: Uint8Array, off: number): number => u48be(b, off + 8);
/** Sender protocol address (`ar$spa`). */
export const arpSenderIp = (b: Uint8Array, off: number): number => u32be(b, off + 14);
/** Target hardware address (`ar$tha`); zero in requests. */
export const arpTargetMac = (b: Uint8Array, off: number): number => u48be(b, off + 18);
/** Target protocol address (`ar$tpa`). */
export const arpTargetIp = (b: Uint8Array, off: number): number => u32be(b, off + 24);

/** Writes a complete Ethernet/IPv4 ARP packet. */
export function writeArp(b: Uint8Array, off: number, op: number, senderMac: number, senderIp: number, targetMac: number, targetIp: number): void {
  setU16be(b, off, 1);
  setU16be(b, off + 2, 0x0800);
  b[off + 4] = 6;
  b[off + 5] = 4;
  setU16be(b, off + 6, op);
  setU48be(b, off + 8, senderMac);
  setU32be(b, off + 14, senderIp);
  setU48be(b, off + 18, targetMac);
  setU32be(b, off + 24, targetIp);
}
