import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Drop } from '../../src/wire/drop.js';
import { checkUdp, UDP_HLEN, udpDstPort, udpLength, udpSrcPort, writeUdp } from '../../src/wire/udp.js';
import { refPseudoHeaderSum, refVerifies } from '../harness/oracles/checksum-ref.js';
import { udpIpOptions, udpOddPayload } from './golden/frames.js';
import { FILL, filled, hexOf, padded, variant } from './golden/mutate.js';

const A_IP = 0x0a630001;
const B_IP = 0x0a630002;
const L4 = 34;

test('deconstruct: captured datagram with an odd-length payload ("vnetkit")', () => {
  const f = udpOddPayload;
  assert.is(checkUdp(f, L4, 15, A_IP, B_IP), Drop.None);
  assert.is(udpSrcPort(f, L4), 40000);
  assert.is(udpDstPort(f, L4), 7777);
  assert.is(udpLength(f, L4), 15);
  assert.is((f[L4 + 6]! << 8) | f[L4 + 7]!, 0x7519);
  assert.is(Buffer.from(f.subarray(L4 + 8)).toString(), 'vnetkit');
  assert.ok(refVerifies(f.subarray(L4), refPseudoHeaderSum(A_IP, B_IP, 17, 15)), 'the oracle agrees');
});

test('deconstruct: datagram after an IPv4 header with options (UDP at 14 + 28)', () => {
  assert.is(checkUdp(udpIpOptions, 42, 12, A_IP, B_IP), Drop.None);
  assert.is(udpLength(udpIpOptions, 42), 12);
  assert.is(Buffer.from(udpIpOptions.subarray(50)).toString(), 'opts');
});

test('construct: writeUdp over the payload in place reproduces the capture exactly', () => {
  const b = filled(15 + 2);
  b.set(udpOddPayload.subarray(L4 + 8), 1 + 8);
  writeUdp(b, 1, 40000, 7777, 15, A_IP, B_IP);
  assert.is(hexOf(b, 1, 15), hexOf(udpOddPayload, L4));
  assert.is(b[0], FILL);
  assert.is(b[16], FILL);
});

test('trailing bytes after the UDP length (link padding) are accepted and not summed', () => {
  // The IP layer would trim padding by its total length; here the padding sits inside the IP
  // payload handed to checkUdp, which must still go by the UDP length (RFC 768).
  const p = padded(udpOddPayload, 60);
  p.fill(0x77, udpOddPayload.length);
  assert.is(checkUdp(p, L4, p.length - L4, A_IP, B_IP), Drop.None);
});

test('malformed: IP payload shorter than the UDP header', () => {
  for (let n = 0; n < UDP_HLEN; n++) assert.is(checkUdp(udpOddPayload, L4, n, A_IP, B_IP), Drop.Truncated, `length ${n}`);
});

test('malformed: UDP length below 8', () => {
  for (let n = 0; n < UDP_HLEN; n++) {
    const b = variant(udpOddPayload, (_b, v) => v.setUint16(L4 + 4, n));
    assert.is(checkUdp(b, L4, 15, A_IP, B_IP), Drop.BadLength, `length field ${n}`);
  }
});

test('malformed: UDP length beyond the IP payload', () => {
  assert.is(checkUdp(udpOddPayload, L4, 14, A_IP, B_IP), Drop.Truncated);
  const b = variant(udpOddPayload, (_b, v) => v.setUint16(L4 + 4, 16));
  assert.is(checkUdp(b, L4, 15, A_IP, B_IP), Drop.Truncated);
});

test('malformed: bad checksum (payload bit, odd last byte, wrong pseudo-header address)', () => {
  const flipped = variant(udpOddPayload, (b) => (b[L4 + 9] ^= 4));
  assert.is(checkUdp(flipped, L4, 15, A_IP, B_IP), Drop.BadChecksum);
  assert.is(checkUdp(flipped, L4, 15, A_IP, B_IP, false), Drop.None);
  const last = variant(udpOddPayload, (b) => (b[b.length - 1] ^= 1));
  assert.is(checkUdp(last, L4, 15, A_IP, B_IP), Drop.BadChecksum);
  assert.is(checkUdp(udpOddPayload, L4, 15, A_IP, B_IP + 1), Drop.BadChecksum);
});

test('a zero checksum field means "not computed" and is accepted as is (RFC 768)', () => {
  const b = variant(udpOddPayload, (_b, v) => v.setUint16(L4 + 6, 0));
  assert.is(checkUdp(b, L4, 15, A_IP, B_IP), Drop.None);
  b[L4 + 9] ^= 0xff;
  assert.is(checkUdp(b, L4, 15, A_IP, B_IP), Drop.None);
});

test.run();
