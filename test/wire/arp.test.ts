import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ARP_LEN, ArpOp, arpOp, arpSenderIp, arpSenderMac, arpTargetIp, arpTargetMac, checkArp, writeArp } from '../../src/wire/arp.js';
import { Drop } from '../../src/wire/drop.js';
import { EtherType, writeEthernet } from '../../src/wire/ethernet.js';
import { arpReply, arpRequest } from './golden/frames.js';
import { FILL, filled, hexOf, padded, variant } from './golden/mutate.js';

const A_MAC = 0x02000000000a;
const B_MAC = 0x02000000000b;
const A_IP = 0x0a630001; // 10.99.0.1
const B_IP = 0x0a630002; // 10.99.0.2

test('deconstruct: captured request "who-has 10.99.0.2 tell 10.99.0.1"', () => {
  assert.is(checkArp(arpRequest, 14, arpRequest.length - 14), Drop.None);
  assert.is(arpOp(arpRequest, 14), ArpOp.Request);
  assert.is(arpSenderMac(arpRequest, 14), A_MAC);
  assert.is(arpSenderIp(arpRequest, 14), A_IP);
  assert.is(arpTargetMac(arpRequest, 14), 0);
  assert.is(arpTargetIp(arpRequest, 14), B_IP);
});

test('deconstruct: captured reply "10.99.0.2 is-at 02:00:00:00:00:0b"', () => {
  assert.is(checkArp(arpReply, 14, arpReply.length - 14), Drop.None);
  assert.is(arpOp(arpReply, 14), ArpOp.Reply);
  assert.is(arpSenderMac(arpReply, 14), B_MAC);
  assert.is(arpSenderIp(arpReply, 14), B_IP);
  assert.is(arpTargetMac(arpReply, 14), A_MAC);
  assert.is(arpTargetIp(arpReply, 14), A_IP);
});

test('construct: writeEthernet + writeArp reproduce both captured frames exactly', () => {
  const req = filled(42 + 1);
  writeEthernet(req, 0, 0xffffffffffff, A_MAC, EtherType.ARP);
  writeArp(req, 14, ArpOp.Request, A_MAC, A_IP, 0, B_IP);
  assert.is(hexOf(req, 0, 42), hexOf(arpRequest));
  assert.is(req[42], FILL, 'no byte written past the packet');
  const rep = filled(42);
  writeEthernet(rep, 0, A_MAC, B_MAC, EtherType.ARP);
  writeArp(rep, 14, ArpOp.Reply, B_MAC, B_IP, A_MAC, A_IP);
  assert.is(hexOf(rep), hexOf(arpReply));
});

test('trailing link padding (60-byte minimum frame) is accepted', () => {
  const p = padded(arpRequest);
  assert.is(p.length, 60);
  assert.is(checkArp(p, 14, p.length - 14), Drop.None);
  assert.is(arpTargetIp(p, 14), B_IP);
});

test('malformed: truncated anywhere inside the 28 bytes', () => {
  for (let n = 0; n < ARP_LEN; n++) assert.is(checkArp(arpRequest, 14, n), Drop.Truncated, `length ${n}`);
  assert.is(checkArp(arpRequest, 14, ARP_LEN), Drop.None);
});

test('malformed: only Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4) is supported', () => {
  const cases: Array<[string, (b: Uint8Array, v: DataView) => void]> = [
    ['htype 6 (IEEE 802)', (_b, v) => v.setUint16(14, 6)],
    ['ptype IPv6', (_b, v) => v.setUint16(16, 0x86dd)],
    ['hlen 8', (b) => (b[18] = 8)],
    ['plen 16', (b) => (b[19] = 16)],
  ];
  for (const [name, change] of cases) {
    const b = variant(arpRequest, change);
    assert.is(checkArp(b, 14, b.length - 14), Drop.Unsupported, name);
  }
});

test.run();
