import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Drop, DROP_CODES, dropCountsToObject, dropNames } from '../../src/wire/drop.js';

test('codes are 0..DROP_CODES-1, each named once, and None is 0', () => {
  const codes = Object.values(Drop).sort((a, b) => a - b);
  assert.equal(codes, Array.from({ length: DROP_CODES }, (_, i) => i));
  assert.is(Drop.None, 0);
  assert.is(dropNames.length, DROP_CODES);
  assert.is(new Set(dropNames).size, DROP_CODES);
  assert.is(dropNames[Drop.BadChecksum], 'badChecksum');
  assert.is(dropNames[Drop.TxFull], 'txFull');
});

test('dropCountsToObject leaves out none and zeros and names unknown codes', () => {
  const c = new Uint32Array(DROP_CODES + 1);
  c[Drop.None] = 5;
  c[Drop.Truncated] = 2;
  c[Drop.Fragment] = 1;
  c[DROP_CODES] = 3;
  assert.equal(dropCountsToObject(c), { truncated: 2, fragment: 1, [`code${DROP_CODES}`]: 3 });
  assert.equal(dropCountsToObject(new Uint32Array(DROP_CODES)), {});
});

test.run();
