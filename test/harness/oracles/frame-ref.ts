/**
 * An independent reference parser for Ethernet/ARP/IPv4/ICMP/UDP/TCP frames, used as an oracle
 * for `src/wire`. It is deliberately plain: it copies the frame out of its buffer first (so it
 * cannot see anything outside `[off, off+len)`), reads through a `DataView` (which throws on any
 * out-of-range read, so a bounds slip here fails loudly instead of reading garbage), allocates
 * freely, and spells out each rule of RFC 826 / 791 / 792 / 768 / 9293 in the order `src/wire`
 * documents for its drop reasons.
 * @module
 */
import { refPseudoHeaderSum, refSum } from './checksum-ref.js';

/** Why the reference rejects a frame; names match `dropNames` in `src/wire/drop.ts`. */
export type RefDrop = 'none' | 'truncated' | 'badVersion' | 'badHeaderLength' | 'badLength' | 'badChecksum' | 'unsupported';

/** What the reference found. Offsets are relative to the frame start. */
export interface RefFrame {
  drop: RefDrop;
  /** Present once the Ethernet header was readable. */
  eth?: { dst: number; src: number; type: number };
  /** Present for ARP frames that passed. */
  arp?: { op: number; senderMac: number; senderIp: number; targetMac: number; targetIp: number };
  /** Present for IPv4 frames whose IP header passed. */
  ip?: {
    headerLen: number;
    totalLen: number;
    tos: number;
    id: number;
    flagsFrag: number;
    ttl: number;
    protocol: number;
    checksum: number;
    src: number;
    dst: number;
    fragment: boolean;
  };
  /** Present when the whole frame passed and it is IPv4. */
  l4?: { start: number; len: number; srcPort: number; dstPort: number; payload: number; payloadLen: number };
  /** Header fields of an accepted, unfragmented TCP segment, UDP datagram or ICMP message. */
  tcp?: { seq: number; ack: number; headerLen: number; flags: number; window: number; checksum: number };
  udp?: { length: number; checksum: number };
  icmp?: { type: number; code: number; id: number; seq: number };
}

/** Options of the TCP reference walker (RFC 9293 §3.1, RFC 7323, RFC 2018). */
export interface RefTcpOptions {
  mss: number;
  windowScale: number;
  sackPermitted: boolean;
  hasTimestamps: boolean;
  tsVal: number;
  tsEcr: number;
  sack: Array<[number, number]>;
  malformed: boolean;
}

const ETH_HLEN = 14;

/** Parses `b[off, off+len)` the slow, obvious way. */
export function refParseFrame(b: Uint8Array, off: number, len: number, verifyChecksums = true): RefFrame {
  const f = Uint8Array.from(b.subarray(off, off + len));
  if (f.length !== len) throw new Error('oracle called with a range outside its buffer');
  const v = new DataView(f.buffer);
  if (f.length < ETH_HLEN) return { drop: 'truncated' };
  const mac = (o: number): number => v.getUint16(o) * 2 ** 32 + v.getUint32(o + 2);
  const eth = { dst: mac(0), src: mac(6), type: v.getUint16(12) };
  const l3 = f.subarray(ETH_HLEN);
  const l3v = new DataView(f.buffer, ETH_HLEN);

  if (eth.type === 0x0806) {
    // RFC 826, Ethernet/IPv4 form only: 8 fixed bytes + 2 * (6 + 4) addresses = 28.
    if (l3.length < 28) return { drop: 'truncated', eth };
    if (l3v.getUint16(0) !== 1 || l3v.getUint16(2) !== 0x0800 || l3[4] !== 6 || l3[5] !== 4) return { drop: 'unsupported', eth };
    const m = (o: number): number => l3v.getUint16(o) * 2 ** 32 + l3v.getUint32(o + 2);
    return {
      drop: 'none',
      eth,
      arp: { op: l3v.getUint16(6), senderMac: m(8), senderIp: l3v.getUint32(14), targetMac: m(18), targetIp: l3v.getUint32(24) },
    };
  }
  if (eth.type !== 0x0800) return { drop: 'unsupported', eth };

  // RFC 791 §3.1.
  if (l3.length < 20) return { drop: 'truncated', eth };
  const version = l3[0]! >> 4;
  if (version !== 4) return { drop: 'badVersion', eth };
  const headerLen = (l3[0]! & 0x0f) * 4;
  if (headerLen < 20) return { drop: 'badHeaderLength', eth };
  if (headerLen > l3.length) return { drop: 'truncated', eth };
  const totalLen = l3v.getUint16(2);
  if (totalLen < headerLen) return { drop: 'badLength', eth };
  if (totalLen > l3.length) return { drop: 'truncated', eth };
  if (verifyChecksums && refSum(l3.subarray(0, headerLen)) !== 0xffff) return { drop: 'badChecksum', eth };
  const flagsFrag = l3v.getUint16(6);
  const ip = {
    headerLen,
    totalLen,
    tos: l3[1]!,
    id: l3v.getUint16(4),
    flagsFrag,
    ttl: l3[8]!,
    protocol: l3[9]!,
    checksum: l3v.getUint16(10),
    src: l3v.getUint32(12),
    dst: l3v.getUint32(16),
    // A fragment has More Fragments set or a non-zero offset (RFC 791 §3.2).
    fragment: (flagsFrag & 0x2000) !== 0 || (flagsFrag & 0x1fff) !== 0,
  };
  const start = ETH_HLEN + headerLen;
  // The transport sees only the datagram, not link padding after it.
  const seg = Uint8Array.from(l3.subarray(headerLen, totalLen));
  const sv = new DataView(seg.buffer);
  const segLen = seg.length;
  const plain = { start, len: segLen, srcPort: 0, dstPort: 0, payload: start, payloadLen: segLen };
  if (ip.fragment) return { drop: 'none', eth, ip, l4: plain };

  switch (ip.protocol) {
    case 6: {
      if (segLen < 20) return { drop: 'truncated', eth, ip };
      const doff = (seg[12]! >> 4) * 4;
      if (doff < 20) return { drop: 'badHeaderLength', eth, ip };
      if (doff > segLen) return { drop: 'truncated', eth, ip };
      if (verifyChecksums && refSum(seg, refPseudoHeaderSum(ip.src, ip.dst, 6, segLen)) !== 0xffff) return { drop: 'badChecksum', eth, ip };
      return {
        drop: 'none',
        eth,
        ip,
        l4: { start, len: segLen, srcPort: sv.getUint16(0), dstPort: sv.getUint16(2), payload: start + doff, payloadLen: segLen - doff },
        tcp: { seq: sv.getUint32(4), ack: sv.getUint32(8), headerLen: doff, flags: seg[13]!, window: sv.getUint16(14), checksum: sv.getUint16(16) },
      };
    }
    case 17: {
      if (segLen < 8) return { drop: 'truncated', eth, ip };
      const ulen = sv.getUint16(4);
      if (ulen < 8) return { drop: 'badLength', eth, ip };
      if (ulen > segLen) return { drop: 'truncated', eth, ip };
      // RFC 768: a zero checksum means "none computed"; the sum covers `ulen` bytes only.
      if (verifyChecksums && sv.getUint16(6) !== 0 && refSum(seg.subarray(0, ulen), refPseudoHeaderSum(ip.src, ip.dst, 17, ulen)) !== 0xffff) {
        return { drop: 'badChecksum', eth, ip };
      }
      return {
        drop: 'none',
        eth,
        ip,
        l4: { start, len: segLen, srcPort: sv.getUint16(0), dstPort: sv.getUint16(2), payload: start + 8, payloadLen: ulen - 8 },
        udp: { length: ulen, checksum: sv.getUint16(6) },
      };
    }
    case 1: {
      if (segLen < 8) return { drop: 'truncated', eth, ip };
      if (verifyChecksums && refSum(seg) !== 0xffff) return { drop: 'badChecksum', eth, ip };
      return {
        drop: 'none',
        eth,
        ip,
        l4: { ...plain, payload: start + 8, payloadLen: segLen - 8 },
        icmp: { type: seg[0]!, code: seg[1]!, id: sv.getUint16(4), seq: sv.getUint16(6) },
      };
    }
    default:
      return { drop: 'none', eth, ip, l4: plain };
  }
}

/**
 * Walks TCP options in `header` (the whole TCP header, 20 bytes fixed part included) the plain
 * way, mirroring Linux `tcp_parse_options`: End stops; Nop is one byte; any other kind needs a
 * length byte of at least 2 that keeps the option inside the header, or the walk stops as
 * malformed, keeping what it already read. A known option whose length is not its fixed size
 * (or, for SACK, not 2 + 8n with n >= 1) is ignored. Later copies of an option override earlier.
 */
export function refTcpOptions(header: Uint8Array): RefTcpOptions {
  const h = Uint8Array.from(header);
  const v = new DataView(h.buffer);
  const out: RefTcpOptions = { mss: 0, windowScale: -1, sackPermitted: false, hasTimestamps: false, tsVal: 0, tsEcr: 0, sack: [], malformed: false };
  let i = 20;
  while (i < h.length) {
    const kind = h[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i += 1;
      continue;
    }
    if (i + 1 >= h.length) {
      out.malformed = true;
      break;
    }
    const len = h[i + 1]!;
    if (len < 2 || i + len > h.length) {
      out.malformed = true;
      break;
    }
    if (kind === 2 && len === 4) out.mss = v.getUint16(i + 2);
    if (kind === 3 && len === 3) out.windowScale = h[i + 2]! > 14 ? 14 : h[i + 2]!;
    if (kind === 4 && len === 2) out.sackPermitted = true;
    if (kind === 8 && len === 10) {
      out.hasTimestamps = true;
      out.tsVal = v.getUint32(i + 2);
      out.tsEcr = v.getUint32(i + 6);
    }
    if (kind === 5 && len >= 10 && (len - 2) % 8 === 0) {
      out.sack = [];
      for (let k = 0; k < (len - 2) / 8 && k < 4; k++) out.sack.push([v.getUint32(i + 2 + 8 * k), v.getUint32(i + 6 + 8 * k)]);
    }
    i += len;
  }
  return out;
}
