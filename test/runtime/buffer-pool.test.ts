import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BufferPool } from '../../src/runtime/buffer-pool.js';

test('a released buffer is handed out again for the same size, not for another', () => {
  const pool = new BufferPool();
  const a = pool.acquire(4096);
  assert.is(a.length, 4096);
  pool.release(a);
  assert.is(pool.acquire(8192).length, 8192, 'another size is a fresh buffer');
  assert.is(pool.acquire(4096), a, 'same size: the released one');
  assert.equal(pool.stats(), { allocated: 2, reused: 1, discarded: 0, freeBytes: 0 });
});

test('the most recently released buffer comes back first (it is still in the cache)', () => {
  const pool = new BufferPool();
  const a = pool.acquire(1024);
  const b = pool.acquire(1024);
  pool.release(a);
  pool.release(b);
  assert.is(pool.acquire(1024), b);
  assert.is(pool.acquire(1024), a);
});

test('retention is bounded per size and in total; the rest is left to the GC', () => {
  const pool = new BufferPool(4096, 6144);
  const bufs = [pool.acquire(1024), pool.acquire(1024), pool.acquire(1024), pool.acquire(1024), pool.acquire(1024)];
  for (const b of bufs) pool.release(b);
  assert.is(pool.stats().freeBytes, 4096, 'four of 1 KiB fit the per-size bound');
  assert.is(pool.stats().discarded, 1);
  const big = pool.acquire(8192);
  pool.release(big);
  assert.is(pool.stats().freeBytes, 4096, 'one 8 KiB buffer would pass the total bound');
  const two = pool.acquire(2048);
  pool.release(two);
  assert.is(pool.stats().freeBytes, 6144);
  pool.trim();
  assert.is(pool.stats().freeBytes, 0);
  assert.is.not(pool.acquire(1024), bufs[0], 'trimmed: a fresh buffer');
});

test('a view into a larger buffer is never taken in (its memory belongs to someone else)', () => {
  const pool = new BufferPool();
  const whole = Buffer.allocUnsafeSlow(8192);
  pool.release(whole.subarray(0, 4096));
  pool.release(whole.subarray(4096));
  assert.is(pool.stats().freeBytes, 0);
  assert.is.not(pool.acquire(4096).buffer, whole.buffer);
});

test.run();
