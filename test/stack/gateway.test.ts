import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { SeededRng } from '../../src/runtime/rng.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { Drop } from '../../src/wire/drop.js';
import { CapturePort } from '../harness/capture-port.js';
import { arpRequest, icmpEcho, ipv4Packet, udpPacket } from '../harness/frames.js';

const GW_MAC = 'f6:16:36:bc:f9:c6';
const G1 = '02:00:00:00:00:10';

function setup() {
  const scheduler = new ManualScheduler();
  const net = VirtualNetwork.create({ runtime: { clock: scheduler.clock, scheduler, rng: new SeededRng(1) } })._unsafeUnwrap();
  const nic = new CapturePort('g1');
  net.switch.attach(nic);
  const send = (f: Buffer) => net.switch.input(nic, f, 0, f.length);
  return { net, nic, send, scheduler };
}

test('the gateway answers ARP for its address and the host-loopback alias', () => {
  const { nic, send } = setup();
  send(arpRequest(G1, '192.168.65.10', '192.168.65.1'));
  send(arpRequest(G1, '192.168.65.10', '192.168.65.254'));
  const replies = nic.take();
  assert.is(replies.length, 2);
  for (const r of replies) {
    assert.is(r.toString('hex', 0, 6), '020000000010', 'sent to the asker');
    assert.is(r.readUInt16BE(20), 2, 'ARP reply');
    assert.is(r.toString('hex', 22, 28), GW_MAC.replace(/:/g, ''));
  }
  assert.is(replies[1]!.toString('hex', 28, 32), 'c0a841fe', 'sender IP is the alias');
});

test('the gateway stays silent for ARP about guests and learns the asker', () => {
  const { net, nic, send } = setup();
  send(arpRequest(G1, '192.168.65.10', '192.168.65.11'));
  assert.is(nic.take().length, 0);
  assert.is(net.neighbours.lookup(0xc0a8410a), 0x020000000010);
});

test('ping to the gateway gets an echo reply with the same id, sequence and data', () => {
  const { net, nic, send } = setup();
  send(icmpEcho(GW_MAC, G1, '192.168.65.10', '192.168.65.1', 0x1234, 7, Buffer.from('hello')));
  const [r] = nic.take();
  assert.ok(r);
  assert.is(r!.readUInt8(34), 0, 'echo reply');
  assert.is(r!.readUInt16BE(38), 0x1234);
  assert.is(r!.readUInt16BE(40), 7);
  assert.is(r!.toString('utf8', 42), 'hello');
  assert.is(r!.toString('hex', 26, 30), 'c0a84101', 'from the gateway');
  assert.is(net.stats().gateway.echoReplies, 1);
});

test('ping to an address nothing owns is never answered (honest ICMP) and is counted', () => {
  const { net, nic, send } = setup();
  send(icmpEcho(GW_MAC, G1, '192.168.65.10', '10.1.2.3', 1, 1));
  assert.is(nic.take().length, 0);
  assert.is(net.stats().gateway.echoDropped, 1);
});

test('a corrupted IPv4 checksum is dropped and counted, not answered', () => {
  const { net, nic, send } = setup();
  const f = icmpEcho(GW_MAC, G1, '192.168.65.10', '192.168.65.1', 1, 1);
  f[24] ^= 0xff;
  send(f);
  assert.is(nic.take().length, 0);
  assert.is(net.gateway.counters.drops[Drop.BadChecksum], 1);
});

test('IPv6 and unknown ethertypes are dropped quietly', () => {
  const { net, nic, send } = setup();
  const f = Buffer.alloc(80);
  Buffer.from('333300000001020000000010' + '86dd', 'hex').copy(f);
  send(f);
  assert.is(nic.take().length, 0);
  assert.is(net.gateway.counters.drops[Drop.Unsupported], 1);
});

test('UDP to an unbound gateway port is answered with ICMP port unreachable', () => {
  const { net, nic, send } = setup();
  send(udpPacket(GW_MAC, G1, '192.168.65.10', 5000, '192.168.65.1', 9999, Buffer.from('x')));
  const [r] = nic.take();
  assert.ok(r, 'an ICMP error came back');
  assert.is(r!.readUInt8(34), 3, 'destination unreachable');
  assert.is(r!.readUInt8(35), 3, 'port unreachable');
  assert.is(r!.readUInt16BE(42 + 20 + 2), 9999, 'quotes the datagram');
  assert.is(net.udpNat.stats.flows, 0, 'nothing was NATed');
});

test('UDP to another guest address that reached the gateway is dropped and counted', () => {
  const { net, nic, send } = setup();
  send(udpPacket(GW_MAC, G1, '192.168.65.10', 5000, '192.168.65.11', 9999, Buffer.from('x')));
  assert.is(nic.take().length, 0);
  assert.is(net.gateway.counters.drops[Drop.NotForUs], 1);
});

test('a lone first fragment is held for reassembly, then times out with ICMP time exceeded', () => {
  const { net, nic, send, scheduler } = setup();
  // 8 + 104 bytes: a non-last fragment must carry a multiple of 8 bytes (RFC 791).
  const f = udpPacket(GW_MAC, G1, '192.168.65.10', 5000, '10.0.0.1', 53, Buffer.alloc(104));
  // The same datagram with More Fragments set (header checksum recomputed by the builder).
  const frag = ipv4Packet(GW_MAC, G1, '192.168.65.10', '10.0.0.1', 17, f.subarray(34), 0x2000);
  send(frag);
  assert.is(net.gateway.counters.drops[Drop.Fragment], 0);
  assert.is(net.reassembler.stats.inProgress, 1);
  scheduler.advance(31_000);
  assert.is(net.reassembler.stats.timedOut, 1);
  const [r] = nic.take();
  assert.ok(r, 'ICMP time exceeded sent to the guest');
  assert.is(r!.readUInt8(34), 11);
  assert.is(r!.readUInt8(35), 1, 'fragment reassembly time exceeded');
});

test('random garbage frames never throw', () => {
  const { send } = setup();
  let s = 1;
  for (let i = 0; i < 2000; i++) {
    const len = 14 + (i % 200);
    const f = Buffer.alloc(len);
    for (let j = 0; j < len; j++) {
      s = (s * 1103515245 + 12345) >>> 0;
      f[j] = s >>> 24;
    }
    f.writeUInt16BE(i % 2 ? 0x0800 : 0x0806, 12);
    f[0] = 0xff;
    f[6] = 0x02;
    f[14] = i % 3 === 0 ? 0x45 : f[14]!;
    send(f);
  }
});

test('a zero IPv4 header checksum is tolerated only for DHCP to port 67', () => {
  const { net, send } = setup();
  const ping = icmpEcho(GW_MAC, G1, '192.168.65.10', '192.168.65.1', 1, 1);
  ping.writeUInt16BE(0, 24);
  send(ping);
  assert.is(net.gateway.counters.drops[Drop.BadChecksum], 1, 'a ping with checksum 0 is still dropped');
  const dhcp = udpPacket('ff:ff:ff:ff:ff:ff', G1, '0.0.0.0', 68, '255.255.255.255', 67, Buffer.alloc(300));
  dhcp.writeUInt16BE(0, 24);
  send(dhcp);
  assert.is(net.gateway.counters.drops[Drop.BadChecksum], 1, 'the DHCP frame passed the IPv4 check');
});

test.run();
