import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setU16be, setU16le, setU32be, setU48be, u16be, u16le, u32be, u48be } from '../../src/wire/bytes.js';
import { filled, FILL, hexOf } from './golden/mutate.js';

const SEED = 0xb17e5;

test('big-endian reads of known bytes (network order, RFC 791 Appendix B)', () => {
  const b = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
  assert.is(u16be(b, 0), 0x1234);
  assert.is(u16be(b, 1), 0x3456);
  assert.is(u32be(b, 0), 0x12345678);
  assert.is(u32be(b, 4), 0x9abcdef0, 'unsigned even with the top bit set');
  assert.is(u48be(b, 2), 0x56789abcdef0);
  assert.is(u16le(b, 0), 0x3412);
});

test('writes touch exactly their bytes, and read back (16, 32, 48 bits, both byte orders)', () => {
  const b = filled(10);
  setU16be(b, 1, 0xbeef);
  assert.is(hexOf(b), 'a5beefa5a5a5a5a5a5a5');
  setU32be(b, 3, 0xdeadbeef);
  assert.is(hexOf(b), 'a5beefdeadbeefa5a5a5');
  setU16le(b, 7, 0x1234);
  assert.is(hexOf(b), 'a5beefdeadbeef3412a5');
  const m = filled(8);
  setU48be(m, 1, 0xffffffffffff);
  assert.is(hexOf(m), 'a5ffffffffffffa5');
  assert.is(m[0], FILL);
  fc.assert(
    fc.property(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 2 ** 48 - 1 }), (a, c, d) => {
      const x = new Uint8Array(16);
      setU16be(x, 0, a);
      setU32be(x, 2, c);
      setU48be(x, 6, d);
      setU16le(x, 12, a);
      assert.is(u16be(x, 0), a);
      assert.is(u32be(x, 2), c);
      assert.is(u48be(x, 6), d);
      assert.is(u16le(x, 12), a);
      assert.is(new DataView(x.buffer).getUint32(2), c, 'agrees with DataView');
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

test('writers keep only the low bits of an oversized or signed value', () => {
  const b = new Uint8Array(4);
  setU16be(b, 0, 0x12345);
  assert.is(u16be(b, 0), 0x2345);
  setU32be(b, 0, -1);
  assert.is(u32be(b, 0), 0xffffffff);
});

test.run();
