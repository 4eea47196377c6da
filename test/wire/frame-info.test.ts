import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Drop, dropNames } from '../../src/wire/drop.js';
import { EtherType } from '../../src/wire/ethernet.js';
import { FrameInfo, parseFrame } from '../../src/wire/frame-info.js';
import { IpProto } from '../../src/wire/ipv4.js';
import { comparableOf, expectedFrom } from '../harness/oracles/frame-compare.js';
import { refParseFrame } from '../harness/oracles/frame-ref.js';
import * as golden from './golden/frames.js';
import { padded, variant } from './golden/mutate.js';

const A_IP = 0x0a630001;
const B_IP = 0x0a630002;

/** Every golden frame, by name. */
const frames = Object.entries(golden).filter((e): e is [string, Uint8Array] => e[1] instanceof Uint8Array);

/** Parses `frame` placed at `at` in a larger buffer and checks it against the reference. */
function parseChecked(frame: Uint8Array, at = 0, verify = true): { info: FrameInfo; code: number } {
  const b = new Uint8Array(at + frame.length + 9).fill(0x3c);
  b.set(frame, at);
  const info = new FrameInfo();
  const code = parseFrame(b, at, frame.length, info, verify);
  assert.equal(comparableOf(info, code, dropNames), expectedFrom(refParseFrame(b, at, frame.length, verify)));
  assert.is(info.buf, b);
  assert.is(info.off, at);
  assert.is(info.len, frame.length);
  return { info, code };
}

test('every golden frame parses, agreeing with the reference parser, at offsets 0 and 7', () => {
  assert.ok(frames.length >= 14);
  for (const [name, f] of frames) {
    for (const at of [0, 7]) {
      const { code } = parseChecked(f, at);
      assert.is(code, Drop.None, `${name} at ${at}`);
    }
  }
});

test('every golden frame cut at every length: the same verdict as the reference, never a throw', () => {
  for (const [name, f] of frames) {
    for (let n = 0; n < f.length; n++) {
      const { code } = parseChecked(f.subarray(0, n), n & 3);
      // The captures carry no link padding, so any cut loses bytes a header counts on.
      assert.is.not(code, Drop.None, `${name} cut at ${n} passed`);
    }
  }
});

test('TCP data segment: explicit offsets, addresses, ports and payload', () => {
  const { info } = parseChecked(golden.tcpData, 5);
  assert.is(info.etherType, EtherType.IPv4);
  assert.is(info.dstMac, 0x02000000000b);
  assert.is(info.srcMac, 0x02000000000a);
  assert.is(info.l3, 5 + 14);
  assert.is(info.ipHeaderLen, 20);
  assert.is(info.ipTotalLen, 152);
  assert.is(info.protocol, IpProto.TCP);
  assert.is(info.srcIp, A_IP);
  assert.is(info.dstIp, B_IP);
  assert.is(info.fragment, false);
  assert.is(info.l4, 5 + 34);
  assert.is(info.l4Len, 132);
  assert.is(info.srcPort, 39788);
  assert.is(info.dstPort, 5001);
  assert.is(info.payload, 5 + 66);
  assert.is(info.payloadLen, 100);
});

test('UDP after IP options, padded to 60 bytes: payload is the UDP payload, not the padding', () => {
  const { info } = parseChecked(padded(golden.udpIpOptions, 64));
  assert.is(info.ipHeaderLen, 28);
  assert.is(info.l4, 42);
  assert.is(info.l4Len, 12);
  assert.is(info.payload, 50);
  assert.is(info.payloadLen, 4);
  const odd = parseChecked(padded(golden.udpOddPayload)).info;
  assert.is(odd.payloadLen, 7);
  assert.is([odd.srcPort, odd.dstPort].join(), '40000,7777');
});

test('ICMP: payload after the 8-byte header, ports 0', () => {
  const { info } = parseChecked(golden.icmpEchoRequest);
  assert.is(info.protocol, IpProto.ICMP);
  assert.is(info.payload, 42);
  assert.is(info.payloadLen, 56);
  assert.is(info.srcPort, 0);
});

test('fragments: flagged, no L4 parsing, payload is the whole fragment', () => {
  for (const f of [golden.fragmentFirst, golden.fragmentLast]) {
    const { info, code } = parseChecked(f);
    assert.is(code, Drop.None);
    assert.is(info.fragment, true);
    assert.is(info.srcPort, 0);
    assert.is(info.payload, info.l4);
    assert.is(info.payloadLen, info.ipTotalLen - 20);
  }
});

test('a frame parsed after another keeps nothing of it (ARP after TCP, IPv6 after UDP)', () => {
  const info = new FrameInfo();
  assert.is(parseFrame(golden.tcpData, 0, golden.tcpData.length, info), Drop.None);
  assert.is(parseFrame(golden.arpRequest, 0, golden.arpRequest.length, info), Drop.None);
  assert.is(info.etherType, EtherType.ARP);
  assert.is(info.l3, 14);
  assert.equal([info.protocol, info.srcIp, info.dstIp, info.l4, info.l4Len, info.payload, info.payloadLen, info.ipHeaderLen], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.is(parseFrame(golden.udpOddPayload, 0, golden.udpOddPayload.length, info), Drop.None);
  const v6 = variant(golden.udpOddPayload, (_b, v) => v.setUint16(12, EtherType.IPv6));
  assert.is(parseFrame(v6, 0, v6.length, info), Drop.Unsupported);
  assert.equal([info.protocol, info.srcPort, info.payloadLen], [0, 0, 0]);
  assert.is(parseFrame(v6, 0, 10, info), Drop.Truncated);
  assert.equal([info.dstMac, info.srcMac, info.etherType], [0, 0, 0]);
});

test('drops carry the reason of the first failing layer, in agreement with the reference', () => {
  const cases: Array<[string, Uint8Array, number, number?]> = [
    ['short Ethernet', golden.tcpSyn.subarray(0, 13), Drop.Truncated],
    ['IPv6', variant(golden.tcpSyn, (_b, v) => v.setUint16(12, 0x86dd)), Drop.Unsupported],
    ['VLAN tag (not handled)', variant(golden.tcpSyn, (_b, v) => v.setUint16(12, 0x8100)), Drop.Unsupported],
    ['short ARP', golden.arpReply.subarray(0, 41), Drop.Truncated],
    ['IP version 6', variant(golden.tcpSyn, (b) => (b[14] = 0x65)), Drop.BadVersion],
    ['IHL 4', variant(golden.tcpSyn, (b) => (b[14] = 0x44)), Drop.BadHeaderLength],
    ['IP checksum', variant(golden.tcpSyn, (b) => (b[24] ^= 1)), Drop.BadChecksum],
    ['IP truncated', golden.tcpSyn.subarray(0, 73), Drop.Truncated],
    ['TCP checksum', variant(golden.tcpSyn, (b) => (b[70] ^= 1)), Drop.BadChecksum],
    ['UDP checksum', variant(golden.udpOddPayload, (b) => (b[44] ^= 1)), Drop.BadChecksum],
    ['ICMP checksum', variant(golden.icmpEchoReply, (b) => (b[50] ^= 1)), Drop.BadChecksum],
  ];
  for (const [name, f, want] of cases) assert.is(parseChecked(f).code, want, name);
});

test('verifyChecksums = false accepts bad L3 and L4 checksums, still parsing every field', () => {
  const f = variant(golden.tcpSyn, (b) => {
    b[24] ^= 1;
    b[70] ^= 1;
  });
  const { info, code } = parseChecked(f, 3, false);
  assert.is(code, Drop.None);
  assert.is(info.dstPort, 5001);
  assert.is(info.payloadLen, 0);
});

test.run();
