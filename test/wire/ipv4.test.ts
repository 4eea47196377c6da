import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Drop } from '../../src/wire/drop.js';
import {
  checkIpv4,
  DEFAULT_TTL,
  ipChecksum,
  ipDontFragment,
  ipDst,
  ipFlagsFrag,
  ipFragOffset,
  ipHeaderLength,
  ipId,
  ipIsFragment,
  ipMoreFragments,
  IpProto,
  ipProtocol,
  ipSrc,
  ipTos,
  ipTotalLength,
  ipTtl,
  IPV4_DF,
  IPV4_HLEN,
  IPV4_MF,
  writeIpv4,
} from '../../src/wire/ipv4.js';
import { refChecksum } from '../harness/oracles/checksum-ref.js';
import { fragmentFirst, fragmentLast, icmpEchoReply, icmpEchoRequest, icmpPortUnreachable, udpIpOptions, udpOddPayload } from './golden/frames.js';
import { FILL, filled, hexOf, padded, variant } from './golden/mutate.js';

const L3 = 14;
const A_IP = 0x0a630001;
const B_IP = 0x0a630002;

/** `b` with its IPv4 header checksum recomputed by the reference, so only the intended fault remains. */
function resum(b: Uint8Array): Uint8Array {
  const hl = (b[L3]! & 15) * 4;
  b[L3 + 10] = 0;
  b[L3 + 11] = 0;
  const c = refChecksum(b.subarray(L3, L3 + Math.min(hl, b.length - L3)));
  b[L3 + 10] = c >> 8;
  b[L3 + 11] = c & 0xff;
  return b;
}

const l3len = (b: Uint8Array): number => b.length - L3;

test('deconstruct: captured echo request header, every getter', () => {
  const b = icmpEchoRequest;
  assert.is(checkIpv4(b, L3, l3len(b)), Drop.None);
  assert.is(ipHeaderLength(b, L3), 20);
  assert.is(ipTotalLength(b, L3), 84);
  assert.is(ipTos(b, L3), 0);
  assert.is(ipId(b, L3), 59197);
  assert.is(ipFlagsFrag(b, L3), IPV4_DF);
  assert.is(ipDontFragment(b, L3), true);
  assert.is(ipMoreFragments(b, L3), false);
  assert.is(ipFragOffset(b, L3), 0);
  assert.is(ipIsFragment(b, L3), false);
  assert.is(ipTtl(b, L3), 64);
  assert.is(ipProtocol(b, L3), IpProto.ICMP);
  assert.is(ipChecksum(b, L3), 0x3ea3);
  assert.is(ipSrc(b, L3), A_IP);
  assert.is(ipDst(b, L3), B_IP);
});

test('deconstruct: ICMP error with tos 0xc0 and no DF', () => {
  const b = icmpPortUnreachable;
  assert.is(checkIpv4(b, L3, l3len(b)), Drop.None);
  assert.is(ipTos(b, L3), 0xc0);
  assert.is(ipTotalLength(b, L3), 63);
  assert.is(ipDontFragment(b, L3), false);
  assert.is(ipSrc(b, L3), B_IP);
});

test('deconstruct: header with options (IHL 7, Record Route, RFC 791 §3.1)', () => {
  const b = udpIpOptions;
  assert.is(checkIpv4(b, L3, l3len(b)), Drop.None);
  assert.is(ipHeaderLength(b, L3), 28);
  assert.is(ipTotalLength(b, L3), 40);
  assert.is(ipProtocol(b, L3), IpProto.UDP);
  assert.is(hexOf(b, L3 + 20, 8), '0707080a63000100', 'RR: type 7, len 7, ptr 8, 10.99.0.1, EOL');
});

test('deconstruct: the two fragments of one datagram (MF, then offset 72)', () => {
  assert.is(checkIpv4(fragmentFirst, L3, l3len(fragmentFirst)), Drop.None);
  assert.is(ipIsFragment(fragmentFirst, L3), true);
  assert.is(ipMoreFragments(fragmentFirst, L3), true);
  assert.is(ipFragOffset(fragmentFirst, L3), 0);
  assert.is(ipFlagsFrag(fragmentFirst, L3), IPV4_MF);
  assert.is(checkIpv4(fragmentLast, L3, l3len(fragmentLast)), Drop.None);
  assert.is(ipIsFragment(fragmentLast, L3), true);
  assert.is(ipMoreFragments(fragmentLast, L3), false);
  assert.is(ipFragOffset(fragmentLast, L3), 72);
  assert.is(ipId(fragmentLast, L3), ipId(fragmentFirst, L3));
});

test('construct: writeIpv4 reproduces captured headers exactly (DF default, none, fragment)', () => {
  const cases: Array<[Uint8Array, number | undefined]> = [
    [icmpEchoRequest, undefined],
    [icmpEchoReply, 0],
    [fragmentLast, 9],
    [udpOddPayload, undefined],
  ];
  for (const [frame, ff] of cases) {
    const b = filled(IPV4_HLEN + 2);
    const args = [ipTotalLength(frame, L3), ipId(frame, L3), ipTtl(frame, L3), ipProtocol(frame, L3), ipSrc(frame, L3), ipDst(frame, L3)] as const;
    if (ff === undefined) writeIpv4(b, 1, ...args);
    else writeIpv4(b, 1, ...args, ff);
    assert.is(hexOf(b, 1, IPV4_HLEN), hexOf(frame, L3, IPV4_HLEN));
    assert.is(b[0], FILL);
    assert.is(b[IPV4_HLEN + 1], FILL);
  }
  assert.is(DEFAULT_TTL, 64);
});

test('trailing link padding is accepted: total length below the bytes present', () => {
  const p = padded(udpOddPayload);
  assert.is(p.length, 60);
  assert.is(checkIpv4(p, L3, l3len(p)), Drop.None);
  assert.is(ipTotalLength(p, L3), 35);
});

test('malformed: truncated at every length below the fixed header', () => {
  for (let n = 0; n < IPV4_HLEN; n++) assert.is(checkIpv4(icmpEchoRequest, L3, n), Drop.Truncated, `length ${n}`);
});

test('malformed: truncated inside the options (IHL 7 with 20..27 bytes)', () => {
  for (let n = IPV4_HLEN; n < 28; n++) assert.is(checkIpv4(udpIpOptions, L3, n), Drop.Truncated, `length ${n}`);
});

test('malformed: datagram shorter than its total length', () => {
  for (const f of [icmpEchoRequest, udpIpOptions, icmpPortUnreachable]) {
    const total = ipTotalLength(f, L3);
    assert.is(checkIpv4(f, L3, total), Drop.None);
    assert.is(checkIpv4(f, L3, total - 1), Drop.Truncated);
    assert.is(checkIpv4(resum(variant(f, (_b, v) => v.setUint16(L3 + 2, l3len(f) + 1))), L3, l3len(f)), Drop.Truncated);
  }
});

test('malformed: bad version (IPv6 and 0) with a valid checksum', () => {
  for (const ver of [0, 6, 15]) {
    const b = resum(variant(icmpEchoRequest, (b) => (b[L3] = (ver << 4) | 5)));
    assert.is(checkIpv4(b, L3, l3len(b)), Drop.BadVersion, `version ${ver}`);
  }
});

test('malformed: IHL below 5', () => {
  for (let ihl = 0; ihl < 5; ihl++) {
    const b = variant(icmpEchoRequest, (b) => (b[L3] = 0x40 | ihl));
    assert.is(checkIpv4(b, L3, l3len(b)), Drop.BadHeaderLength, `IHL ${ihl}`);
  }
});

test('malformed: IHL beyond the bytes present', () => {
  // IHL 15 = 60 bytes, but only 35 bytes of IP are there.
  const b = variant(udpOddPayload, (b) => (b[L3] = 0x4f));
  assert.is(checkIpv4(b, L3, l3len(b)), Drop.Truncated);
});

test('malformed: total length below the header length', () => {
  for (const [f, total] of [
    [icmpEchoRequest, 19],
    [icmpEchoRequest, 0],
    [udpIpOptions, 27],
    [udpIpOptions, 20],
  ] as const) {
    const b = resum(variant(f, (_b, v) => v.setUint16(L3 + 2, total)));
    assert.is(checkIpv4(b, L3, l3len(b)), Drop.BadLength, `total ${total}`);
  }
});

test('malformed: header checksum wrong in any single bit, unless verification is off', () => {
  for (let bit = 0; bit < 16; bit++) {
    const b = variant(icmpEchoRequest, (_b, v) => v.setUint16(L3 + 10, v.getUint16(L3 + 10) ^ (1 << bit)));
    assert.is(checkIpv4(b, L3, l3len(b)), Drop.BadChecksum, `bit ${bit}`);
    assert.is(checkIpv4(b, L3, l3len(b), false), Drop.None);
  }
  // A corrupted address (the checksum unchanged) is caught too, also in the options.
  assert.is(checkIpv4(variant(icmpEchoRequest, (b) => (b[L3 + 15] ^= 1)), L3, l3len(icmpEchoRequest)), Drop.BadChecksum);
  assert.is(checkIpv4(variant(udpIpOptions, (b) => (b[L3 + 24] ^= 0x80)), L3, l3len(udpIpOptions)), Drop.BadChecksum);
});

test.run();
