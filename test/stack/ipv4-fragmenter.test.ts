/**
 * The fragmenter writing through a real Ipv4Output into a capture port; fragments checked field by
 * field, and fed back through the reassembler (round trip, including a fast-check property).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { IcmpLayer } from '../../src/stack/icmp.js';
import { Ipv4Output } from '../../src/stack/ip-output.js';
import { Ipv4Fragmenter, UDP_MAX_PAYLOAD, type Ipv4Emitter } from '../../src/stack/ipv4-fragmenter.js';
import { writeLaterFragmentHeader } from '../../src/stack/ipv4-options.js';
import { Ipv4Reassembler } from '../../src/stack/ipv4-reassembly.js';
import { Neighbours } from '../../src/stack/neighbours.js';
import { UdpLayer } from '../../src/stack/udp.js';
import { Switch } from '../../src/switch/switch.js';
import { parseIpv4, parseMac } from '../../src/wire/address.js';
import { checksum } from '../../src/wire/checksum.js';
import { Drop } from '../../src/wire/drop.js';
import { FrameInfo, parseFrame } from '../../src/wire/frame-info.js';
import { IPV4_DF, IPV4_MF, writeIpv4 } from '../../src/wire/ipv4.js';
import { CapturePort } from '../harness/capture-port.js';
import { icmpEcho } from '../harness/frames.js';

const GW_MAC = parseMac('f6:16:36:bc:f9:c6')!;
const G1_MAC = parseMac('02:00:00:00:00:10')!;
const GW = parseIpv4('192.168.65.1')!;
const ALIAS = parseIpv4('192.168.65.254')!;
const GUEST = parseIpv4('192.168.65.10')!;

function setup(mtu = 1500, maxFrame = mtu + 14) {
  const scheduler = new ManualScheduler();
  const sw = new Switch({ clock: scheduler.clock });
  const nic = new CapturePort('g1', maxFrame);
  sw.attach(nic);
  sw.macs.learn(G1_MAC, nic.id);
  const neighbours = new Neighbours(scheduler.clock);
  neighbours.learn(GUEST, G1_MAC);
  const out = new Ipv4Output(sw, neighbours, GW_MAC, GW, mtu);
  const icmp = new IcmpLayer(out, (ip) => ip === GW);
  const frag = new Ipv4Fragmenter({ output: out, switch: sw, icmp, routerIp: GW });
  const reassembled: Buffer[] = [];
  const reasm = new Ipv4Reassembler({ runtime: { clock: scheduler.clock, scheduler }, deliver: (i) => reassembled.push(Buffer.from(i.buf.subarray(i.off + 14, i.off + i.len))) });
  const info = new FrameInfo();
  /** Feeds captured frames to the reassembler (whole packets are passed through as they are). */
  const reassemble = (frames: Buffer[]): void => {
    for (const f of frames) {
      assert.is(parseFrame(f, 0, f.length, info), Drop.None, 'each frame parses');
      if (info.fragment) reasm.input(info);
      else reassembled.push(Buffer.from(f.subarray(14)));
    }
  };
  return { scheduler, sw, nic, out, frag, reasm, reassembled, reassemble };
}

/** Every fragment's IP fields: [offset bytes, MF, total length, id, header length]. */
const fields = (frames: Buffer[]) =>
  frames.map((f) => {
    assert.is(checksum(f, 14, (f[14]! & 15) * 4), 0, 'valid header checksum');
    const ff = f.readUInt16BE(20);
    return { off: (ff & 0x1fff) * 8, mf: (ff & IPV4_MF) !== 0, df: (ff & IPV4_DF) !== 0, len: f.readUInt16BE(16), id: f.readUInt16BE(18), hl: (f[14]! & 15) * 4 };
  });

function pattern(n: number, seed = 3): Buffer {
  const b = Buffer.alloc(n);
  const rng = new SeededRng(seed);
  for (let i = 0; i < n; i++) b[i] = rng.u32() & 0xff;
  return b;
}

test('MTU edge: 1472 bytes of UDP payload go whole with DF; 1473 become two fragments', () => {
  const { nic, frag, reassemble, reassembled } = setup();
  assert.is(frag.sendUdp(ALIAS, 7, GUEST, 40000, pattern(1472)), Drop.None);
  const [whole] = nic.take();
  assert.is(whole!.length, 1514);
  assert.equal(fields([whole!])[0], { off: 0, mf: false, df: true, len: 1500, id: fields([whole!])[0]!.id, hl: 20 });
  assert.is(frag.sendUdp(ALIAS, 7, GUEST, 40000, pattern(1473)), Drop.None);
  const frames = nic.take();
  const f = fields(frames);
  assert.is(f.length, 2);
  assert.equal(f[0], { off: 0, mf: true, df: false, len: 1500, id: f[0]!.id, hl: 20 });
  assert.equal(f[1], { off: 1480, mf: false, df: false, len: 21, id: f[0]!.id, hl: 20 }, 'same id, the 1 remaining byte');
  reassemble(frames);
  const pkt = reassembled[0]!;
  assert.is(pkt.length, 1501);
  assert.ok(pkt.subarray(28).equals(pattern(1473)), 'payload intact after reassembly');
  assert.is(pkt.readUInt16BE(20), 7);
  assert.is(pkt.readUInt16BE(22), 40000);
});

test('a 60 KiB UDP reply becomes 42 fragments at 8-byte boundaries, all within the MTU', () => {
  const { nic, frag, reassemble, reassembled } = setup();
  const data = pattern(60 * 1024);
  assert.is(frag.sendUdp(ALIAS, 9, GUEST, 40000, data), Drop.None);
  const frames = nic.take();
  const f = fields(frames);
  assert.is(f.length, Math.ceil((60 * 1024 + 8) / 1480));
  let expect = 0;
  for (const [i, x] of f.entries()) {
    assert.ok(x.len <= 1500);
    assert.is(x.off, expect, `fragment ${i} starts where the previous ended`);
    assert.is(x.id, f[0]!.id);
    assert.is(x.mf, i < f.length - 1);
    if (x.mf) assert.is((x.len - 20) % 8, 0);
    expect += x.len - 20;
  }
  assert.is(frag.stats.fragmented, 1);
  assert.is(frag.stats.fragments, f.length);
  reassemble(frames);
  assert.ok(reassembled[0]!.subarray(28).equals(data));
});

test('each datagram gets its own identification', () => {
  const { nic, frag } = setup();
  frag.sendUdp(ALIAS, 9, GUEST, 40000, pattern(3000));
  frag.sendUdp(ALIAS, 9, GUEST, 40000, pattern(3000));
  const ids = new Set(fields(nic.take()).map((x) => x.id));
  assert.is(ids.size, 2);
});

test('the largest UDP payload (65,507) is carried; one byte more is refused', () => {
  const { nic, frag, reassemble, reassembled } = setup();
  assert.is(frag.sendUdp(ALIAS, 9, GUEST, 40000, pattern(UDP_MAX_PAYLOAD)), Drop.None);
  reassemble(nic.take());
  assert.is(reassembled[0]!.length, 65535);
  assert.is(frag.sendUdp(ALIAS, 9, GUEST, 40000, Buffer.alloc(UDP_MAX_PAYLOAD + 1)), Drop.TooBig);
});

test('a destination port with a smaller maxFrame lowers the fragment size', () => {
  const { nic, frag, reassemble, reassembled } = setup(1500, 1014);
  assert.is(frag.mtuTo(GUEST), 1000);
  frag.sendUdp(ALIAS, 9, GUEST, 40000, pattern(5000));
  const frames = nic.take();
  for (const x of fields(frames)) assert.ok(x.len <= 1000);
  assert.is(frames.length, Math.ceil(5008 / 976));
  reassemble(frames);
  assert.ok(reassembled[0]!.subarray(28).equals(pattern(5000)));
});

test('DF set and too big: refused with the MTU, and forward() answers fragmentation-needed (RFC 1191 §4)', () => {
  const { nic, frag } = setup(1500);
  const pkt = Buffer.alloc(14 + 2000);
  pkt.writeUIntBE(GW_MAC, 0, 6);
  pkt.writeUIntBE(G1_MAC, 6, 6);
  pkt.writeUInt16BE(0x0800, 12);
  writeIpv4(pkt, 14, 2000, 5, 64, 253, parseIpv4('192.168.65.11')!, GUEST, IPV4_DF);
  assert.is(frag.send(pkt, 14, 2000), Drop.TooBig);
  assert.is(frag.lastMtu, 1500);
  assert.is(nic.take().length, 0);
  const info = new FrameInfo();
  parseFrame(pkt, 0, pkt.length, info);
  assert.is(frag.forward(info), Drop.TooBig);
  const [icmp] = nic.take();
  assert.ok(icmp, 'an ICMP error went back');
  assert.is(icmp!.readUIntBE(0, 6), G1_MAC, 'to the sender');
  assert.is(icmp!.readUInt32BE(26), GW, 'from the gateway, the router on the path');
  assert.is(icmp![34], 3);
  assert.is(icmp![35], 4, 'fragmentation needed');
  assert.is(icmp!.readUInt16BE(40), 1500, 'next-hop MTU');
  assert.is(frag.stats.fragNeededSent, 1);
  // Without DF the same packet is relayed as fragments, keeping its identification.
  writeIpv4(pkt, 14, 2000, 5, 64, 253, parseIpv4('192.168.65.11')!, GUEST, 0);
  parseFrame(pkt, 0, pkt.length, info);
  assert.is(frag.forward(info), Drop.None);
  assert.equal(
    fields(nic.take()).map((x) => [x.off, x.id]),
    [
      [0, 5],
      [1480, 5],
    ],
  );
});

test('MTU edge: at the RFC 791 minimum of 68 a 60-byte header still carries 8 bytes per fragment', () => {
  const { nic, frag, reassemble, reassembled } = setup(68);
  const pkt = Buffer.alloc(60 + 40);
  writeIpv4(pkt, 0, 100, 11, 64, 253, GW, GUEST, 0);
  pkt[0] = 0x4f;
  pkt.fill(1, 20, 60); // NOPs
  pattern(40).copy(pkt, 60);
  pkt.writeUInt16BE(0, 10);
  pkt.writeUInt16BE(checksum(pkt, 0, 60), 10);
  assert.is(frag.send(pkt, 0, pkt.length), Drop.None);
  const frames = nic.take();
  const f = fields(frames);
  assert.is(f[0]!.len, 68, 'first: 60 + 8');
  assert.is(f[1]!.hl, 20, 'NOPs are not copied');
  assert.is(f[1]!.len, 52, 'later: 20 + the 32 bytes left');
  assert.is(f.length, 2);
  reassemble(frames);
  assert.ok(reassembled[0]!.equals(pkt));
  const { frag: tiny } = setup(67);
  assert.is(tiny.send(pkt, 0, pkt.length), Drop.TooBig, 'below 68 a 60-byte header leaves no room');
});

test('options: later fragments keep only the copied ones (RFC 791 §3.1), padded to 4 bytes', () => {
  const hdr = Buffer.alloc(60);
  writeIpv4(hdr, 0, 60, 1, 64, 253, GW, GUEST, 0);
  // Record route (7, not copied, 11 bytes), NOP, loose source route (0x83, copied, 7 bytes),
  // security (0x82, copied, 11 bytes), EOL.
  const opts = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x83, 7, 4, 10, 0, 0, 1, 0x82, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0];
  Buffer.from(opts).copy(hdr, 20);
  hdr[0] = 0x40 | Math.ceil((20 + opts.length) / 4);
  const out = new Uint8Array(60).fill(0xa5);
  const n = writeLaterFragmentHeader(hdr, 0, (hdr[0]! & 15) * 4, out);
  assert.is(n, 20 + 20, 'LSRR 7 + security 11 = 18, padded to 20');
  assert.is(out[0], 0x4a);
  assert.equal([...out.subarray(20, 40)], [0x83, 7, 4, 10, 0, 0, 1, 0x82, 11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0]);
  // A malformed length stops the walk: nothing after it is trusted.
  const bad = Buffer.from(hdr);
  bad[21] = 1;
  assert.is(writeLaterFragmentHeader(bad, 0, 52, out), 20);
});

test('a packet that is itself a fragment keeps its offset and MF on the last piece', () => {
  const { nic, frag } = setup(1500);
  const pkt = Buffer.alloc(20 + 2960);
  // The middle of some datagram: offset 8000, MF set.
  writeIpv4(pkt, 0, pkt.length, 3, 64, 253, GW, GUEST, IPV4_MF | (8000 >>> 3));
  frag.send(pkt, 0, pkt.length);
  assert.equal(
    fields(nic.take()).map((x) => [x.off, x.mf]),
    [
      [8000, true],
      [9480, true],
    ],
  );
});

test('nothing is sent when the guest MAC is unknown: the first fragment fails, no partial datagram', () => {
  const { nic, frag, out } = setup();
  const other = parseIpv4('192.168.65.77')!;
  assert.is(frag.sendUdp(ALIAS, 9, other, 40000, pattern(5000)), Drop.NotForUs);
  assert.is(out.unresolved, 1);
  const sent = nic.take();
  assert.is(sent.length, 1, 'only the ARP request');
  assert.is(sent[0]!.readUInt16BE(12), 0x0806);
  assert.is(frag.stats.partial, 0);
});

test('begin/commit is a drop-in for Ipv4Output: UdpLayer over the fragmenter sends any size', () => {
  const { nic, frag, reassemble, reassembled } = setup();
  const emitter: Ipv4Emitter = frag;
  // The proposed wiring: UdpLayer takes the emitter contract instead of the concrete output.
  const udp = new UdpLayer(emitter as unknown as Ipv4Output);
  assert.is(udp.send(ALIAS, 9, GUEST, 40000, pattern(100)), Drop.None);
  const [small] = nic.take();
  assert.ok((small!.readUInt16BE(20) & IPV4_DF) !== 0, 'what fits keeps DF');
  assert.is(udp.send(ALIAS, 9, GUEST, 40000, pattern(30_000)), Drop.None);
  const frames = nic.take();
  assert.is(frames.length, Math.ceil(30_008 / 1480));
  reassemble(frames);
  assert.ok(reassembled[0]!.subarray(28).equals(pattern(30_000)), 'UdpLayer wrote the checksum over the whole datagram');
});

test('IcmpLayer over the fragmenter answers a reassembled 8000-byte ping with fragments', () => {
  const { nic, out, frag, reassemble, reassembled } = setup();
  const icmp = new IcmpLayer(frag as unknown as Ipv4Output, (ip) => ip === GW);
  const data = pattern(8000);
  const req = icmpEcho('f6:16:36:bc:f9:c6', '02:00:00:00:00:10', '192.168.65.10', '192.168.65.1', 0x77, 3, data);
  const info = new FrameInfo();
  assert.is(parseFrame(req, 0, req.length, info), Drop.None);
  assert.is(icmp.input(info), Drop.None);
  assert.is(icmp.stats.echoReplies, 1);
  reassemble(nic.take());
  const reply = reassembled[0]!;
  assert.is(reply[20], 0, 'echo reply');
  assert.is(reply.readUInt16BE(24), 0x77);
  assert.ok(reply.subarray(28).equals(data), 'same data');
  // Through the plain output the same reply cannot leave (the switch refuses a 8042-byte frame).
  const plain = new IcmpLayer(out, (ip) => ip === GW);
  parseFrame(req, 0, req.length, info);
  plain.input(info);
  assert.is(nic.take().length, 0);
});

test('property: fragment then reassemble (shuffled, duplicated) gives the original packet back', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 65515 - 40 }),
      fc.integer({ min: 68, max: 9000 }),
      fc.constantFrom(0, 8, 40),
      fc.integer(),
      fc.boolean(),
      (dataLen, mtu, optLen, seed, dup) => {
        const { nic, frag, reassemble, reassembled, reasm } = setup(mtu);
        const hl = 20 + optLen;
        const pkt = Buffer.alloc(hl + dataLen);
        writeIpv4(pkt, 0, pkt.length, seed & 0xffff, 64, 253, ALIAS, GUEST, 0);
        if (optLen > 0) {
          // Copied security option first (8 bytes), then NOPs.
          pkt.fill(1, 20, hl);
          Buffer.from([0x82, 8, 1, 2, 3, 4, 5, 6]).copy(pkt, 20);
          pkt[0] = 0x40 | (hl >>> 2);
          pkt.writeUInt16BE(0, 10);
          pkt.writeUInt16BE(checksum(pkt, 0, hl), 10);
        }
        pattern(dataLen, seed).copy(pkt, hl);
        assert.is(frag.send(pkt, 0, pkt.length), Drop.None);
        let frames = nic.take();
        for (const x of fields(frames)) assert.ok(x.len <= mtu, 'every frame fits the MTU');
        if (dup) frames = frames.concat(frames.filter((_, i) => i % 3 === 0));
        const rng = new SeededRng(seed);
        for (let i = frames.length - 1; i > 0; i--) {
          const j = rng.u32() % (i + 1);
          [frames[i], frames[j]] = [frames[j]!, frames[i]!];
        }
        reassemble(frames);
        assert.ok(reassembled.length >= 1);
        assert.ok(reassembled[0]!.equals(pkt), `dataLen ${dataLen} mtu ${mtu} options ${optLen}`);
        reasm.close();
      },
    ),
    { seed: 791, numRuns: 150 },
  );
});

test.run();
