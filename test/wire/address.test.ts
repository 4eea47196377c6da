import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BROADCAST_MAC,
  broadcastOf,
  cidrContains,
  formatCidr,
  formatIpv4,
  formatMac,
  isGroupMac,
  macToBytes,
  maskOf,
  parseCidr,
  parseIpv4,
  parseMac,
} from '../../src/wire/address.js';

const SEED = 0xadd7e55;

test('parseIpv4 / formatIpv4: known values and the round trip over all u32', () => {
  assert.is(parseIpv4('10.99.0.1'), 0x0a630001);
  assert.is(parseIpv4('0.0.0.0'), 0);
  assert.is(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.is(parseIpv4('192.168.65.1'), 0xc0a84101);
  assert.is(formatIpv4(0xc0a84101), '192.168.65.1');
  assert.is(formatIpv4(0xffffffff), '255.255.255.255');
  // A value that went through signed 32-bit arithmetic formats the same.
  assert.is(formatIpv4(0xffffffff | 0), '255.255.255.255');
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), (v) => {
      assert.is(parseIpv4(formatIpv4(v)), v);
    }),
    { seed: SEED, numRuns: 5000 },
  );
});

test('parseIpv4 rejects everything that is not exactly a dotted quad', () => {
  const bad = [
    '',
    '10.0.0',
    '10.0.0.1.5',
    ' 10.0.0.1',
    'x10.0.0.1',
    '10.0.0.1 ',
    '10.0.0.1\n',
    '10.0.0.1/24',
    '256.0.0.1',
    '10.0.0.256',
    '10.0.0.999',
    '1000.0.0.1',
    '-1.0.0.1',
    '+1.0.0.1',
    '10..0.1',
    '10.0.0.',
    '0x0a.0.0.1',
    '1e1.0.0.1',
    '10.0.0.١', // Arabic-Indic digit one: not ASCII
    '010.0.0.1', // inet_aton() would read 8.0.0.1
    '10.0.0.01',
    '10.00.0.1',
  ];
  for (const s of bad) assert.is(parseIpv4(s), undefined, JSON.stringify(s));
});

test('parseCidr: host bits cleared, bare address is /32, round trip, rejections', () => {
  assert.equal(parseCidr('192.168.65.7/24'), { network: 0xc0a84100, prefix: 24 });
  assert.equal(parseCidr('10.1.2.3'), { network: 0x0a010203, prefix: 32 });
  assert.equal(parseCidr('1.2.3.4/0'), { network: 0, prefix: 0 });
  assert.equal(parseCidr('255.255.255.255/32'), { network: 0xffffffff, prefix: 32 });
  assert.is(formatCidr(parseCidr('172.16.9.9/12')!), '172.16.0.0/12');
  for (const s of ['1.2.3.4/33', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/ 8', '1.2.3.4/08', '1.2.3.4/8/8', '1.2.3.4/x', '/8', '256.1.1.1/8', '1.2.3.4/100']) {
    assert.is(parseCidr(s), undefined, s);
  }
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (ip, p) => {
      const c = parseCidr(`${formatIpv4(ip)}/${p}`)!;
      assert.is(c.prefix, p);
      assert.equal(parseCidr(formatCidr(c)), c);
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

test('maskOf and broadcastOf at the edges (/0, /31, /32)', () => {
  assert.is(maskOf(0), 0);
  assert.is(maskOf(1), 0x80000000);
  assert.is(maskOf(24), 0xffffff00);
  assert.is(maskOf(32), 0xffffffff);
  assert.is(broadcastOf(parseCidr('192.168.65.0/24')!), 0xc0a841ff);
  assert.is(broadcastOf(parseCidr('0.0.0.0/0')!), 0xffffffff);
  assert.is(broadcastOf(parseCidr('10.0.0.4/31')!), 0x0a000005);
  assert.is(broadcastOf(parseCidr('10.0.0.4/32')!), 0x0a000004);
});

test('cidrContains: boundaries of a /24, /0, /32, and agreement with a string-free reference', () => {
  const c = parseCidr('192.168.65.0/24')!;
  assert.is(cidrContains(c, parseIpv4('192.168.65.0')!), true);
  assert.is(cidrContains(c, parseIpv4('192.168.65.255')!), true);
  assert.is(cidrContains(c, parseIpv4('192.168.64.255')!), false);
  assert.is(cidrContains(c, parseIpv4('192.168.66.0')!), false);
  assert.is(cidrContains(parseCidr('0.0.0.0/0')!, 0xffffffff), true);
  assert.is(cidrContains(parseCidr('10.0.0.1/32')!, 0x0a000001), true);
  assert.is(cidrContains(parseCidr('10.0.0.1/32')!, 0x0a000002), false);
  // A hand-made prefix with host bits set still means its network.
  assert.is(cidrContains({ network: 0xc0a84107, prefix: 24 }, 0xc0a841fe), true);
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), fc.nat({ max: 0xffffffff }), (net, p, ip) => {
      const c2 = parseCidr(`${formatIpv4(net)}/${p}`)!;
      // Reference: compare the first p bits one by one.
      let inside = true;
      for (let bit = 31; bit >= 32 - p; bit--) if (Math.floor(ip / 2 ** bit) % 2 !== Math.floor(net / 2 ** bit) % 2) inside = false;
      assert.is(cidrContains(c2, ip), inside);
      assert.is(cidrContains(c2, broadcastOf(c2)), true);
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

test('parseMac / formatMac: colon and dash forms, case, round trip over 48-bit values', () => {
  assert.is(parseMac('02:00:00:00:00:0a'), 0x02000000000a);
  assert.is(parseMac('02-00-00-00-00-0A'), 0x02000000000a);
  assert.is(parseMac('FF:FF:FF:FF:FF:FF'), BROADCAST_MAC);
  assert.is(formatMac(0x02000000000a), '02:00:00:00:00:0a');
  assert.is(formatMac(BROADCAST_MAC), 'ff:ff:ff:ff:ff:ff');
  assert.is(formatMac(0), '00:00:00:00:00:00');
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 48 - 1 }), (v) => {
      assert.is(parseMac(formatMac(v)), v);
      assert.is(Buffer.from(macToBytes(v)).toString('hex'), formatMac(v).replaceAll(':', ''));
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

test('parseMac rejects bad separators, lengths and digits', () => {
  const bad = [
    '02:00-00:00:00:0a', // mixed separators
    '02-00:00:00:00:0a',
    '02.00.00.00.00.0a',
    '0200.0000.000a',
    '020000000000a',
    '02:00:00:00:00',
    '02:00:00:00:00:0a:01',
    '2:00:00:00:00:0a',
    '02:00:00:00:00:0g',
    '02::00:00:00:00:0a',
    ' 02:00:00:00:00:0a',
    '02:00:00:00:00:0a ',
    '',
  ];
  for (const s of bad) assert.is(parseMac(s), undefined, JSON.stringify(s));
});

test('isGroupMac is the I/G bit of the first octet', () => {
  assert.is(isGroupMac(BROADCAST_MAC), true);
  assert.is(isGroupMac(0x01005e0000fb), true, 'IPv4 multicast (mDNS)');
  assert.is(isGroupMac(0x333300000001), true, 'IPv6 multicast');
  assert.is(isGroupMac(0x02000000000a), false);
  assert.is(isGroupMac(0xfe0000000001), false);
  assert.is(isGroupMac(0x000000000001), false, 'low bit of the last octet is not the group bit');
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 48 - 1 }), (v) => {
      assert.is(isGroupMac(v), (macToBytes(v)[0]! & 1) === 1);
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test.run();
