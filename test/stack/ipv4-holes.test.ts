import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { HoleList, OPEN_END } from '../../src/stack/ipv4-holes.js';

const filled = (h: HoleList, a: number, b: number): Array<[number, number]> => {
  const out: Array<[number, number]> = [];
  h.forEachFilled(a, b, (x, y) => (out.push([x, y]), true));
  return out;
};

test('a new datagram has one open hole [0, ∞)', () => {
  const h = new HoleList();
  assert.equal(h.toArray(), [[0, OPEN_END]]);
  assert.not.ok(h.isEmpty());
});

test('RFC 815 fill: in the middle splits a hole, at the edges trims it, the last fragment closes it', () => {
  const h = new HoleList();
  h.fill(16, 24, true);
  assert.equal(h.toArray(), [
    [0, 16],
    [24, OPEN_END],
  ]);
  h.fill(0, 8, true);
  assert.equal(h.toArray(), [
    [8, 16],
    [24, OPEN_END],
  ]);
  h.fill(24, 30, false);
  assert.equal(h.toArray(), [[8, 16]], 'no trailing hole after the last fragment');
  h.fill(8, 16, true);
  assert.ok(h.isEmpty());
});

test('a fragment spanning several holes removes all of them', () => {
  const h = new HoleList();
  h.fill(8, 16, true);
  h.fill(24, 32, true);
  h.fill(40, 48, false);
  assert.is(h.count, 3);
  h.fill(0, 48, true);
  assert.ok(h.isEmpty());
});

test('forEachFilled reports exactly the parts already received', () => {
  const h = new HoleList();
  h.fill(8, 16, true);
  h.fill(24, 32, true);
  assert.equal(filled(h, 0, 40), [
    [8, 16],
    [24, 32],
  ]);
  assert.equal(filled(h, 10, 26), [
    [10, 16],
    [24, 26],
  ]);
  assert.equal(filled(h, 16, 24), []);
  assert.ok(h.anyMissing(10, 20));
  assert.not.ok(h.anyMissing(8, 16));
  assert.not.ok(h.forEachFilled(0, 40, () => false), 'stops when the visitor says so');
});

test('truncate cuts holes at the datagram end (a duplicate last piece after the data)', () => {
  const h = new HoleList();
  h.fill(0, 16, true);
  // [16, ∞) remains; the last fragment repeats [8, 16) with MF = 0.
  h.fill(8, 16, false);
  assert.ok(h.isEmpty());
});

test('property: holes are exactly the complement of what was filled', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 20 })), { maxLength: 30 }), (ranges) => {
      const h = new HoleList();
      const have = new Uint8Array(100);
      for (const [s, l] of ranges) {
        h.fill(s, s + l, true);
        have.fill(1, s, s + l);
      }
      for (let i = 0; i < 100; i++) {
        assert.is(h.anyMissing(i, i + 1), have[i] === 0, `byte ${i}`);
        assert.is(filled(h, i, i + 1).length, have[i], `byte ${i} filled`);
      }
      const arr = h.toArray();
      for (let i = 1; i < arr.length; i++) assert.ok(arr[i - 1]![1] < arr[i]![0], 'sorted and disjoint, never touching');
    }),
    { seed: 815, numRuns: 300 },
  );
});

test.run();
