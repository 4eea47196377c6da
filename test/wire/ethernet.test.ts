import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Drop } from '../../src/wire/drop.js';
import {
  checkEthernet,
  ETH_HLEN,
  ETH_MIN_FRAME,
  ethDst,
  ethDstIsGroup,
  EtherType,
  ethSrc,
  ethSrcIsGroup,
  ethType,
  writeEthernet,
} from '../../src/wire/ethernet.js';
import { arpRequest, icmpEchoRequest } from './golden/frames.js';
import { FILL, filled, hexOf } from './golden/mutate.js';

test('deconstruct: a captured unicast IPv4 frame', () => {
  assert.is(checkEthernet(icmpEchoRequest.length), Drop.None);
  assert.is(ethDst(icmpEchoRequest, 0), 0x02000000000b);
  assert.is(ethSrc(icmpEchoRequest, 0), 0x02000000000a);
  assert.is(ethType(icmpEchoRequest, 0), EtherType.IPv4);
  assert.is(ethDstIsGroup(icmpEchoRequest, 0), false);
  assert.is(ethSrcIsGroup(icmpEchoRequest, 0), false);
});

test('deconstruct: a captured broadcast ARP frame', () => {
  assert.is(ethDst(arpRequest, 0), 0xffffffffffff);
  assert.is(ethType(arpRequest, 0), EtherType.ARP);
  assert.is(ethDstIsGroup(arpRequest, 0), true);
  assert.is(ethSrcIsGroup(arpRequest, 0), false);
});

test('getters honour a non-zero frame offset', () => {
  const b = new Uint8Array(5 + icmpEchoRequest.length);
  b.set(icmpEchoRequest, 5);
  assert.is(ethDst(b, 5), 0x02000000000b);
  assert.is(ethSrc(b, 5), 0x02000000000a);
  assert.is(ethType(b, 5), 0x0800);
});

test('group bit is the I/G bit of the first octet (IEEE 802), for source and destination', () => {
  const b = filled(14);
  writeEthernet(b, 0, 0x01005e000001, 0x030000000001, 0x0800);
  assert.is(ethDstIsGroup(b, 0), true);
  assert.is(ethSrcIsGroup(b, 0), true);
  writeEthernet(b, 0, 0x020000000001, 0x0e0000000001, 0x0800);
  assert.is(ethDstIsGroup(b, 0), false);
  assert.is(ethSrcIsGroup(b, 0), false);
});

test('construct: writeEthernet reproduces the captured header byte for byte, and nothing else', () => {
  const b = filled(ETH_HLEN + 2);
  writeEthernet(b, 1, 0x02000000000b, 0x02000000000a, EtherType.IPv4);
  assert.is(hexOf(b, 1, ETH_HLEN), hexOf(icmpEchoRequest, 0, ETH_HLEN));
  assert.is(b[0], FILL);
  assert.is(b[ETH_HLEN + 1], FILL);
  const a = filled(ETH_HLEN);
  writeEthernet(a, 0, 0xffffffffffff, 0x02000000000a, EtherType.ARP);
  assert.is(hexOf(a), hexOf(arpRequest, 0, ETH_HLEN));
});

test('malformed: every length below the 14-byte header is truncated', () => {
  for (let n = 0; n < ETH_HLEN; n++) assert.is(checkEthernet(n), Drop.Truncated, `length ${n}`);
  assert.is(checkEthernet(ETH_HLEN), Drop.None);
  assert.is(ETH_MIN_FRAME, 60);
});

test.run();
