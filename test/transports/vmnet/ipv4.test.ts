import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIpv4, isIpv4Number, parseIpv4 } from '../../../src/transports/vmnet/ipv4.js';

test('dotted text ⇄ host-order u32', () => {
  assert.is(parseIpv4('192.168.65.10')._unsafeUnwrap(), 0xc0a8410a);
  assert.is(formatIpv4(0xc0a8410a), '192.168.65.10');
  assert.is(parseIpv4('0.0.0.0')._unsafeUnwrap(), 0);
  assert.is(parseIpv4('255.255.255.255')._unsafeUnwrap(), 0xffffffff);
  for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', 'a.b.c.d', '1.2.3.4 ', '']) {
    assert.is(parseIpv4(bad)._unsafeUnwrapErr().kind, 'bad-ipv4', bad);
  }
  assert.ok(isIpv4Number(0xffffffff));
  assert.not.ok(isIpv4Number(-1));
  assert.not.ok(isIpv4Number(1.5));
});

test('format then parse is the identity (property)', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(n))._unsafeUnwrap() === n));
});

test.run();
