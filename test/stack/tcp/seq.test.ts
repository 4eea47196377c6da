import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin } from '../../../src/stack/tcp/seq.js';

const TOP = 0xffffffff;
// Points around every interesting boundary: 0, 2^31, 2^32 - 1 and their neighbours.
const POINTS = [0, 1, 2, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, TOP, 12345, 0xdeadbeef];
const DELTAS = [0, 1, 2, 1000, 65535, 65536, 0x3fffffff, 0x7ffffffe, 0x7fffffff];

test('seqAdd wraps modulo 2^32 and stays unsigned', () => {
  assert.is(seqAdd(TOP, 1), 0);
  assert.is(seqAdd(TOP, 2), 1);
  assert.is(seqAdd(0, -1), TOP);
  assert.is(seqAdd(0x80000000, 0x80000000), 0);
  for (const a of POINTS) for (const d of DELTAS) {
    const r = seqAdd(a, d);
    assert.ok(r >= 0 && r <= TOP && Number.isInteger(r), `${a}+${d}`);
    assert.is(r, Number((BigInt(a) + BigInt(d)) % 2n ** 32n));
  }
});

test('a + d is after a and a - d before it for every point and every distance below 2^31', () => {
  for (const a of POINTS) {
    for (const d of DELTAS) {
      const b = seqAdd(a, d);
      const c = seqAdd(a, -d);
      assert.is(seqDiff(b, a), d, `diff(${b}, ${a})`);
      assert.is(seqDiff(a, b), -d);
      assert.is(seqLe(a, b), true);
      assert.is(seqGe(b, a), true);
      assert.is(seqLt(a, b), d !== 0, `lt(${a}, ${b})`);
      assert.is(seqGt(b, a), d !== 0);
      assert.is(seqLt(c, a), d !== 0, `lt(${c}, ${a})`);
      assert.is(seqMax(a, b), b);
      assert.is(seqMin(a, b), a);
    }
  }
});

test('ordering agrees with the unwrapped integers across the 2^32 boundary', () => {
  // A window straddling zero: ... 0xfffffffe, 0xffffffff, 0, 1 ... in that order.
  const seq = [0xfffffff0, 0xfffffffe, TOP, 0, 1, 0x10];
  for (let i = 0; i < seq.length; i++) {
    for (let j = 0; j < seq.length; j++) {
      assert.is(seqLt(seq[i]!, seq[j]!), i < j, `${seq[i]} < ${seq[j]}`);
      assert.is(seqLe(seq[i]!, seq[j]!), i <= j);
    }
  }
});

test('seqInWindow is half-open and wraps', () => {
  assert.ok(seqInWindow(TOP, 0xfffffff0, 0x10));
  assert.ok(seqInWindow(0, 0xfffffff0, 0x10));
  assert.ok(seqInWindow(0xfffffff0, 0xfffffff0, 0x10));
  assert.not.ok(seqInWindow(0x10, 0xfffffff0, 0x10));
  assert.not.ok(seqInWindow(0xffffffef, 0xfffffff0, 0x10));
  assert.not.ok(seqInWindow(5, 5, 5), 'an empty window holds nothing');
});

test('property: for any a and |d| < 2^31, diff(a + d, a) = d', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: TOP }), fc.integer({ min: -0x7fffffff, max: 0x7fffffff }), (a, d) => {
      const b = seqAdd(a, d);
      return seqDiff(b, a) === d && seqLt(a, b) === d > 0 && seqGt(a, b) === d < 0;
    }),
    { seed: 42, numRuns: 5000 },
  );
});

test.run();
