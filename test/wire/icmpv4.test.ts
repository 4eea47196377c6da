import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Drop } from '../../src/wire/drop.js';
import {
  checkIcmp,
  ICMP_HLEN,
  ICMP_QUOTE_EXTRA,
  icmpCode,
  icmpEchoId,
  icmpEchoSeq,
  IcmpType,
  IcmpUnreach,
  icmpType,
  writeIcmp,
} from '../../src/wire/icmpv4.js';
import { refVerifies } from '../harness/oracles/checksum-ref.js';
import { icmpEchoReply, icmpEchoRequest, icmpPortUnreachable, udpOddPayload } from './golden/frames.js';
import { FILL, filled, hexOf, variant } from './golden/mutate.js';

/** ICMP starts after Ethernet (14) and a 20-byte IP header in these frames. */
const L4 = 34;
const icmpLen = (f: Uint8Array): number => f.length - L4;

test('deconstruct: captured echo request and reply (id 8500, seq 1, 56 data bytes)', () => {
  for (const [f, type] of [
    [icmpEchoRequest, IcmpType.EchoRequest],
    [icmpEchoReply, IcmpType.EchoReply],
  ] as const) {
    assert.is(icmpLen(f), 64);
    assert.is(checkIcmp(f, L4, icmpLen(f)), Drop.None);
    assert.is(icmpType(f, L4), type);
    assert.is(icmpCode(f, L4), 0);
    assert.is(icmpEchoId(f, L4), 8500);
    assert.is(icmpEchoSeq(f, L4), 1);
  }
  // ping -p a5: the payload after ping's 16-byte timestamp is the pattern.
  assert.ok(icmpEchoRequest.subarray(L4 + 8 + 16).every((x) => x === 0xa5));
});

test('deconstruct: captured port unreachable quotes the offending datagram (RFC 792, RFC 1812 §4.3.2.3)', () => {
  const f = icmpPortUnreachable;
  assert.is(icmpLen(f), 43, 'odd length: the checksum pads the last byte');
  assert.is(checkIcmp(f, L4, icmpLen(f)), Drop.None);
  assert.is(icmpType(f, L4), IcmpType.DestUnreachable);
  assert.is(icmpCode(f, L4), IcmpUnreach.Port);
  // RFC 792 asks for the IP header + 8 bytes; Linux quotes the whole 35-byte datagram.
  assert.is(ICMP_QUOTE_EXTRA, 8);
  assert.is(hexOf(f, L4 + ICMP_HLEN), hexOf(udpOddPayload, 14));
});

test('construct: writeIcmp over the payload in place reproduces captured messages exactly', () => {
  for (const f of [icmpEchoRequest, icmpEchoReply]) {
    const b = filled(64 + 2);
    b.set(f.subarray(L4 + 8), 1 + 8);
    writeIcmp(b, 1, 64, icmpType(f, L4), 0, (icmpEchoId(f, L4) << 16) | icmpEchoSeq(f, L4));
    assert.is(hexOf(b, 1, 64), hexOf(f, L4));
    assert.is(b[0], FILL);
    assert.is(b[65], FILL);
  }
  const u = filled(43);
  u.set(icmpPortUnreachable.subarray(L4 + 8), 8);
  writeIcmp(u, 0, 43, IcmpType.DestUnreachable, IcmpUnreach.Port, 0);
  assert.is(hexOf(u), hexOf(icmpPortUnreachable, L4));
});

test('construct: rest-of-header with the top bit set (id >= 0x8000) is written unsigned', () => {
  const b = filled(8);
  writeIcmp(b, 0, 8, IcmpType.EchoRequest, 0, (0xabcd << 16) | 0xfffe);
  assert.is(icmpEchoId(b, 0), 0xabcd);
  assert.is(icmpEchoSeq(b, 0), 0xfffe);
  assert.is(checkIcmp(b, 0, 8), Drop.None);
  assert.ok(refVerifies(b));
});

test('malformed: shorter than the 8-byte header', () => {
  for (let n = 0; n < ICMP_HLEN; n++) assert.is(checkIcmp(icmpEchoRequest, L4, n), Drop.Truncated, `length ${n}`);
});

test('malformed: a flipped bit anywhere is a bad checksum, unless verification is off', () => {
  for (let i = 0; i < 64; i += 7) {
    const b = variant(icmpEchoRequest, (b) => (b[L4 + i] ^= 0x10));
    assert.is(checkIcmp(b, L4, 64), Drop.BadChecksum, `byte ${i}`);
    assert.is(checkIcmp(b, L4, 64, false), Drop.None);
  }
  // The odd last byte counts too (it is the high byte of a zero-padded word).
  const u = variant(icmpPortUnreachable, (b) => (b[b.length - 1] ^= 1));
  assert.is(checkIcmp(u, L4, 43), Drop.BadChecksum);
});

test('malformed: an all-zero message sums to +0, not -0, and is rejected (RFC 1071 §1)', () => {
  assert.is(checkIcmp(new Uint8Array(8), 0, 8), Drop.BadChecksum);
  assert.is(checkIcmp(new Uint8Array(64), 0, 64), Drop.BadChecksum);
  // The same message with the checksum field all ones is the valid encoding.
  const ok = Uint8Array.from([0, 0, 0xff, 0xff, 0, 0, 0, 0]);
  assert.is(checkIcmp(ok, 0, 8), Drop.None);
});

test.run();
