/**
 * A NIC's MAC derived from its vmnet UUID, so the same VM gets the same MAC (and so the same
 * DHCP lease) across reconnects and restarts of vnetkit. vpnkit instead numbers MACs by
 * registration order (`02:50:00:00:00:NN`, protocols.md §1.7), which changes across restarts.
 * @module
 */

/**
 * `02:` (locally administered, unicast) followed by a 40-bit FNV-1a hash of the canonical
 * lowercase UUID. Returned as a 48-bit number.
 */
export function macFromUuid(uuid: string): number {
  // FNV-1a over 64 bits kept as two 32-bit halves (exact in JS), then folded to 40 bits.
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  const s = uuid.toLowerCase();
  for (let i = 0; i < s.length; i++) {
    lo ^= s.charCodeAt(i);
    // multiply (hi:lo) by the FNV prime 0x100000001b3 modulo 2^64
    const loMul = lo * 0x1b3;
    const carry = Math.floor(loMul / 0x100000000);
    const newLo = loMul >>> 0;
    hi = (Math.imul(hi, 0x1b3) + (lo << 8) + carry) >>> 0;
    lo = newLo;
  }
  const h40 = (hi & 0xff) * 0x100000000 + lo;
  return 0x020000000000 + h40;
}
