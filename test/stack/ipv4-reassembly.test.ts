/**
 * The reassembler fed crafted fragments directly (as the gateway would pass them), on a manual
 * clock. Frames the reassembler emits (ICMP time exceeded) land on a capture port.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { Ipv4Output } from '../../src/stack/ip-output.js';
import { Ipv4Reassembler, type Ipv4ReassemblerOptions } from '../../src/stack/ipv4-reassembly.js';
import { Neighbours } from '../../src/stack/neighbours.js';
import { Switch } from '../../src/switch/switch.js';
import { parseIpv4, parseMac } from '../../src/wire/address.js';
import { checksum } from '../../src/wire/checksum.js';
import { Drop } from '../../src/wire/drop.js';
import { EtherType, writeEthernet } from '../../src/wire/ethernet.js';
import { FrameInfo, parseFrame } from '../../src/wire/frame-info.js';
import { IcmpType, writeIcmp } from '../../src/wire/icmpv4.js';
import { IpProto, IPV4_MF, writeIpv4 } from '../../src/wire/ipv4.js';
import { writeUdp } from '../../src/wire/udp.js';
import { CapturePort } from '../harness/capture-port.js';

const GW_MAC = parseMac('f6:16:36:bc:f9:c6')!;
const G1_MAC = parseMac('02:00:00:00:00:10')!;
const GUEST = parseIpv4('192.168.65.10')!;
const REMOTE = parseIpv4('10.0.0.1')!;

/** A complete IPv4 packet (no link header): UDP with a checksum, or raw payload for `proto`. */
function datagram(dataLen: number, opts: { id?: number; proto?: number; src?: number; dst?: number; options?: number[]; seed?: number } = {}): Buffer {
  const opt = Buffer.from(opts.options ?? []);
  const hl = 20 + opt.length;
  const p = Buffer.alloc(hl + dataLen);
  let s = opts.seed ?? 7;
  for (let i = hl; i < p.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    p[i] = s >>> 24;
  }
  const proto = opts.proto ?? IpProto.UDP;
  const src = opts.src ?? GUEST;
  const dst = opts.dst ?? REMOTE;
  if (proto === IpProto.UDP) writeUdp(p, hl, 40000, 5353, dataLen, src, dst);
  writeIpv4(p, 0, p.length, opts.id ?? 0x4242, 64, proto, src, dst, 0);
  if (opt.length > 0) {
    opt.copy(p, 20);
    p[0] = 0x40 | (hl >>> 2);
    p.writeUInt16BE(0, 10);
    p.writeUInt16BE(checksum(p, 0, hl), 10);
  }
  return p;
}

/** The frame of the fragment of `pkt` carrying data `[first, first+len)`. Non-first fragments drop the options. */
function fragment(pkt: Buffer, first: number, len: number, more: boolean, mutate?: (data: Buffer) => void): Buffer {
  const hl = (pkt[0]! & 15) * 4;
  const fhl = first === 0 ? hl : 20;
  const f = Buffer.alloc(14 + fhl + len);
  writeEthernet(f, 0, GW_MAC, G1_MAC, EtherType.IPv4);
  pkt.copy(f, 14 + fhl, hl + first, hl + first + len);
  if (mutate) mutate(f.subarray(14 + fhl));
  writeIpv4(f, 14, fhl + len, pkt.readUInt16BE(4), 64, pkt[9]!, pkt.readUInt32BE(12), pkt.readUInt32BE(16), (more ? IPV4_MF : 0) | (first >>> 3));
  if (fhl > 20) {
    pkt.copy(f, 14 + 20, 20, hl);
    f[14] = 0x40 | (fhl >>> 2);
    f.writeUInt16BE(0, 24);
    f.writeUInt16BE(checksum(f, 14, fhl), 24);
  }
  return f;
}

/** Cuts `pkt` into fragments of `size` data bytes (a multiple of 8). */
function cut(pkt: Buffer, size: number): Buffer[] {
  const hl = (pkt[0]! & 15) * 4;
  const data = pkt.length - hl;
  const out: Buffer[] = [];
  for (let o = 0; o < data; o += size) out.push(fragment(pkt, o, Math.min(size, data - o), o + size < data));
  return out;
}

function setup(opts: Partial<Ipv4ReassemblerOptions> = {}) {
  const scheduler = new ManualScheduler();
  const sw = new Switch({ clock: scheduler.clock });
  const nic = new CapturePort('g1');
  sw.attach(nic);
  const out = new Ipv4Output(sw, new Neighbours(scheduler.clock), GW_MAC, parseIpv4('192.168.65.1')!, 1500);
  const delivered: Array<{ frame: Buffer; srcPort: number; dstPort: number; payloadLen: number }> = [];
  const r = new Ipv4Reassembler({
    runtime: { clock: scheduler.clock, scheduler },
    output: out,
    deliver: (i) => delivered.push({ frame: Buffer.from(i.buf.subarray(i.off, i.off + i.len)), srcPort: i.srcPort, dstPort: i.dstPort, payloadLen: i.payloadLen }),
    ...opts,
  });
  const info = new FrameInfo();
  const feed = (f: Buffer): number => {
    assert.is(parseFrame(f, 0, f.length, info), Drop.None, 'a well-formed fragment');
    assert.ok(info.fragment);
    return r.input(info);
  };
  return { scheduler, nic, r, delivered, feed };
}

/** The reassembled frame must be the original packet with its fragment fields cleared. */
function assertSamePacket(frame: Buffer, pkt: Buffer): void {
  assert.is(frame.length, 14 + pkt.length, 'frame length');
  assert.is(frame.readUIntBE(6, 6), G1_MAC, 'Ethernet header of fragment zero');
  const ip = frame.subarray(14);
  assert.is(checksum(ip, 0, (ip[0]! & 15) * 4), 0, 'a valid header checksum');
  const a = Buffer.from(ip);
  const b = Buffer.from(pkt);
  a.writeUInt16BE(0, 10);
  b.writeUInt16BE(0, 10);
  assert.ok(a.equals(b), 'the same bytes as the original datagram');
}

function shuffle<T>(xs: T[], seed: number): T[] {
  const rng = new SeededRng(seed);
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.u32() % (i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

test('fragments in order make one datagram: header restored, UDP parsed over the whole payload', () => {
  const { r, delivered, feed, scheduler } = setup();
  const pkt = datagram(4000);
  const frags = cut(pkt, 1480);
  for (const f of frags.slice(0, -1)) {
    assert.is(feed(f), Drop.None);
    assert.is(delivered.length, 0, 'nothing before the last piece');
  }
  feed(frags.at(-1)!);
  assert.is(delivered.length, 1);
  assertSamePacket(delivered[0]!.frame, pkt);
  assert.is(delivered[0]!.dstPort, 5353);
  assert.is(delivered[0]!.payloadLen, 4000 - 8);
  assert.is(r.stats.reassembled, 1);
  assert.is(r.stats.inProgress, 0);
  assert.is(r.stats.bytesInUse, 0, 'buffer released');
  assert.is(scheduler.size, 0, 'no timer left armed');
});

test('reversed order: the last fragment first sizes the buffer exactly', () => {
  const { r, delivered, feed } = setup();
  const pkt = datagram(9000);
  const frags = cut(pkt, 1480).reverse();
  feed(frags[0]!);
  assert.is(r.stats.bytesInUse, 14 + 60 + 9000, 'the end is known from the first arrival');
  for (const f of frags.slice(1)) feed(f);
  assert.is(delivered.length, 1);
  assertSamePacket(delivered[0]!.frame, pkt);
});

test('shuffled tiny (8-byte) fragments of a 4 KiB datagram reassemble exactly', () => {
  const { delivered, feed, r } = setup();
  const pkt = datagram(4096);
  for (const f of shuffle(cut(pkt, 8), 1)) feed(f);
  assert.is(delivered.length, 1);
  assertSamePacket(delivered[0]!.frame, pkt);
  assert.is(r.stats.fragments, 512);
});

test('every fragment twice: delivered once, the copies counted as duplicates', () => {
  const { delivered, feed, r } = setup();
  const pkt = datagram(3000);
  const frags = cut(pkt, 1000 - (1000 % 8));
  // The last copy of the last fragment arrives after completion and would start a new datagram.
  for (const f of frags.slice(0, -1)) {
    feed(f);
    feed(f);
  }
  feed(frags.at(-1)!);
  assert.is(delivered.length, 1);
  assertSamePacket(delivered[0]!.frame, pkt);
  assert.is(r.stats.duplicates, frags.length - 1);
});

test('overlapping fragments with the same bytes (re-fragmented copies) are accepted', () => {
  const { delivered, feed, r } = setup();
  const pkt = datagram(96);
  feed(fragment(pkt, 0, 48, true));
  feed(fragment(pkt, 32, 40, true)); // overlaps [32, 48) with equal bytes
  feed(fragment(pkt, 8, 16, true)); // entirely inside: a duplicate
  feed(fragment(pkt, 64, 32, false));
  assert.is(delivered.length, 1);
  assertSamePacket(delivered[0]!.frame, pkt);
  assert.is(r.stats.overlaps, 0);
  assert.is(r.stats.duplicates, 1);
});

test('an overlap with different bytes discards the whole datagram and its later fragments (RFC 5722 §4)', () => {
  const { delivered, feed, r, nic, scheduler } = setup();
  const pkt = datagram(96);
  feed(fragment(pkt, 0, 48, true));
  // The RFC 1858 attack shape: rewrite bytes already received.
  assert.is(
    feed(fragment(pkt, 40, 24, true, (d) => (d[0] ^= 0xff))),
    Drop.Fragment,
  );
  assert.is(r.stats.overlaps, 1);
  assert.is(r.stats.bytesInUse, 0, 'data freed at once');
  assert.is(feed(fragment(pkt, 64, 32, false)), Drop.Fragment, 'later fragments are dropped too');
  assert.is(feed(fragment(pkt, 48, 16, true)), Drop.Fragment);
  assert.is(r.stats.discarded, 2);
  assert.is(delivered.length, 0);
  scheduler.advance(30_000);
  assert.is(nic.take().length, 0, 'silently: no time exceeded for a discarded datagram');
  assert.is(r.stats.inProgress, 0, 'the tombstone expired');
});

test('two last fragments with different ends, or data beyond the end, discard the datagram', () => {
  const { delivered, feed, r } = setup();
  const pkt = datagram(200, { id: 1 });
  feed(fragment(pkt, 0, 80, true));
  feed(fragment(pkt, 80, 120, false));
  const other = datagram(200, { id: 2 });
  feed(fragment(other, 0, 80, true));
  feed(fragment(other, 160, 40, false));
  assert.is(feed(fragment(other, 80, 40, false)), Drop.Fragment, 'a second, shorter end');
  const beyond = datagram(200, { id: 3 });
  feed(fragment(beyond, 160, 40, false));
  assert.is(feed(fragment(beyond, 200, 8, true)), Drop.Fragment, 'data past the end');
  assert.is(delivered.length, 1, 'only the consistent datagram');
  assert.is(r.stats.overlaps, 2);
});

test('missing last fragment: nothing before 30 s, then ICMP time exceeded (11/1) quoting fragment zero', () => {
  const { delivered, feed, r, nic, scheduler } = setup();
  const pkt = datagram(3000);
  const frags = cut(pkt, 1480);
  feed(frags[0]!);
  feed(frags[1]!);
  scheduler.advance(29_999);
  assert.is(nic.take().length, 0);
  assert.is(r.stats.inProgress, 1);
  scheduler.advance(1);
  const [icmp] = nic.take();
  assert.ok(icmp, 'an ICMP message was sent');
  assert.is(delivered.length, 0);
  assert.is(icmp!.readUIntBE(0, 6), G1_MAC, 'to the guest that sent the fragments');
  assert.is(icmp!.readUInt32BE(26), REMOTE, 'from the address the guest sent to');
  assert.is(icmp!.readUInt32BE(30), GUEST);
  assert.is(icmp![23], IpProto.ICMP);
  assert.is(icmp![34], IcmpType.TimeExceeded);
  assert.is(icmp![35], 1, 'fragment reassembly time exceeded');
  assert.is(checksum(icmp!, 34, icmp!.length - 34), 0, 'valid ICMP checksum');
  const quote = icmp!.subarray(42);
  assert.is(quote.length, 28, 'header + 8 bytes');
  assert.ok(quote.equals(frags[0]!.subarray(14, 42)), 'fragment zero as it was received (MF set, its own length)');
  assert.is(r.stats.timedOut, 1);
  assert.is(r.stats.timeExceededSent, 1);
  assert.is(r.stats.bytesInUse, 0);
  assert.is(scheduler.size, 0);
});

test('without fragment zero a timeout sends nothing (RFC 792)', () => {
  const { feed, r, nic, scheduler } = setup();
  const pkt = datagram(3000);
  feed(cut(pkt, 1480)[1]!);
  scheduler.advance(30_000);
  assert.is(r.stats.timedOut, 1);
  assert.is(nic.take().length, 0);
});

test('no time exceeded about an ICMP error, or for a broadcast destination (RFC 1122 §3.2.2)', () => {
  const { feed, r, nic, scheduler } = setup({ isBroadcast: (ip) => ip === parseIpv4('192.168.65.255') });
  const err = datagram(3000, { proto: IpProto.ICMP, id: 1 });
  writeIcmp(err, 20, 8, IcmpType.DestUnreachable, 3, 0);
  feed(cut(err, 1480)[0]!);
  feed(cut(datagram(3000, { dst: parseIpv4('192.168.65.255')!, id: 2 }), 1480)[0]!);
  const echo = datagram(3000, { proto: IpProto.ICMP, id: 3 });
  writeIcmp(echo, 20, 8, IcmpType.EchoRequest, 0, 0);
  feed(cut(echo, 1480)[0]!);
  scheduler.advance(30_000);
  assert.is(r.stats.timedOut, 3);
  assert.is(nic.take().length, 1, 'only the echo request gets one');
});

test('datagrams expire in arrival order on one timer, each 30 s after its first fragment', () => {
  const { feed, r, scheduler } = setup();
  feed(cut(datagram(3000, { id: 1 }), 1480)[0]!);
  scheduler.advance(10_000);
  feed(cut(datagram(3000, { id: 2 }), 1480)[0]!);
  scheduler.advance(20_000);
  assert.is(r.stats.inProgress, 1);
  scheduler.advance(9_999);
  assert.is(r.stats.inProgress, 1, 'later fragments of a datagram do not extend it (RFC 1122 §3.3.2)');
  scheduler.advance(1);
  assert.is(r.stats.inProgress, 0);
  assert.is(scheduler.size, 0);
});

test('datagrams with the same id but another source, destination or protocol are kept apart', () => {
  const { delivered, feed } = setup();
  const a = datagram(2000, { id: 9, seed: 1 });
  const b = datagram(2000, { id: 9, seed: 2, dst: parseIpv4('10.0.0.2')! });
  const c = datagram(2000, { id: 9, seed: 3, proto: 253 });
  const d = datagram(2000, { id: 9, seed: 4, src: parseIpv4('192.168.65.11')! });
  const fa = cut(a, 1480);
  const fb = cut(b, 1480);
  const fc = cut(c, 1480);
  const fd = cut(d, 1480);
  for (const f of [fa[0], fb[0], fc[0], fd[0], fd[1], fb[1], fc[1], fa[1]]) feed(f!);
  assert.is(delivered.length, 4);
  assertSamePacket(delivered[0]!.frame, d);
  assertSamePacket(delivered[1]!.frame, b);
  assertSamePacket(delivered[2]!.frame, c);
  assertSamePacket(delivered[3]!.frame, a);
});

test('the datagram cap evicts the oldest datagram in progress', () => {
  const { delivered, feed, r } = setup({ maxDatagrams: 2 });
  const pkts = [1, 2, 3].map((id) => datagram(3000, { id, seed: id }));
  const frags = pkts.map((p) => cut(p, 1480));
  for (const f of frags) feed(f[0]!);
  assert.is(r.stats.evicted, 1);
  assert.is(r.stats.inProgress, 2);
  for (const f of frags.slice(1)) for (const x of f.slice(1)) feed(x);
  assert.is(delivered.length, 2, 'the two newest complete');
  assertSamePacket(delivered[0]!.frame, pkts[1]!);
  assertSamePacket(delivered[1]!.frame, pkts[2]!);
  // The evicted datagram's remaining fragments start over and can never complete.
  for (const x of frags[0]!.slice(1)) feed(x);
  assert.is(delivered.length, 2);
});

test('the byte budget evicts the oldest datagrams to make room, and refuses one that can never fit', () => {
  const budget = 3 * (14 + 60 + 9000);
  const { delivered, feed, r } = setup({ budgetBytes: budget });
  const pkts = [1, 2, 3, 4].map((id) => datagram(9000, { id, seed: id }));
  // Last fragments first: each buffer is exactly 14 + 60 + 9000 bytes.
  for (const p of pkts) feed(cut(p, 1480).at(-1)!);
  assert.is(r.stats.evicted, 1, 'the fourth pushed out the first');
  assert.ok(r.stats.bytesInUse <= budget);
  for (const p of pkts.slice(1)) for (const f of cut(p, 1480).slice(0, -1)) feed(f);
  assert.is(delivered.length, 3);
  const huge = datagram(60_000, { id: 5 });
  assert.is(feed(cut(huge, 1480).at(-1)!), Drop.Limit, 'larger than the whole budget');
  assert.is(r.stats.bytesInUse, 0);
});

test('a non-last fragment must carry a non-zero multiple of 8 bytes', () => {
  const { feed, r } = setup();
  const pkt = datagram(100);
  assert.is(feed(fragment(pkt, 0, 12, true)), Drop.BadLength);
  assert.is(feed(fragment(pkt, 8, 0, true)), Drop.BadLength);
  assert.is(r.stats.invalid, 2);
  assert.is(r.stats.inProgress, 0, 'nothing held for them');
});

test('offset + length past 65,535 is dropped (ping of death); a datagram exactly 65,535 long is fine', () => {
  const { delivered, feed, r } = setup();
  const pkt = datagram(65515);
  const frags = cut(pkt, 1480);
  const over = Buffer.from(frags.at(-1)!);
  // Same fragment moved 8 bytes further: offset + total length = 65,543.
  over.writeUInt16BE(over.readUInt16BE(20) + 1, 20);
  over.writeUInt16BE(0, 24);
  over.writeUInt16BE(checksum(over, 14, 20), 24);
  assert.is(feed(over), Drop.TooBig);
  assert.is(r.stats.oversize, 1);
  for (const f of frags) feed(f);
  assert.is(delivered.length, 1);
  assert.is(delivered[0]!.frame.readUInt16BE(16), 65535, 'total length of the largest datagram');
  assertSamePacket(delivered[0]!.frame, pkt);
});

test('options in fragment zero are kept; if they push the datagram past 65,535 it is discarded', () => {
  const { delivered, feed, r } = setup();
  // Loose source route (copied, type 0x83) with one address, then NOP + EOL padding.
  const opts = [0x83, 7, 4, 10, 0, 0, 9, 1, 0, 0, 0, 0];
  const pkt = datagram(1000, { options: opts });
  for (const f of cut(pkt, 504)) feed(f);
  assert.is(delivered.length, 1);
  assertSamePacket(delivered[0]!.frame, pkt);
  // 40 bytes of NOPs: a 60-byte header and 65,475 data bytes make exactly 65,535.
  const nops = new Array<number>(40).fill(1);
  const big = datagram(65475, { options: nops, id: 77 });
  for (const f of cut(big, 1480).reverse()) feed(f);
  assert.is(delivered.length, 2, 'exactly 65,535 bytes with options is legal');
  assertSamePacket(delivered[1]!.frame, big);
  // A last fragment that fits on its own (65,480 + 28 ≤ 65,535, with its 20-byte header) ...
  const last = Buffer.alloc(14 + 20 + 8);
  writeEthernet(last, 0, GW_MAC, G1_MAC, EtherType.IPv4);
  writeIpv4(last, 14, 28, 78, 64, IpProto.UDP, GUEST, REMOTE, 65480 >>> 3);
  assert.is(feed(last), Drop.None);
  // ... but behind fragment zero's 60-byte header the datagram would be 65,548 bytes.
  assert.is(feed(fragment(datagram(1480, { options: nops, id: 78 }), 0, 1480, true)), Drop.Fragment);
  assert.is(r.stats.oversize, 1);
  assert.is(delivered.length, 2);
});

test('a reassembled datagram with a bad UDP checksum is not delivered', () => {
  const { delivered, feed, r } = setup();
  const pkt = datagram(3000);
  const frags = cut(pkt, 1480);
  feed(frags[0]!);
  feed(fragment(pkt, 1480, 1480, true, (d) => (d[100] ^= 1)));
  assert.is(feed(frags[2]!), Drop.BadChecksum);
  assert.is(delivered.length, 0);
  assert.is(r.stats.invalid, 1);
  assert.is(r.stats.inProgress, 0);
});

test('close() frees every datagram and disarms the timer', () => {
  const { feed, r, scheduler } = setup();
  feed(cut(datagram(3000, { id: 1 }), 1480)[0]!);
  feed(cut(datagram(3000, { id: 2 }), 1480)[0]!);
  r.close();
  assert.is(r.stats.inProgress, 0);
  assert.is(r.stats.bytesInUse, 0);
  assert.is(scheduler.size, 0);
});

test.run();
