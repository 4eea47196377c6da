/**
 * The held-frames ring against a plain array model: random sizes, deadlines and out-of-order
 * frees force wrapping, growth and the bounds; every released frame must carry its own bytes,
 * in (deadline, arrival) order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../src/runtime/rng.js';
import { HeldFrames } from '../../src/switch/condition-queue.js';

function frame(id: number, len: number): Buffer {
  const f = Buffer.alloc(len, id & 0xff);
  f.writeUInt32LE(id, 0);
  return f;
}

function take(h: HeldFrames): { id: number; len: number; ok: boolean; slot: number } {
  const s = h.shift();
  const off = h.offsetOf(s);
  const len = h.lengthOf(s);
  const b = Buffer.from(h.buf.buffer, h.buf.byteOffset + off, len);
  const id = b.readUInt32LE(0);
  let ok = true;
  for (let i = 4; i < len; i++) if (b[i] !== (id & 0xff)) ok = false;
  return { id, len, ok, slot: s };
}

test('releases by deadline, arrival order among equal deadlines', () => {
  const h = new HeldFrames(1 << 20, 1000);
  h.push(frame(1, 60), 0, 60, 30);
  h.push(frame(2, 60), 0, 60, 10);
  h.push(frame(3, 60), 0, 60, 30);
  h.push(frame(4, 60), 0, 60, 10);
  assert.is(h.nextAt(), 10);
  const got: number[] = [];
  while (h.size > 0) {
    const t = take(h);
    got.push(t.id);
    h.free(t.slot);
  }
  assert.equal(got, [2, 4, 1, 3]);
  assert.is(h.heldBytes, 0);
  assert.is(h.nextAt(), Infinity);
});

test('the byte bound: a frame that cannot fit is refused and nothing is kept', () => {
  const h = new HeldFrames(64 * 1024, 1000);
  let n = 0;
  while (h.push(frame(n, 1500), 0, 1500, n)) n++;
  assert.is(n, Math.floor((64 * 1024) / 1500));
  assert.not.ok(h.fits(1500));
  assert.ok(h.fits(64 * 1024 - n * 1500), 'the exact remainder still fits');
  assert.ok(h.buf.length <= 64 * 1024);
  assert.is(h.size, n);
});

test('the frame bound', () => {
  const h = new HeldFrames(1 << 20, 100);
  for (let i = 0; i < 100; i++) assert.ok(h.push(frame(i, 20), 0, 20, i));
  assert.not.ok(h.fits(20));
  assert.not.ok(h.push(frame(100, 20), 0, 20, 100));
  const t = take(h);
  h.free(t.slot);
  assert.ok(h.push(frame(101, 20), 0, 20, 101), 'a freed slot makes room');
});

test('clear forgets everything and bumps the generation; free of a cleared slot is harmless', () => {
  const h = new HeldFrames(1 << 20, 100);
  for (let i = 0; i < 10; i++) h.push(frame(i, 100), 0, 100, i);
  const t = take(h);
  const g = h.generation;
  assert.is(h.clear(), 9);
  assert.is(h.generation, g + 1);
  h.free(t.slot);
  assert.is(h.size, 0);
  assert.is(h.heldBytes, 0);
  assert.ok(h.push(frame(50, 100), 0, 100, 1));
  assert.is(take(h).id, 50);
});

test('model check: 200,000 random operations with jittered deadlines and delayed frees', () => {
  const rng = new SeededRng(2024);
  const r = (n: number): number => rng.u32() % n;
  const maxBytes = 256 * 1024;
  const h = new HeldFrames(maxBytes, 4096);
  type M = { id: number; len: number; at: number; seq: number };
  let model: M[] = [];
  const shifted: Array<{ slot: number; len: number }> = [];
  let seq = 0;
  let now = 0;
  let id = 0;
  let pushes = 0;
  let refusals = 0;
  for (let step = 0; step < 200_000; step++) {
    const op = r(10);
    if (op < 5) {
      const len = 14 + r(r(4) === 0 ? 9000 : 1500);
      const at = now + r(50);
      const fits = h.fits(len);
      const pushed = h.push(frame(id, len), 0, len, at);
      assert.is(pushed, fits, `fits() agrees with push() at step ${step}`);
      if (pushed) {
        model.push({ id, len, at, seq: seq++ });
        pushes++;
      } else refusals++;
      id++;
    } else if (op < 9 && h.size > 0) {
      model.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const want = model.shift()!;
      assert.is(h.nextAt(), want.at);
      const t = take(h);
      assert.equal([t.id, t.len, t.ok], [want.id, want.len, true], `step ${step}`);
      // Some frames are freed at once, others later and out of order (a sink still reading).
      if (r(3) === 0) shifted.push({ slot: t.slot, len: t.len });
      else h.free(t.slot);
    } else {
      while (shifted.length > 0 && r(2) === 0) h.free(shifted.splice(r(shifted.length), 1)[0]!.slot);
      now += 1;
    }
    assert.ok(h.buf.length <= maxBytes);
    assert.is(h.size, model.length);
    assert.is(h.heldBytes, model.reduce((a, m) => a + m.len, 0) + shifted.reduce((a, s) => a + s.len, 0));
  }
  assert.ok(pushes > 50_000 && refusals > 100, `exercised both paths: ${pushes} pushed, ${refusals} refused`);
  model = [];
});

test('release() gives the memory back; the ring regrows on demand', () => {
  const h = new HeldFrames(1 << 20, 100);
  h.push(frame(1, 1000), 0, 1000, 1);
  assert.ok(h.buf.length > 0);
  h.release();
  assert.is(h.buf.length, 0);
  assert.ok(h.push(frame(2, 1000), 0, 1000, 1));
  assert.is(take(h).id, 2);
});

test.run();
