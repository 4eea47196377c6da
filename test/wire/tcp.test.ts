import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Drop } from '../../src/wire/drop.js';
import {
  checkTcp,
  formatTcpFlags,
  TCP_HLEN,
  tcpAck,
  tcpChecksum,
  tcpDstPort,
  TcpFlag,
  tcpFlags,
  tcpHeaderLength,
  TcpOptions,
  tcpSeq,
  tcpSrcPort,
  tcpWindow,
  parseTcpOptions,
  writeTcpChecksum,
  writeTcpHeader,
} from '../../src/wire/tcp.js';
import { outside, probe } from '../harness/oracles/bounds-probe.js';
import { plainOptions } from '../harness/oracles/frame-compare.js';
import { refTcpOptions } from '../harness/oracles/frame-ref.js';
import { tcpData, tcpFin, tcpSackAck, tcpSyn, tcpSynAck } from './golden/frames.js';
import { FILL, filled, hexOf, variant } from './golden/mutate.js';

const A_IP = 0x0a630001;
const B_IP = 0x0a630002;
const L4 = 34;
const segLen = (f: Uint8Array): number => f.length - L4;
const ISN_A = 2654726708;
const ISN_B = 1506437552;

test('deconstruct: captured Linux SYN, every header getter', () => {
  const f = tcpSyn;
  assert.is(checkTcp(f, L4, segLen(f), A_IP, B_IP), Drop.None);
  assert.is(tcpSrcPort(f, L4), 39788);
  assert.is(tcpDstPort(f, L4), 5001);
  assert.is(tcpSeq(f, L4), ISN_A);
  assert.is(tcpAck(f, L4), 0);
  assert.is(tcpHeaderLength(f, L4), 40);
  assert.is(tcpFlags(f, L4), TcpFlag.SYN);
  assert.is(tcpWindow(f, L4), 64240);
  assert.is(tcpChecksum(f, L4), 0xfda4);
});

test('deconstruct: options of a real Linux SYN (MSS, SACK-permitted, timestamps, NOP, window scale)', () => {
  const o = new TcpOptions();
  parseTcpOptions(tcpSyn, L4, o);
  assert.is(o.mss, 1460);
  assert.is(o.sackPermitted, true);
  assert.is(o.hasTimestamps, true);
  assert.is(o.tsVal, 4277077065);
  assert.is(o.tsEcr, 0);
  assert.is(o.windowScale, 10);
  assert.is(o.sackCount, 0);
  assert.is(o.malformed, false);
});

test('deconstruct: SYN-ACK, data segment, SACK ack and FIN', () => {
  const o = new TcpOptions();
  assert.is(checkTcp(tcpSynAck, L4, segLen(tcpSynAck), B_IP, A_IP), Drop.None);
  assert.is(tcpFlags(tcpSynAck, L4), TcpFlag.SYN | TcpFlag.ACK);
  assert.is(tcpSeq(tcpSynAck, L4), ISN_B);
  assert.is(tcpAck(tcpSynAck, L4), ISN_A + 1);
  assert.is(tcpWindow(tcpSynAck, L4), 65160);
  parseTcpOptions(tcpSynAck, L4, o);
  assert.equal([o.mss, o.sackPermitted, o.windowScale, o.tsVal, o.tsEcr], [1460, true, 10, 2334381945, 4277077065]);

  assert.is(checkTcp(tcpData, L4, segLen(tcpData), A_IP, B_IP), Drop.None);
  assert.is(tcpFlags(tcpData, L4), TcpFlag.PSH | TcpFlag.ACK);
  assert.is(tcpHeaderLength(tcpData, L4), 32);
  assert.is(segLen(tcpData) - 32, 100);
  assert.ok(tcpData.subarray(L4 + 32).every((x) => x === 0x41));
  parseTcpOptions(tcpData, L4, o);
  assert.equal([o.mss, o.sackPermitted, o.windowScale, o.hasTimestamps, o.tsVal, o.tsEcr], [0, false, -1, true, 4277077065, 2334381945]);

  assert.is(checkTcp(tcpSackAck, L4, segLen(tcpSackAck), B_IP, A_IP), Drop.None);
  assert.is(tcpAck(tcpSackAck, L4), ISN_A + 101);
  parseTcpOptions(tcpSackAck, L4, o);
  assert.is(o.sackCount, 1);
  assert.equal([o.sack[0], o.sack[1]], [ISN_A + 301, ISN_A + 601], 'SACK block {301:601} relative');
  assert.is(o.malformed, false);

  assert.is(checkTcp(tcpFin, L4, segLen(tcpFin), B_IP, A_IP), Drop.None);
  assert.is(tcpFlags(tcpFin, L4), TcpFlag.FIN | TcpFlag.ACK);
  parseTcpOptions(tcpFin, L4, o);
  assert.is(o.sackCount, 0, 'reset between segments');
  assert.is(o.tsVal, 2334382253);
});

test('construct: writeTcpHeader + options + writeTcpChecksum reproduce SYN and data segment exactly', () => {
  for (const [f, src, dst] of [
    [tcpSyn, A_IP, B_IP],
    [tcpData, A_IP, B_IP],
    [tcpSackAck, B_IP, A_IP],
  ] as const) {
    const n = segLen(f);
    const hl = tcpHeaderLength(f, L4);
    const b = filled(n + 2);
    writeTcpHeader(b, 1, tcpSrcPort(f, L4), tcpDstPort(f, L4), tcpSeq(f, L4), tcpAck(f, L4), hl, tcpFlags(f, L4), tcpWindow(f, L4));
    // Nothing past the fixed header is touched by writeTcpHeader.
    assert.ok(b.subarray(1 + TCP_HLEN).every((x) => x === FILL));
    b.set(f.subarray(L4 + TCP_HLEN), 1 + TCP_HLEN);
    writeTcpChecksum(b, 1, n, src, dst);
    assert.is(hexOf(b, 1, n), hexOf(f, L4));
    assert.is(b[0], FILL);
    assert.is(b[n + 1], FILL);
  }
});

test('formatTcpFlags prints tcpdump-style flags', () => {
  assert.is(formatTcpFlags(tcpFlags(tcpSyn, L4)), 'S');
  assert.is(formatTcpFlags(tcpFlags(tcpSynAck, L4)), 'S.');
  assert.is(formatTcpFlags(tcpFlags(tcpData, L4)), 'P.');
  assert.is(formatTcpFlags(tcpFlags(tcpFin, L4)), 'F.');
  assert.is(formatTcpFlags(TcpFlag.RST), 'R');
  assert.is(formatTcpFlags(TcpFlag.URG | TcpFlag.ACK), 'U.');
  assert.is(formatTcpFlags(0), 'none');
});

test('malformed: segment shorter than the fixed header', () => {
  for (let n = 0; n < TCP_HLEN; n++) assert.is(checkTcp(tcpSyn, L4, n, A_IP, B_IP), Drop.Truncated, `length ${n}`);
});

test('malformed: data offset below 5', () => {
  for (let d = 0; d < 5; d++) {
    const b = variant(tcpSyn, (b) => (b[L4 + 12] = d << 4));
    assert.is(checkTcp(b, L4, segLen(b), A_IP, B_IP), Drop.BadHeaderLength, `offset ${d}`);
  }
});

test('malformed: data offset beyond the segment', () => {
  // 40-byte header in a 39-byte segment; and offset 15 (60 bytes) in the 40-byte SYN.
  assert.is(checkTcp(tcpSyn, L4, 39, A_IP, B_IP), Drop.Truncated);
  const b = variant(tcpSyn, (b) => (b[L4 + 12] = 0xf0));
  assert.is(checkTcp(b, L4, 40, A_IP, B_IP), Drop.Truncated);
});

test('malformed: bad checksum (payload bit, flags, wrong pseudo-header), unless verification is off', () => {
  const p = variant(tcpData, (b) => (b[b.length - 1] ^= 0x20));
  assert.is(checkTcp(p, L4, segLen(p), A_IP, B_IP), Drop.BadChecksum);
  assert.is(checkTcp(p, L4, segLen(p), A_IP, B_IP, false), Drop.None);
  const fl = variant(tcpSyn, (b) => (b[L4 + 13] |= TcpFlag.FIN));
  assert.is(checkTcp(fl, L4, segLen(fl), A_IP, B_IP), Drop.BadChecksum);
  assert.is(checkTcp(tcpSyn, L4, segLen(tcpSyn), A_IP, 0x0a630003), Drop.BadChecksum);
  // The length in the pseudo-header counts: one byte less of segment is a different sum.
  assert.is(checkTcp(tcpData, L4, segLen(tcpData) - 1, A_IP, B_IP), Drop.BadChecksum);
});

/**
 * A TCP header whose option bytes are `opts`, zero-padded to `optLen` (default: the next multiple
 * of 4), placed at offset 3 of a buffer with 0xee on both sides.
 */
function withOptions(opts: number[], optLen = Math.ceil(opts.length / 4) * 4): { b: Uint8Array; off: number; hl: number } {
  const hl = TCP_HLEN + optLen;
  const b = new Uint8Array(3 + hl + 8).fill(0xee);
  writeTcpHeader(b, 3, 1, 2, 3, 4, hl, TcpFlag.SYN, 1000);
  b.fill(0, 3 + TCP_HLEN, 3 + hl);
  b.set(opts.slice(0, optLen), 3 + TCP_HLEN);
  return { b, off: 3, hl };
}

/** Parses with the library and the oracle and requires the same answer; returns it. */
function parseBoth(opts: number[], optLen?: number): TcpOptions {
  const { b, off, hl } = withOptions(opts, optLen);
  const o = new TcpOptions();
  // Poison the reused instance: nothing from a previous parse may leak.
  parseTcpOptions(tcpSackAck, L4, o);
  const pr = probe(b);
  parseTcpOptions(pr.view, off, o);
  assert.equal(outside(pr.reads, off, off + hl), [], 'reads stay inside the header');
  assert.equal(plainOptions(o), refTcpOptions(b.subarray(off, off + hl)), `options ${Buffer.from(opts).toString('hex')}`);
  return o;
}

const MSS = [2, 4, 0x05, 0xb4];
const TS = [8, 10, 0, 0, 0, 1, 0, 0, 0, 2];

test('options: length 0 or 1 stops the walk as malformed, keeping what came before', () => {
  for (const badLen of [0, 1]) {
    const o = parseBoth([...MSS, 3, badLen, 7, 1, 1, 1, 1, 1]);
    assert.is(o.malformed, true, `length ${badLen}`);
    assert.is(o.mss, 1460);
    assert.is(o.windowScale, -1);
  }
});

test('options: an option running past the data offset is malformed and not read', () => {
  // Timestamps need 10 bytes; the header leaves 6 after MSS + NOP NOP.
  const o = parseBoth([...MSS, 1, 1, 8, 10, 0, 0, 0, 9], 12);
  assert.is(o.malformed, true);
  assert.is(o.hasTimestamps, false);
  assert.is(o.tsVal, 0);
  assert.is(o.mss, 1460);
  // A kind byte in the last position has no length byte at all.
  const k = parseBoth([...MSS, 1, 1, 1, 3], 8);
  assert.is(k.malformed, true);
  assert.is(k.mss, 1460);
});

test('options: a timestamps option of the wrong size is skipped, not trusted (Linux does the same)', () => {
  const o = parseBoth([8, 6, 0, 0, 0, 1, ...MSS, 1, 1]);
  assert.is(o.malformed, false);
  assert.is(o.hasTimestamps, false);
  assert.is(o.mss, 1460, 'the walk went on past it');
});

test('options: more than 4 SACK blocks cannot fit in 40 bytes and are malformed, not read', () => {
  const five = [5, 42];
  for (let i = 0; i < 40; i++) five.push(i);
  const o = parseBoth(five, 40);
  assert.is(o.malformed, true);
  assert.is(o.sackCount, 0);
});

test('options: 4 SACK blocks (the maximum) after NOP NOP are all read (RFC 2018 §3)', () => {
  const opts = [1, 1, 5, 34];
  for (let k = 0; k < 8; k++) opts.push(0, 0, k >> 1, (k << 4) | 1);
  const o = parseBoth(opts, 36);
  assert.is(o.sackCount, 4);
  assert.equal(Array.from(o.sack), [0x0001, 0x0011, 0x0121, 0x0131, 0x0241, 0x0251, 0x0361, 0x0371]);
});

test('options: SACK of length 2 or 13 (not 2 + 8n) is skipped', () => {
  assert.is(parseBoth([5, 2, ...MSS, 1, 1]).sackCount, 0);
  const o = parseBoth([5, 13, 0, 0, 0, 1, 0, 0, 0, 2, 9, 9, 9, ...TS, 1, 1]);
  assert.is(o.sackCount, 0);
  assert.is(o.hasTimestamps, true);
});

test('options: window scale is capped at 14 (RFC 7323 §2.3)', () => {
  for (const [shift, want] of [
    [0, 0],
    [14, 14],
    [15, 14],
    [255, 14],
  ] as const) {
    assert.is(parseBoth([3, 3, shift, 1]).windowScale, want, `shift ${shift}`);
  }
});

test('options: End of list stops the walk; what follows is ignored and not malformed', () => {
  const o = parseBoth([...MSS, 0, 3, 3, 7]);
  assert.is(o.malformed, false);
  assert.is(o.windowScale, -1);
  assert.is(o.mss, 1460);
});

test('options: wrong-size MSS / window scale / SACK-permitted are skipped; later copies override', () => {
  const o = parseBoth([2, 3, 9, 3, 4, 7, 0, 4, 3, 1, ...MSS, 2, 4, 0x02, 0x18]);
  assert.is(o.malformed, false);
  assert.is(o.windowScale, -1);
  assert.is(o.sackPermitted, false);
  assert.is(o.mss, 0x218);
});

test('options: no options at all (data offset 5)', () => {
  const o = parseBoth([]);
  assert.equal([o.mss, o.windowScale, o.sackPermitted, o.hasTimestamps, o.sackCount, o.malformed], [0, -1, false, false, 0, false]);
});

test.run();
