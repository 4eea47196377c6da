import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Reassembly } from '../../../src/stack/tcp/reassembly.js';
import { SackScoreboard } from '../../../src/stack/tcp/sack-scoreboard.js';
import { SendBuffer } from '../../../src/stack/tcp/send-buffer.js';
import { RttEstimator } from '../../../src/stack/tcp/rtt.js';
import { BufferPool } from '../../../src/runtime/buffer-pool.js';
import { SeededRng } from '../../../src/runtime/rng.js';

const bytes = (n: number, seed = 1): Buffer => {
  const r = new SeededRng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r.u32() & 255;
  return b;
};

test('send ring: accepts up to its bound, wraps, grows, and copies out what was written', () => {
  const sb = new SendBuffer(16, 100);
  const data = bytes(300);
  assert.is(sb.write(data, 0, 60), 60);
  assert.is(sb.capacity, 64, 'doubled from 16 to fit 60');
  sb.consume(50);
  assert.is(sb.write(data, 60, 80), 80, 'wraps around the ring');
  assert.is(sb.length, 90);
  assert.is(sb.write(data, 140, 50), 10, 'only up to the 100-byte bound');
  assert.is(sb.free, 0);
  assert.is(sb.write(data, 150, 5), 0, 'full');
  const out = Buffer.alloc(100);
  sb.copyOut(0, out, 0, 100);
  assert.equal(out, data.subarray(50, 150));
  sb.copyOut(37, out, 0, 20);
  assert.equal(out.subarray(0, 20), data.subarray(87, 107));
});

test('send ring: a long random run of writes, partial consumes and reads stays byte-exact', () => {
  const r = new SeededRng(7);
  const sb = new SendBuffer(1024, 10000);
  const src = bytes(1 << 20, 3);
  let written = 0;
  let consumed = 0;
  for (let i = 0; i < 5000; i++) {
    const w = r.u32() % 3000;
    written += sb.write(src, written, Math.min(w, src.length - written));
    const c = r.u32() % (sb.length + 1);
    if (sb.length > 0) {
      const off = r.u32() % sb.length;
      const len = Math.min(sb.length - off, 1 + (r.u32() % 500));
      const out = Buffer.alloc(len);
      sb.copyOut(off, out, 0, len);
      assert.ok(out.equals(src.subarray(consumed + off, consumed + off + len)), `read at step ${i}`);
    }
    sb.consume(c);
    consumed += c;
    assert.is(sb.length, written - consumed);
  }
});

test('send ring: no memory until the first write; released to its pool, reused by the next ring', () => {
  const pool = new BufferPool();
  const a = new SendBuffer(1024, 8192, pool);
  assert.is(a.capacity, 0, 'nothing allocated for a connection that has not sent');
  const data = bytes(3000);
  assert.is(a.write(data, 0, 3000), 3000);
  assert.is(a.capacity, 4096, 'first ring doubled from 1024 to fit 3000');
  a.consume(3000);
  a.release();
  assert.is(a.capacity, 0);
  assert.is(a.length, 0);
  assert.is(pool.stats().freeBytes, 4096, 'the ring went back');
  const b = new SendBuffer(4096, 8192, pool);
  assert.is(b.write(data, 0, 100), 100);
  assert.is(pool.stats().reused, 1, 'the next connection took it');
  const out = Buffer.alloc(100);
  b.copyOut(0, out, 0, 100);
  assert.ok(out.equals(data.subarray(0, 100)), 'only what was written since is read');
  assert.is(a.write(data, 0, 10), 10, 'a released ring takes a new one on the next write');
});

test('send ring: growing keeps the bytes in order and gives the smaller ring back', () => {
  const pool = new BufferPool();
  const sb = new SendBuffer(1024, 1 << 20, pool);
  const data = bytes(10_000, 5);
  assert.is(sb.write(data, 0, 1000), 1000);
  sb.consume(600);
  assert.is(sb.write(data, 1000, 5000), 5000, 'wrapped, then grown to 8 KiB');
  assert.is(sb.capacity, 8192);
  assert.is(pool.stats().freeBytes, 1024, 'the 1 KiB ring went back');
  const out = Buffer.alloc(5400);
  sb.copyOut(0, out, 0, 5400);
  assert.ok(out.equals(data.subarray(600, 6000)));
});

test('reassembly: nothing allocated before the first hole; release gives the ring back', () => {
  const pool = new BufferPool();
  const ra = new Reassembly(1 << 20, 8, pool);
  assert.is(pool.stats().allocated, 0);
  const d = bytes(2000, 2);
  assert.ok(ra.insert(500, d, 500, 1000));
  assert.is(pool.stats().allocated, 1);
  ra.release();
  assert.ok(ra.isEmpty);
  assert.is(pool.stats().freeBytes, 64 * 1024);
  assert.ok(ra.insert(100, d, 100, 10), 'usable again after release');
  assert.is(pool.stats().reused, 1);
});

test('reassembly: ranges merge, a filled hole becomes contiguous, the ring delivers it in order', () => {
  const ra = new Reassembly(1 << 20, 8);
  const d = bytes(5000, 9);
  assert.ok(ra.insert(1000, d, 1000, 500));
  assert.ok(ra.insert(3000, d, 3000, 1000));
  assert.ok(ra.insert(1400, d, 1400, 700), 'overlapping insert merges');
  assert.is(ra.count, 2);
  assert.is(ra.bytesHeld, 1100 + 1000);
  assert.is(ra.contiguous(), 0, 'hole at 0..1000');
  // The consumer got 0..1000 from the frame itself: advance past it.
  ra.advance(1000);
  assert.is(ra.contiguous(), 1100);
  const ring = ra.buffer;
  const got = Buffer.from(ring.subarray(ra.headOffset, ra.headOffset + 1100));
  assert.ok(got.equals(d.subarray(1000, 2100)));
  ra.advance(1100);
  assert.is(ra.contiguous(), 0);
  assert.is(ra.count, 1);
  const blocks = new Uint32Array(8);
  assert.is(ra.sackBlocks(5000, blocks, 4), 1);
  assert.equal([blocks[0], blocks[1]], [5000 + 900, 5000 + 1900]);
});

test('reassembly: the range count is bounded and the most recent range is reported first', () => {
  const ra = new Reassembly(1 << 20, 3);
  const d = bytes(10000);
  assert.ok(ra.insert(100, d, 0, 10));
  assert.ok(ra.insert(300, d, 0, 10));
  assert.ok(ra.insert(200, d, 0, 10));
  assert.not.ok(ra.insert(400, d, 0, 10), 'a fourth disjoint range is refused');
  assert.ok(ra.insert(110, d, 0, 90), 'a range joining two is fine');
  assert.is(ra.count, 2);
  const blocks = new Uint32Array(8);
  const n = ra.sackBlocks(0, blocks, 3);
  assert.equal(Array.from(blocks.subarray(0, 2 * n)), [100, 210, 300, 310]);
});

test('reassembly: bytes beyond the bound are cut, and the ring grows while keeping content', () => {
  const ra = new Reassembly(200_000, 8);
  const d = bytes(300_000, 4);
  assert.ok(ra.insert(10, d, 10, 100));
  assert.ok(ra.insert(150_000, d, 150_000, 100_000), 'cut at the bound');
  assert.is(ra.bytesHeld, 100 + 50_000);
  assert.not.ok(ra.insert(200_000, d, 0, 10), 'entirely beyond the bound');
  ra.advance(10);
  const got = Buffer.from(ra.buffer.subarray(ra.headOffset, ra.headOffset + 100));
  assert.ok(got.equals(d.subarray(10, 110)));
});

test('SACK scoreboard: merge, advance, holes and SACKed bytes below a point', () => {
  const s = new SackScoreboard();
  s.add(1000, 2000);
  s.add(3000, 4000);
  s.add(1500, 2500);
  assert.is(s.count, 2);
  assert.is(s.sackedBytes, 2500);
  assert.is(s.highest, 4000);
  assert.is(s.nextUnsacked(1200), 2500);
  assert.is(s.nextUnsacked(500), 500);
  assert.is(s.nextSackedStart(2500), 3000);
  assert.is(s.sackedBelow(3500), 1500 + 500);
  s.advance(1200);
  assert.is(s.sackedBytes, 1300 + 1000);
  assert.is(s.nextUnsacked(0), 1300);
  s.advance(5000);
  assert.is(s.count, 0);
  assert.is(s.sackedBytes, 0);
});

test('RTT estimator follows RFC 6298: first sample, smoothing, floor, backoff and reset on a sample', () => {
  const r = new RttEstimator(1000, 200, 60_000);
  assert.is(r.rto, 1000, 'initial RTO (§2.1)');
  r.sample(100);
  assert.is(r.srtt, 100);
  assert.is(r.rttvar, 50);
  assert.is(r.rto, 300, 'SRTT + 4*RTTVAR (§2.2)');
  r.sample(200);
  assert.is(r.rttvar, 0.75 * 50 + 0.25 * 100);
  assert.is(r.srtt, 0.875 * 100 + 0.125 * 200);
  r.sample(0);
  r.sample(0);
  r.sample(0);
  r.sample(0);
  r.sample(0);
  r.sample(0);
  assert.ok(r.rto >= 200, 'clamped to the floor');
  const base = r.rto;
  r.backOff();
  r.backOff();
  assert.is(r.rto, base * 4, 'doubles per expiry (§5.5)');
  for (let i = 0; i < 40; i++) r.backOff();
  assert.is(r.rto, 60_000, 'capped');
  r.sample(10);
  assert.is(r.backoff, 0, 'a new sample ends the backoff');
});

test.run();
