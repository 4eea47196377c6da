/**
 * Inputs for `test/wire/fuzz.test.ts`: fast-check generators of mutated golden frames (bit flips,
 * byte writes, truncation, growth, length-field corruption and nudges, TCP option lists), a SYN
 * rebuilt around generated option lists, and arbitrary bytes behind plausible headers. Checksums
 * are repaired with the reference sums when asked, so a mutation can reach the deeper layers.
 * @module
 */
import fc from 'fast-check';
import { refChecksum, refPseudoHeaderSum } from '../../harness/oracles/checksum-ref.js';
import * as golden from './frames.js';

/** Every golden frame. */
export const GOLDEN = Object.values(golden).filter((v): v is Uint8Array => v instanceof Uint8Array);

/** A mutation of a frame; positions are taken modulo the frame length when applied. */
export type Mutation =
  | { k: 'flip'; pos: number; bit: number }
  | { k: 'set'; pos: number; value: number }
  | { k: 'truncate'; len: number }
  | { k: 'grow'; bytes: Uint8Array }
  | { k: 'field'; which: 'ethType' | 'verIhl' | 'ipTotal' | 'ipFrag' | 'ipProto' | 'tcpOff' | 'udpLen'; value: number }
  | { k: 'nudge'; which: 'ipTotal' | 'ipTotalFromIhl' | 'udpLen'; delta: number }
  | { k: 'tcpOpts'; bytes: Uint8Array };

/** The size each known TCP option must have (RFC 9293 §3.2, RFC 7323, RFC 2018); SACK: 2 + 8n. */
const OPT_SIZE: Record<number, number> = { 2: 4, 3: 3, 4: 2, 5: 10, 8: 10 };

/**
 * TCP option lists built from type-length-value items with known kinds and lengths that are
 * right, off by a little, or anything, so the walker's length rules are hit far more often than
 * random bytes would hit them.
 */
export const tlvs: fc.Arbitrary<Uint8Array> = fc
  .array(
    fc.record({
      kind: fc.constantFrom(0, 1, 1, 2, 3, 4, 5, 8, 30, 255),
      len: fc.oneof(fc.constant('right' as const), fc.integer({ min: -2, max: 2 }), fc.nat({ max: 42 })),
      blocks: fc.integer({ min: 1, max: 5 }),
      body: fc.uint8Array({ minLength: 40, maxLength: 40 }),
    }),
    { minLength: 1, maxLength: 8 },
  )
  .map((items) => {
    const out: number[] = [];
    for (const { kind, len, blocks, body } of items) {
      if (kind <= 1) {
        out.push(kind);
        continue;
      }
      const right = kind === 5 ? 2 + 8 * blocks : (OPT_SIZE[kind] ?? 2 + (body[0]! % 8));
      const l = len === 'right' ? right : typeof len === 'number' && len <= 2 && len >= -2 ? Math.max(0, right + len) : len;
      out.push(kind, l, ...body.subarray(0, Math.max(0, l - 2)));
    }
    return Uint8Array.from(out.slice(0, 40));
  });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ k: fc.constant('set' as const), pos: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ k: fc.constant('truncate' as const), len: fc.nat() }),
  fc.record({ k: fc.constant('grow' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 1600, size: 'max' }) }),
  fc.record({
    k: fc.constant('field' as const),
    which: fc.constantFrom('ethType', 'verIhl', 'ipTotal', 'ipFrag', 'ipProto', 'tcpOff', 'udpLen'),
    value: fc.oneof(fc.nat({ max: 0xffff }), fc.nat({ max: 80 })),
  }),
  fc.record({
    k: fc.constant('nudge' as const),
    which: fc.constantFrom('ipTotal', 'ipTotalFromIhl', 'udpLen'),
    delta: fc.integer({ min: -12, max: 12 }),
  }),
  fc.record({ k: fc.constant('tcpOpts' as const), bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 40 }), tlvs) }),
);

/** IPv4 header length of a frame's IP header, 0 if there is none. */
export const ihlOf = (f: Uint8Array): number => (f.length > 14 ? (f[14]! & 15) * 4 : 0);
/** Writes a big-endian u16 when both bytes are inside `f`. */
export const setU16 = (f: Uint8Array, at: number, v: number): void => {
  if (at + 1 < f.length) {
    f[at] = (v >>> 8) & 0xff;
    f[at + 1] = v & 0xff;
  }
};

/** Applies one mutation; may return a new (shorter or longer) array. */
function apply(frame: Uint8Array, m: Mutation): Uint8Array {
  let f = frame;
  const n = f.length;
  switch (m.k) {
    case 'flip':
      if (n > 0) f[m.pos % n]! ^= 1 << m.bit;
      return f;
    case 'set':
      if (n > 0) f[m.pos % n] = m.value;
      return f;
    case 'truncate':
      return f.slice(0, m.len % (n + 1));
    case 'grow': {
      // Longer datagram: the IP total length (and a UDP length) follow, so it stays plausible.
      const g = new Uint8Array(n + m.bytes.length);
      g.set(f);
      g.set(m.bytes, n);
      f = g;
      const grow = (at: number): void => {
        if (at + 1 < n) setU16(f, at, Math.min(0xffff, ((f[at]! << 8) | f[at + 1]!) + m.bytes.length));
      };
      if (n >= 18) grow(16);
      if (n >= 24 && f[23] === 17) grow(14 + ihlOf(f) + 4);
      return f;
    }
    case 'field': {
      const l4 = 14 + ihlOf(f);
      if (m.which === 'ethType') setU16(f, 12, m.value);
      if (m.which === 'verIhl' && n > 14) f[14] = m.value & 0xff;
      if (m.which === 'ipTotal') setU16(f, 16, m.value);
      if (m.which === 'ipFrag') setU16(f, 20, m.value);
      if (m.which === 'ipProto' && n > 23) f[23] = [1, 6, 17, m.value & 0xff][m.value & 3]!;
      if (m.which === 'tcpOff' && l4 + 12 < n) f[l4 + 12] = ((m.value & 15) << 4) | (f[l4 + 12]! & 15);
      if (m.which === 'udpLen') setU16(f, l4 + 4, m.value);
      return f;
    }
    case 'nudge': {
      // Small changes to a length field: off-by-a-few is where length bugs live.
      if (m.which === 'ipTotalFromIhl') {
        setU16(f, 16, Math.max(0, ihlOf(f) + m.delta));
        return f;
      }
      const at = m.which === 'ipTotal' ? 16 : 14 + ihlOf(f) + 4;
      if (at + 1 < n) setU16(f, at, Math.max(0, ((f[at]! << 8) | f[at + 1]!) + m.delta));
      return f;
    }
    case 'tcpOpts': {
      const l4 = 14 + ihlOf(f);
      if (n > 23 && f[23] === 6 && l4 + 13 < n) {
        const hl = (f[l4 + 12]! >> 4) * 4;
        for (let i = 0; i < m.bytes.length && 20 + i < hl && l4 + 20 + i < n; i++) f[l4 + 20 + i] = m.bytes[i]!;
      }
      return f;
    }
  }
}

/** Recomputes the IP header and L4 checksums where the lengths allow, using the reference sums. */
export function repairChecksums(f: Uint8Array): void {
  if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0x00 || f[14]! >> 4 !== 4) return;
  const hl = ihlOf(f);
  if (hl < 20 || 14 + hl > f.length) return;
  setU16(f, 24, 0);
  setU16(f, 24, refChecksum(f.subarray(14, 14 + hl)));
  const total = (f[16]! << 8) | f[17]!;
  if (total < hl || 14 + total > f.length) return;
  const v = new DataView(f.buffer, f.byteOffset);
  const src = v.getUint32(26);
  const dst = v.getUint32(30);
  const l4 = 14 + hl;
  const seg = total - hl;
  if (f[23] === 6 && seg >= 20) {
    setU16(f, l4 + 16, 0);
    setU16(f, l4 + 16, refChecksum(f.subarray(l4, l4 + seg), refPseudoHeaderSum(src, dst, 6, seg)));
  } else if (f[23] === 17 && seg >= 8) {
    const ulen = (f[l4 + 4]! << 8) | f[l4 + 5]!;
    if (ulen < 8 || ulen > seg) return;
    setU16(f, l4 + 6, 0);
    const c = refChecksum(f.subarray(l4, l4 + ulen), refPseudoHeaderSum(src, dst, 17, ulen));
    setU16(f, l4 + 6, c === 0 ? 0xffff : c);
  } else if (f[23] === 1 && seg >= 8) {
    setU16(f, l4 + 2, 0);
    setU16(f, l4 + 2, refChecksum(f.subarray(l4, l4 + seg)));
  }
}

/** A golden frame with 1-4 mutations, checksums repaired half of the time. */
export const mutatedFrame = fc
  .record({ base: fc.constantFrom(...GOLDEN), muts: fc.array(mutation, { minLength: 1, maxLength: 4 }), repair: fc.boolean() })
  .map(({ base, muts, repair }) => {
    let f: Uint8Array = Uint8Array.from(base);
    for (const m of muts) f = apply(f, m);
    if (repair) repairChecksums(f);
    return f;
  });

/**
 * The captured Linux SYN rebuilt with a generated option list (data offset sized to fit it, up
 * to the 40-byte maximum), a random payload, and correct lengths and checksums, so every input
 * reaches the option walker.
 */
export const tcpWithOptions = fc
  .record({ opts: tlvs, extra: fc.nat({ max: 3 }), payload: fc.uint8Array({ maxLength: 30 }), repair: fc.nat({ max: 9 }) })
  .map(({ opts, extra, payload, repair }) => {
    const optLen = Math.min(40, Math.ceil(opts.length / 4) * 4 + 4 * extra);
    const hl = 20 + optLen;
    const f = new Uint8Array(34 + hl + payload.length);
    f.set(golden.tcpSyn.subarray(0, 54));
    f.set(opts.subarray(0, optLen), 54);
    f.set(payload, 34 + hl);
    f[46] = (hl / 4) << 4;
    setU16(f, 16, 20 + hl + payload.length);
    if (repair > 0) repairChecksums(f);
    return f;
  });

/** Arbitrary bytes, half of them behind a plausible Ethernet/IPv4 or ARP prefix. */
export const arbitraryFrame = fc.oneof(
  fc.uint8Array({ maxLength: 120, size: 'max' }),
  fc
    .tuple(
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      // Ethertype IPv4 + version/IHL 4/5 or 4/15; ethertype ARP + the fixed Ethernet/IPv4 prefix.
      fc.constantFrom(Uint8Array.of(0x08, 0x00, 0x45), Uint8Array.of(0x08, 0x00, 0x4f), Uint8Array.of(0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04)),
      fc.uint8Array({ maxLength: 120, size: 'max' }),
    )
    .map(([macs, mid, tail]) => Uint8Array.from([...macs, ...mid, ...tail])),
);

/** Where a frame sits in its larger buffer: bytes before and after it. */
export const placement = fc.record({ before: fc.nat({ max: 9 }), after: fc.nat({ max: 16 }) });

