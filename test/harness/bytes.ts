/**
 * Test payloads: reproducible pseudo-random bytes and their SHA-256, to check that a transfer
 * arrived intact.
 * @module
 */
import { createHash } from 'node:crypto';
import { SeededRng } from '../../src/runtime/rng.js';

/** `n` pseudo-random bytes, the same for the same `seed` (32-bit words, little-endian). */
export function seededBytes(n: number, seed: number): Buffer {
  const r = new SeededRng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(r.u32(), i);
  return b;
}

/** The SHA-256 of `b`, in hex. */
export function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
