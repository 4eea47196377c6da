/**
 * Randomness as the rest of vnetkit sees it. Initial sequence numbers, DHCP and DNS ids, MACs
 * and conditioning decisions all come from an {@link Rng}, so a seeded run replays bit for bit.
 * @module
 */
import { randomFillSync } from 'node:crypto';

/** A source of uniformly random 32-bit unsigned integers. */
export interface Rng {
  u32(): number;
}

/** Uniform float in [0, 1) from an {@link Rng}. */
export function randomUnit(rng: Rng): number {
  return rng.u32() / 4294967296;
}

/** Cryptographically strong randomness, refilled 256 words at a time so the per-call cost stays small. */
export class CryptoRng implements Rng {
  private readonly pool = new Uint32Array(256);
  private next = 256;
  u32(): number {
    if (this.next === 256) {
      randomFillSync(this.pool);
      this.next = 0;
    }
    return this.pool[this.next++]!;
  }
}

/** A small seeded generator (mulberry32): reproducible, fast, not for secrets. */
export class SeededRng implements Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
}
