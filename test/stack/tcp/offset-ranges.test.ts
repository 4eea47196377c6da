import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OffsetRanges } from '../../../src/stack/tcp/offset-ranges.js';

/** The ranges as [start, end) pairs. */
function pairs(r: OffsetRanges): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let k = 0; k < r.count; k++) out.push([r.start(k), r.end(k)]);
  return out;
}

/** The same set kept as a plain bitmap of offsets below 256, shifted by slicing. */
class Model {
  bits: boolean[] = new Array<boolean>(256).fill(false);
  insert(s: number, e: number): void {
    for (let x = s; x < e; x++) this.bits[x] = true;
  }
  shift(n: number): void {
    this.bits = [...this.bits.slice(n), ...new Array<boolean>(n).fill(false)];
  }
  runs(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let x = 0; x < 256; x++) {
      if (!this.bits[x]) continue;
      const s = x;
      while (x < 256 && this.bits[x]) x++;
      out.push([s, x]);
    }
    return out;
  }
}

test('touching and overlapping ranges merge; a gap makes a new range; the set stays sorted', () => {
  const r = new OffsetRanges(4);
  assert.is(r.insert(10, 20), 0);
  assert.is(r.insert(30, 40), 1);
  assert.is(r.insert(0, 5), 0);
  assert.equal(pairs(r), [[0, 5], [10, 20], [30, 40]]);
  assert.is(r.insert(20, 30), 1); // touches both neighbours: one range
  assert.equal(pairs(r), [[0, 5], [10, 40]]);
  assert.is(r.covered, 35);
});

test('a full set refuses a range that needs one more slot, and still merges ones that touch', () => {
  const r = new OffsetRanges(2);
  r.insert(0, 1);
  r.insert(10, 11);
  assert.is(r.insert(5, 6), -1);
  assert.equal(pairs(r), [[0, 1], [10, 11]]);
  assert.is(r.insert(1, 3), 0);
  assert.equal(pairs(r), [[0, 3], [10, 11]]);
});

test('shift moves the origin: ranges behind it are dropped and counted, one straddling it is cut', () => {
  const r = new OffsetRanges(4);
  r.insert(2, 4);
  r.insert(6, 10);
  r.insert(20, 25);
  assert.is(r.shift(8), 1);
  assert.equal(pairs(r), [[0, 2], [12, 17]]);
  assert.is(r.covered, 7);
});

test('property: inserts and shifts agree with a bitmap model while no insert is refused', () => {
  const op = fc.oneof(
    fc.tuple(fc.constant('insert' as const), fc.nat(200), fc.integer({ min: 1, max: 40 })),
    fc.tuple(fc.constant('shift' as const), fc.integer({ min: 1, max: 30 }), fc.constant(0)),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const r = new OffsetRanges(64);
      const m = new Model();
      for (const [kind, a, b] of ops) {
        if (kind === 'insert') {
          const e = Math.min(a + b, 256);
          if (e <= a) continue;
          assert.ok(r.insert(a, e) >= 0);
          m.insert(a, e);
        } else {
          r.shift(a);
          m.shift(a);
        }
        const runs = m.runs();
        assert.equal(pairs(r), runs);
        assert.is(r.covered, runs.reduce((t, [s, e]) => t + e - s, 0));
      }
    }),
    { numRuns: 300 },
  );
});

test.run();
