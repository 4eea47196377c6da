/**
 * Small helpers for golden-byte tests: fresh 0xa5-filled buffers for construction (so every byte
 * a writer forgets shows up as 0xa5), and copy-then-change helpers for malformed variants of a
 * golden frame (the fixtures themselves are never modified).
 * @module
 */

/** The filler byte of construction buffers. */
export const FILL = 0xa5;

/** A new buffer of `n` bytes, every byte {@link FILL}. */
export function filled(n: number): Uint8Array {
  return new Uint8Array(n).fill(FILL);
}

/** A copy of `frame` with `change` applied to the copy. */
export function variant(frame: Uint8Array, change: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = Uint8Array.from(frame);
  change(b, new DataView(b.buffer));
  return b;
}

/** A copy of `frame` zero-padded to `min` bytes, as an Ethernet sender pads short frames to 60. */
export function padded(frame: Uint8Array, min = 60): Uint8Array {
  const b = new Uint8Array(Math.max(min, frame.length));
  b.set(frame);
  return b;
}

/** Hex of `b[off, off+len)`, for readable byte-exact assertions. */
export function hexOf(b: Uint8Array, off = 0, len = b.length - off): string {
  return Buffer.from(b.buffer, b.byteOffset + off, len).toString('hex');
}
