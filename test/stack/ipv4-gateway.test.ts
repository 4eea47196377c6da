/**
 * Fragmentation through a whole VirtualNetwork, in process: guest fragments reach the gateway's
 * normal path as one datagram (UDP port table, NAT to a real 127.0.0.1 server), large NAT replies
 * leave as fragments, an incomplete datagram times out with ICMP time exceeded, and the PMTU
 * guard answers DF datagrams. The reassembler, fragmenter and guard are wired here from the
 * network's public fields, as the facade should wire them (docs-site/guides/mtu-and-fragments.md).
 */
import { createSocket } from 'node:dgram';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { Ipv4Reassembler } from '../../src/stack/ipv4-reassembly.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { parseIpv4 } from '../../src/wire/address.js';
import { checksum } from '../../src/wire/checksum.js';
import { Drop } from '../../src/wire/drop.js';
import { FrameInfo, parseFrame } from '../../src/wire/frame-info.js';
import { IPV4_MF, writeIpv4 } from '../../src/wire/ipv4.js';
import { CapturePort } from '../harness/capture-port.js';
import { udpPacket } from '../harness/frames.js';

const GW_MAC = 'f6:16:36:bc:f9:c6';
const G1 = '02:00:00:00:00:10';

/** The facade's fragmentation pieces, for the counters the tests read. */
function wireFragmentation(net: VirtualNetwork) {
  return { reassembler: net.reassembler, fragmenter: net.fragmenter, guard: net.pmtu };
}

function setup(clampMtu?: number) {
  const scheduler = new ManualScheduler();
  const net = VirtualNetwork.create({ allow: ['127.0.0.0/8'], ...(clampMtu !== undefined ? { egressMtu: clampMtu } : {}), runtime: { clock: scheduler.clock, scheduler, rng: new SeededRng(1) } })._unsafeUnwrap();
  const nic = new CapturePort('g1');
  net.switch.attach(nic);
  const send = (f: Buffer) => net.switch.input(nic, f, 0, f.length);
  return { scheduler, net, nic, send, ...wireFragmentation(net) };
}

/** Splits a whole frame's IPv4 datagram into fragment frames of `size` data bytes. */
function fragments(frame: Buffer, size: number): Buffer[] {
  const ip = frame.subarray(14);
  const data = ip.length - 20;
  const out: Buffer[] = [];
  for (let o = 0; o < data; o += size) {
    const n = Math.min(size, data - o);
    const f = Buffer.alloc(34 + n);
    frame.copy(f, 0, 0, 14);
    ip.copy(f, 34, 20 + o, 20 + o + n);
    writeIpv4(f, 14, 20 + n, ip.readUInt16BE(4), 64, ip[9]!, ip.readUInt32BE(12), ip.readUInt32BE(16), (o + n < data ? IPV4_MF : 0) | (o >>> 3));
    out.push(f);
  }
  return out;
}

async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a fragmented datagram to an unbound gateway port is reassembled, then answered as one (port unreachable)', async () => {
  const { net, nic, send, reassembler } = setup();
  const whole = udpPacket(GW_MAC, G1, '192.168.65.10', 5000, '192.168.65.1', 9999, Buffer.alloc(3000, 7));
  for (const f of fragments(whole, 1480)) send(f);
  assert.is(reassembler.stats.reassembled, 1);
  const [r] = nic.take();
  assert.ok(r, 'an answer came back');
  assert.is(r![34], 3);
  assert.is(r![35], 3, 'port unreachable: the UDP layer saw the whole datagram');
  assert.is(r!.readUInt16BE(42 + 2), 20 + 8 + 3000, 'quotes the reassembled header (total length)');
  assert.is(net.gateway.counters.drops[Drop.Fragment], 0, 'no fragment dropped');
  await net.close();
});

test('8 KiB through the NAT to a 127.0.0.1 server and back: in as fragments, out as fragments, intact', async () => {
  const { net, nic, send, fragmenter } = setup();
  const server = createSocket('udp4');
  const got: Buffer[] = [];
  server.on('message', (m, from) => {
    got.push(m);
    server.send(Buffer.concat([m, m]), from.port, from.address);
  });
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
  const data = Buffer.alloc(8192);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const whole = udpPacket(GW_MAC, G1, '192.168.65.10', 40000, '192.168.65.254', server.address().port, data);
  for (const f of fragments(whole, 1480).reverse()) send(f);
  await waitFor(() => got.length === 1, 'the server to receive the datagram');
  assert.ok(got[0]!.equals(data), 'the host server received the 8 KiB exactly');
  await waitFor(() => nic.frames.length >= 12, 'the 16 KiB reply fragments');
  const frames = nic.take();
  assert.is(frames.length, Math.ceil((16384 + 8) / 1480));
  assert.is(fragmenter.stats.fragmented, 1);
  // Reassemble as the guest would, with a second reassembler.
  const scheduler = new ManualScheduler();
  let reply: Buffer | undefined;
  const guest = new Ipv4Reassembler({ runtime: { clock: scheduler.clock, scheduler }, deliver: (i) => (reply = Buffer.from(i.buf.subarray(i.payload, i.payload + i.payloadLen))) });
  const info = new FrameInfo();
  for (const f of frames) {
    assert.ok(f.length <= 1514);
    parseFrame(f, 0, f.length, info);
    guest.input(info);
  }
  assert.ok(reply, 'the reply reassembled with a valid UDP checksum');
  assert.ok(reply!.equals(Buffer.concat([data, data])));
  assert.is(frames[0]!.readUInt32BE(26), parseIpv4('192.168.65.254'), 'from the host alias');
  server.close();
  await net.close();
});

test('an incomplete datagram times out after 30 s on the network clock: ICMP time exceeded to the guest', async () => {
  const { net, nic, send, scheduler, reassembler } = setup();
  const whole = udpPacket(GW_MAC, G1, '192.168.65.10', 40000, '192.168.65.254', 9, Buffer.alloc(3000));
  send(fragments(whole, 1480)[0]!);
  scheduler.advance(30_000);
  const [r] = nic.take();
  assert.ok(r);
  assert.is(r![34], 11);
  assert.is(r![35], 1);
  assert.is(r!.readUInt32BE(26), parseIpv4('192.168.65.254'), 'from the address the guest sent to');
  assert.is(checksum(r!, 34, r!.length - 34), 0);
  assert.is(reassembler.stats.timeExceededSent, 1);
  await net.close();
});

test('with a clamp, a DF datagram to a non-loopback host is refused with fragmentation-needed before any socket opens', async () => {
  const { net, nic, send, guard } = setup(1452);
  try {
    // The alias maps to the host's loopback, which is never clamped.
    send(udpPacket(GW_MAC, G1, '192.168.65.10', 40000, '192.168.65.254', 9, Buffer.alloc(1472)));
    assert.is(guard.fragNeededSent, 0, 'loopback is never clamped');
    nic.take();
    // 127/8 named directly is refused by the policy, not answered with a path MTU.
    send(udpPacket(GW_MAC, G1, '192.168.65.10', 40000, '127.0.0.1', 9, Buffer.alloc(1472)));
    const [refused] = nic.take();
    assert.equal([refused![34], refused![35]], [3, 13], 'admin-prohibited');
    assert.is(guard.fragNeededSent, 0);
    // 192.0.2.1 is not allowed by the egress policy, but the PMTU answer comes first and opens nothing.
    send(udpPacket(GW_MAC, G1, '192.168.65.10', 40000, '192.0.2.1', 9, Buffer.alloc(1472)));
    const [r] = nic.take();
    assert.ok(r);
    assert.is(r![35], 4);
    assert.is(r!.readUInt16BE(40), 1452);
    assert.is(guard.fragNeededSent, 1);
    assert.is(net.udpNat.stats.denied, 1, 'only the datagram to 127.0.0.1');
  } finally {
    // A failed assertion must not leave the flow's socket keeping the process alive.
    await net.close();
  }
});

test.run();
