/**
 * Big- and little-endian integer access on plain byte arrays. Callers check bounds once (each
 * wire view's `check*`), so these accessors do no checks of their own and stay cheap enough for
 * the per-frame path.
 * @module
 */

/** Reads a big-endian u16 at `off`. */
export function u16be(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

/** Reads a big-endian u32 at `off` as an unsigned number. */
export function u32be(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** Writes a big-endian u16 at `off`. */
export function setU16be(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 8;
  b[off + 1] = v;
}

/** Writes a big-endian u32 at `off`. */
export function setU32be(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = v >>> 16;
  b[off + 2] = v >>> 8;
  b[off + 3] = v;
}

/** Reads a little-endian u16 at `off`. */
export function u16le(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

/** Writes a little-endian u16 at `off`. */
export function setU16le(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
  b[off + 1] = v >>> 8;
}

/** Reads a 48-bit big-endian value (a MAC address) as a number; exact in a double. */
export function u48be(b: Uint8Array, off: number): number {
  return (b[off]! * 0x10000 + ((b[off + 1]! << 8) | b[off + 2]!)) * 0x1000000 + ((b[off + 3]! << 16) | (b[off + 4]! << 8) | b[off + 5]!);
}

/** Writes a 48-bit value (a MAC address held as a number) big-endian at `off`. */
export function setU48be(b: Uint8Array, off: number, v: number): void {
  const hi = Math.floor(v / 0x1000000);
  const lo = v - hi * 0x1000000;
  b[off] = hi >>> 16;
  b[off + 1] = hi >>> 8;
  b[off + 2] = hi;
  b[off + 3] = lo >>> 16;
  b[off + 4] = lo >>> 8;
  b[off + 5] = lo;
}
