/**
 * Throughput of the Internet checksum on the per-frame path. Run by hand (not part of the test
 * glob, and nothing here is a pass/fail criterion):
 *
 *   npx tsx test/bench/wire-checksum.bench.ts
 *
 * It times `sumBytes` from `src/wire/checksum.ts` against a frozen copy of the original
 * byte-at-a-time loop, on a 1500-byte frame and a 65535-byte segment, at an aligned and at an
 * odd offset, and prints MB/s (1 MB = 10^6 bytes) as the median of several rounds.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { fold, sumBytes } from '../../src/wire/checksum.js';

/** The first `sumBytes` (big-endian byte pairs, unrolled by four), kept as the baseline. */
function byteLoopSum(b: Uint8Array, off: number, len: number, sum = 0): number {
  let i = off;
  const end = off + len;
  const end8 = off + (len & ~7);
  while (i < end8) {
    sum += ((b[i]! << 8) | b[i + 1]!) + ((b[i + 2]! << 8) | b[i + 3]!) + ((b[i + 4]! << 8) | b[i + 5]!) + ((b[i + 6]! << 8) | b[i + 7]!);
    i += 8;
  }
  while (i + 1 < end) {
    sum += (b[i]! << 8) | b[i + 1]!;
    i += 2;
  }
  if (i < end) sum += b[i]! << 8;
  return sum;
}

type SumFn = (b: Uint8Array, off: number, len: number, sum?: number) => number;

/** Bytes per round so each measurement runs long enough to be stable (~64 MB). */
const BYTES_PER_ROUND = 64 * 1024 * 1024;
const ROUNDS = 9;

function measure(fn: SumFn, buf: Uint8Array, off: number, len: number): number {
  const iters = Math.max(1, Math.floor(BYTES_PER_ROUND / len));
  let sink = 0;
  // Warm up so the optimising compiler has seen the loop.
  for (let i = 0; i < Math.min(iters, 2000); i++) sink += fn(buf, off, len, i);
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) sink += fn(buf, off, len, i & 0xff);
    const ms = performance.now() - t0;
    rates.push((iters * len) / (ms * 1000));
  }
  if (sink === -1) console.log('unreachable');
  rates.sort((a, b) => a - b);
  return rates[Math.floor(ROUNDS / 2)]!;
}

const backing = new Uint8Array(65536 + 64);
for (let i = 0; i < backing.length; i++) backing[i] = (i * 2654435761) >>> 24;

const cases: Array<[string, number, number]> = [
  ['1500 B, offset 14 (frame after Ethernet)', 14, 1500],
  ['1500 B, offset 15 (odd)', 15, 1500],
  ['65535 B, offset 0', 0, 65535],
  ['65535 B, offset 33 (odd)', 33, 65535],
];

for (const [, off, len] of cases) {
  if (fold(sumBytes(backing, off, len)) !== fold(byteLoopSum(backing, off, len))) throw new Error(`sumBytes disagrees with the baseline at ${off}+${len}`);
}

console.log(`node ${process.version}, ${ROUNDS} rounds of ~${BYTES_PER_ROUND / 2 ** 20} MiB, median MB/s`);
console.log('case'.padEnd(44) + 'byte loop'.padStart(12) + 'sumBytes'.padStart(12) + 'speed-up'.padStart(10));
for (const [name, off, len] of cases) {
  const base = measure(byteLoopSum, backing, off, len);
  const cur = measure(sumBytes, backing, off, len);
  console.log(name.padEnd(44) + base.toFixed(0).padStart(12) + cur.toFixed(0).padStart(12) + `${(cur / base).toFixed(2)}x`.padStart(10));
}
