/**
 * Seeded fuzzing of the wire layer. Inputs are arbitrary bytes and real frames (the golden
 * captures) mutated by bit flips, byte writes, truncation, growth and length-field corruption,
 * optionally with their checksums repaired so the mutation reaches the deeper layers. For every
 * input: nothing throws; `parseFrame` and every `check*`/getter/`parseTcpOptions` read only
 * inside `[off, off+len)` (a recording proxy names any index outside it, and results must not
 * change when the bytes around the frame change); and the verdict and every parsed field agree
 * with the independent reference parser in `test/harness/oracles/frame-ref.ts`.
 *
 * Reproduce or go longer by hand: VNETKIT_FUZZ_SEED=123 VNETKIT_FUZZ_RUNS=100000 npx tsx test/wire/fuzz.test.ts
 * @module
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { arpOp, arpSenderIp, arpSenderMac, arpTargetIp, arpTargetMac, checkArp } from '../../src/wire/arp.js';
import { Drop, dropNames } from '../../src/wire/drop.js';
import { checkEthernet, ethDst, ethDstIsGroup, ethSrc, ethSrcIsGroup, ethType } from '../../src/wire/ethernet.js';
import { FrameInfo, parseFrame } from '../../src/wire/frame-info.js';
import { checkIcmp, icmpCode, icmpEchoId, icmpEchoSeq, icmpType } from '../../src/wire/icmpv4.js';
import * as ip from '../../src/wire/ipv4.js';
import * as tcp from '../../src/wire/tcp.js';
import { checkUdp, udpDstPort, udpLength, udpSrcPort } from '../../src/wire/udp.js';
import { embed, outside, probe } from '../harness/oracles/bounds-probe.js';
import { comparableOf, expectedFrom, plainOptions } from '../harness/oracles/frame-compare.js';
import { refParseFrame, refTcpOptions, type RefFrame } from '../harness/oracles/frame-ref.js';
import { arbitraryFrame, GOLDEN, ihlOf, mutatedFrame, placement, tcpWithOptions } from './golden/fuzz-inputs.js';

const SEED = Number(process.env.VNETKIT_FUZZ_SEED ?? 0x7a11);
const RUNS = Number(process.env.VNETKIT_FUZZ_RUNS ?? 1500);
const SENTINELS = [0x00, 0xff, 0x5a];

// ---- the checks -------------------------------------------------------------------------------

/** parseFrame agrees with the oracle for every sentinel and both verification modes, in bounds. */
function checkParse(frame: Uint8Array, before: number, after: number): void {
  const len = frame.length;
  const refs = { true: refParseFrame(frame, 0, len, true), false: refParseFrame(frame, 0, len, false) };
  const info = new FrameInfo();
  for (const s of SENTINELS) {
    const b = embed(frame, before, after, s);
    for (const verify of [true, false]) {
      const code = parseFrame(b, before, len, info, verify);
      assert.equal(comparableOf(info, code, dropNames), expectedFrom(refs[`${verify}`]), `sentinel ${s} verify ${verify}`);
    }
  }
  const p = probe(embed(frame, before, after, 0xee));
  parseFrame(p.view, before, len, info, true);
  parseFrame(p.view, before, len, info, false);
  assert.equal(outside(p.reads, before, before + len), [], 'parseFrame read outside the frame');
  checkGetters(frame, before, after, refs.false);
}

/** Every getter of an accepted layer equals the oracle's field and reads inside the frame. */
function checkGetters(frame: Uint8Array, before: number, after: number, ref: RefFrame): void {
  const p = probe(embed(frame, before, after, 0xee));
  const b = p.view;
  const o = before;
  if (ref.eth) {
    const group = (mac: number): boolean => Math.floor(mac / 2 ** 40) % 2 === 1;
    assert.equal(
      [ethDst(b, o), ethSrc(b, o), ethType(b, o), ethDstIsGroup(b, o), ethSrcIsGroup(b, o)],
      [ref.eth.dst, ref.eth.src, ref.eth.type, group(ref.eth.dst), group(ref.eth.src)],
    );
  }
  if (ref.arp) {
    const a = o + 14;
    const r = ref.arp;
    assert.equal(
      [arpOp(b, a), arpSenderMac(b, a), arpSenderIp(b, a), arpTargetMac(b, a), arpTargetIp(b, a)],
      [r.op, r.senderMac, r.senderIp, r.targetMac, r.targetIp],
    );
  }
  if (ref.ip) {
    const l3 = o + 14;
    const r = ref.ip;
    assert.equal(
      [ip.ipHeaderLength(b, l3), ip.ipTotalLength(b, l3), ip.ipTos(b, l3), ip.ipId(b, l3), ip.ipFlagsFrag(b, l3)],
      [r.headerLen, r.totalLen, r.tos, r.id, r.flagsFrag],
    );
    assert.equal(
      [ip.ipTtl(b, l3), ip.ipProtocol(b, l3), ip.ipChecksum(b, l3), ip.ipSrc(b, l3), ip.ipDst(b, l3)],
      [r.ttl, r.protocol, r.checksum, r.src, r.dst],
    );
    assert.equal(
      [ip.ipIsFragment(b, l3), ip.ipDontFragment(b, l3), ip.ipMoreFragments(b, l3), ip.ipFragOffset(b, l3)],
      [r.fragment, (r.flagsFrag & 0x4000) !== 0, (r.flagsFrag & 0x2000) !== 0, (r.flagsFrag & 0x1fff) * 8],
    );
  }
  if (ref.tcp && ref.l4) {
    const l4 = o + ref.l4.start;
    const r = ref.tcp;
    assert.equal([tcp.tcpSrcPort(b, l4), tcp.tcpDstPort(b, l4), tcp.tcpSeq(b, l4), tcp.tcpAck(b, l4)], [ref.l4.srcPort, ref.l4.dstPort, r.seq, r.ack]);
    assert.equal(
      [tcp.tcpHeaderLength(b, l4), tcp.tcpFlags(b, l4), tcp.tcpWindow(b, l4), tcp.tcpChecksum(b, l4)],
      [r.headerLen, r.flags, r.window, r.checksum],
    );
    const opts = new tcp.TcpOptions();
    const po = probe(b);
    tcp.parseTcpOptions(po.view, l4, opts);
    assert.equal(outside(po.reads, l4, l4 + r.headerLen), [], 'parseTcpOptions read outside the TCP header');
    assert.equal(plainOptions(opts), refTcpOptions(frame.subarray(ref.l4.start, ref.l4.start + r.headerLen)), 'TCP options');
  }
  if (ref.udp && ref.l4) {
    const l4 = o + ref.l4.start;
    assert.equal([udpSrcPort(b, l4), udpDstPort(b, l4), udpLength(b, l4)], [ref.l4.srcPort, ref.l4.dstPort, ref.udp.length]);
  }
  if (ref.icmp && ref.l4) {
    const l4 = o + ref.l4.start;
    const r = ref.icmp;
    assert.equal([icmpType(b, l4), icmpCode(b, l4), icmpEchoId(b, l4), icmpEchoSeq(b, l4)], [r.type, r.code, r.id, r.seq]);
  }
  assert.equal(outside(p.reads, before, before + frame.length), [], 'a getter read outside the frame');
}

type Getter = (b: Uint8Array, off: number) => number | boolean;
/** Every getter of each layer, to be called once its check passed. */
const GETTERS: Record<'eth' | 'arp' | 'ip' | 'icmp' | 'udp' | 'tcp', Getter[]> = {
  eth: [ethDst, ethSrc, ethType, ethDstIsGroup, ethSrcIsGroup],
  arp: [arpOp, arpSenderMac, arpSenderIp, arpTargetMac, arpTargetIp],
  ip: [ip.ipHeaderLength, ip.ipTotalLength, ip.ipId, ip.ipFlagsFrag, ip.ipTtl, ip.ipProtocol, ip.ipChecksum, ip.ipSrc, ip.ipDst, ip.ipTos],
  icmp: [icmpType, icmpCode, icmpEchoId, icmpEchoSeq],
  udp: [udpSrcPort, udpDstPort, udpLength],
  tcp: [tcp.tcpSrcPort, tcp.tcpDstPort, tcp.tcpSeq, tcp.tcpAck, tcp.tcpHeaderLength, tcp.tcpFlags, tcp.tcpWindow, tcp.tcpChecksum],
};
GETTERS.ip.push(ip.ipIsFragment, ip.ipDontFragment, ip.ipFragOffset, ip.ipMoreFragments);

/**
 * Each `check*` run directly on `[off, off+len)` of random memory: no throw, reads in range, the
 * same verdict whatever surrounds the range, and, when it passes, every getter of that layer
 * (and `parseTcpOptions`) in range too.
 */
function checkDirect(bytes: Uint8Array, before: number, after: number, src: number, dst: number): void {
  const len = bytes.length;
  const run = (b: Uint8Array): unknown[] => {
    const o = before;
    const out: unknown[] = [];
    const layer = (code: number, getters: Getter[]): void => {
      out.push(code);
      if (code === Drop.None) for (const g of getters) out.push(g(b, o));
    };
    layer(checkEthernet(len), GETTERS.eth);
    layer(checkArp(b, o, len), GETTERS.arp);
    for (const v of [true, false]) {
      layer(ip.checkIpv4(b, o, len, v), GETTERS.ip);
      layer(checkIcmp(b, o, len, v), GETTERS.icmp);
      layer(checkUdp(b, o, len, src, dst, v), GETTERS.udp);
      const rt = tcp.checkTcp(b, o, len, src, dst, v);
      layer(rt, GETTERS.tcp);
      if (rt === Drop.None) {
        const opts = new tcp.TcpOptions();
        tcp.parseTcpOptions(b, o, opts);
        out.push(plainOptions(opts));
      }
    }
    return out;
  };
  const results = SENTINELS.map((s) => JSON.stringify(run(embed(bytes, before, after, s))));
  assert.is(results[1], results[0], 'result depends on bytes outside the range');
  assert.is(results[2], results[0], 'result depends on bytes outside the range');
  const p = probe(embed(bytes, before, after, 0xee));
  run(p.view);
  assert.equal(outside(p.reads, before, before + len), [], 'a check or getter read outside the range');
}

// ---- properties -------------------------------------------------------------------------------

test('golden frames themselves pass every check (sanity of the harness)', () => {
  for (const f of GOLDEN) {
    assert.is(refParseFrame(f, 0, f.length).drop, 'none');
    checkParse(f, 3, 5);
  }
});

test('mutated real frames: oracle agreement, in-bounds reads, sentinel independence', () => {
  fc.assert(
    fc.property(mutatedFrame, placement, (f, { before, after }) => checkParse(f, before, after)),
    { seed: SEED, numRuns: RUNS },
  );
});

test('generated TCP option lists in a real SYN: walker agrees with the reference and stays in the header', () => {
  fc.assert(
    fc.property(tcpWithOptions, placement, (f, { before, after }) => checkParse(f, before, after)),
    { seed: SEED + 3, numRuns: RUNS },
  );
});

test('arbitrary bytes through parseFrame: oracle agreement, in-bounds reads, sentinel independence', () => {
  fc.assert(
    fc.property(arbitraryFrame, placement, (f, { before, after }) => checkParse(f, before, after)),
    { seed: SEED + 1, numRuns: RUNS },
  );
});

test('every check* and its getters on arbitrary memory ranges stay inside the range', () => {
  // Random bytes, and mutated frames cut at L3 and at L4 so the checks also pass and the getters run.
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 100, size: 'max' }),
    mutatedFrame.map((f) => f.subarray(14)),
    mutatedFrame.map((f) => f.subarray(Math.min(f.length, 14 + ihlOf(f)))),
  );
  const addr = fc.nat({ max: 0xffffffff });
  fc.assert(
    fc.property(bytes, placement, addr, addr, (b, { before, after }, src, dst) => checkDirect(b, before, after, src, dst)),
    { seed: SEED + 2, numRuns: RUNS },
  );
});

test('the fuzzers reach every verdict (the generators are not stuck on one path)', () => {
  const seen = new Set<string>();
  for (const f of [...fc.sample(mutatedFrame, { seed: SEED, numRuns: RUNS }), ...fc.sample(tcpWithOptions, { seed: SEED + 3, numRuns: RUNS })]) {
    const r = refParseFrame(f, 0, f.length);
    seen.add(r.drop);
    if (r.tcp) seen.add('tcp');
    if (r.udp) seen.add('udp');
    if (r.icmp) seen.add('icmp');
    if (r.arp) seen.add('arp');
    if (r.ip?.fragment) seen.add('fragment');
    if (r.udp && r.l4 && r.udp.length < r.l4.len) seen.add('udpShorterThanIp');
    if (r.tcp && refTcpOptions(f.subarray(r.l4!.start, r.l4!.start + r.tcp.headerLen)).malformed) seen.add('malformedOptions');
    if (f.length >= 14 + 192 && r.drop === 'none') seen.add('wordPathAccepted');
  }
  const want = ['none', 'truncated', 'badVersion', 'badHeaderLength', 'badLength', 'badChecksum', 'unsupported'];
  want.push('tcp', 'udp', 'icmp', 'arp', 'fragment', 'malformedOptions', 'wordPathAccepted', 'udpShorterThanIp');
  assert.equal(want.filter((w) => !seen.has(w)), []);
});

test.run();
