/**
 * Raw DNS message access (RFC 1035 §4.1) for the bytes the DNS service must read without trusting
 * them: guest queries and upstream answers. Nothing here throws: every reader returns `undefined`
 * or `-1` when the bytes do not hold what the header claims, so the caller decides between FORMERR
 * and a silent drop. Forwarded answers stay raw bytes (only the id changes), so record types the
 * service does not know (SVCB, HTTPS, DNSSEC…) pass through untouched.
 * @module
 */
import { setU16be, u16be, u32be } from '../../wire/bytes.js';

/** Size of the fixed header (RFC 1035 §4.1.1). */
export const HEADER_LEN = 12;
/** Classic UDP payload limit without EDNS (RFC 1035 §2.3.4, §4.2.1). */
export const CLASSIC_UDP_LIMIT = 512;
/** Largest DNS message: TCP's 2-byte length prefix (RFC 1035 §4.2.2). */
export const MAX_MESSAGE = 65535;

/** Response codes (RFC 1035 §4.1.1; BADVERS from RFC 6891 §9). */
export const Rcode = {
  NoError: 0,
  FormErr: 1,
  ServFail: 2,
  NxDomain: 3,
  NotImp: 4,
  Refused: 5,
  /** Extended (12-bit) code: upper 8 bits travel in the OPT TTL (RFC 6891 §6.1.3). */
  BadVers: 16,
} as const;

/** The one opcode served: standard query (RFC 1035 §4.1.1). */
export const OPCODE_QUERY = 0;

/** Record type numbers used by the service (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891). */
export const RrType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  ANY: 255,
} as const;

/** Mnemonics for logs and events, beyond {@link RrType} (RFC 9460 SVCB/HTTPS, RFC 8659 CAA, …). */
const TYPE_NAMES: Readonly<Record<number, string>> = {
  ...Object.fromEntries(Object.entries(RrType).map(([k, v]) => [v, k])),
  35: 'NAPTR',
  43: 'DS',
  46: 'RRSIG',
  48: 'DNSKEY',
  64: 'SVCB',
  65: 'HTTPS',
  251: 'IXFR',
  252: 'AXFR',
  257: 'CAA',
};

/** Mnemonic of a type number, or the RFC 3597 §5 generic form `TYPE<n>`. */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

/** Class numbers (RFC 1035 §3.2.4, §3.2.5). */
export const RrClass = { IN: 1, ANY: 255 } as const;

/** Header flag bits in the second 16-bit word (RFC 1035 §4.1.1). */
export const Flag = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, AD: 0x0020, CD: 0x0010 } as const;

/** Transaction id (bytes 0–1). The caller checked `b.length >= HEADER_LEN`. */
export function msgId(b: Uint8Array): number {
  return u16be(b, 0);
}

/** Overwrites the transaction id in place. */
export function setMsgId(b: Uint8Array, id: number): void {
  setU16be(b, 0, id & 0xffff);
}

/** The 16-bit flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE). */
export function msgFlags(b: Uint8Array): number {
  return u16be(b, 2);
}

/** Opcode (4 bits after QR). */
export function msgOpcode(b: Uint8Array): number {
  return (b[2]! >>> 3) & 0x0f;
}

/** Header RCODE (low 4 bits; the EDNS extension is not included). */
export function msgRcode(b: Uint8Array): number {
  return b[3]! & 0x0f;
}

/** QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT by index 0–3. */
export function msgCount(b: Uint8Array, section: 0 | 1 | 2 | 3): number {
  return u16be(b, 4 + section * 2);
}

/** A decoded question (RFC 1035 §4.1.2). */
export interface DnsQuestion {
  /** Presentation form as sent (case kept, no trailing dot; `''` is the root). */
  readonly name: string;
  /** `name` with ASCII letters lowered: the comparison key (RFC 4343 §3). */
  readonly key: string;
  readonly type: number;
  readonly cls: number;
  /** The question re-encoded without compression: name, type, class. */
  readonly wire: Uint8Array;
  /** Offset just past the question in the message it came from. */
  readonly end: number;
}

/**
 * Skips a possibly compressed name at `off`; returns the offset after it (after the first pointer
 * when compressed) or -1 when it overruns the buffer or uses a reserved label type.
 */
export function skipName(b: Uint8Array, off: number): number {
  let p = off;
  for (let labels = 0; labels < 128; labels++) {
    if (p >= b.length) return -1;
    const len = b[p]!;
    if (len === 0) return p + 1;
    if ((len & 0xc0) === 0xc0) return p + 2 <= b.length ? p + 2 : -1;
    // 0x40 and 0x80 are the extended/reserved label types (RFC 6891 §5 deprecates them).
    if ((len & 0xc0) !== 0) return -1;
    p += 1 + len;
  }
  return -1;
}

/**
 * Reads a name at `off`, following compression pointers (RFC 1035 §4.1.4). Pointers must go
 * strictly backwards, which makes loops impossible; the expanded name must stay within 255
 * octets (RFC 1035 §3.1). Returns undefined when any of that fails.
 */
export function readName(b: Uint8Array, off: number): { name: string; key: string; wire: number[]; end: number } | undefined {
  const wire: number[] = [];
  let text = '';
  let p = off;
  let end = -1;
  let floor = off;
  for (;;) {
    if (p >= b.length) return undefined;
    const len = b[p]!;
    if (len === 0) {
      wire.push(0);
      if (end < 0) end = p + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (p + 2 > b.length) return undefined;
      const target = ((len & 0x3f) << 8) | b[p + 1]!;
      if (end < 0) end = p + 2;
      if (target >= floor) return undefined;
      floor = target;
      p = target;
      continue;
    }
    if ((len & 0xc0) !== 0 || p + 1 + len > b.length) return undefined;
    if (wire.length + 1 + len + 1 > 255) return undefined;
    wire.push(len);
    if (text.length > 0) text += '.';
    for (let i = p + 1; i <= p + len; i++) {
      const c = b[i]!;
      wire.push(c);
      text += escapeOctet(c);
    }
    p += 1 + len;
  }
  return { name: text, key: lowerAscii(text), wire, end };
}

/** RFC 1035 §5.1 presentation escapes: `\.` and `\\` inside labels, `\DDD` for the unprintable. */
function escapeOctet(c: number): string {
  if (c === 0x2e || c === 0x5c) return '\\' + String.fromCharCode(c);
  if (c <= 0x20 || c >= 0x7f) return '\\' + String(c).padStart(3, '0');
  return String.fromCharCode(c);
}

/** Lowers ASCII A–Z only: DNS names compare case-insensitively on ASCII (RFC 4343 §3). */
export function lowerAscii(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Reads the first question (at offset 12); undefined when the message does not hold one. */
export function readQuestion(b: Uint8Array): DnsQuestion | undefined {
  if (b.length < HEADER_LEN || msgCount(b, 0) < 1) return undefined;
  const n = readName(b, HEADER_LEN);
  if (n === undefined || n.end + 4 > b.length) return undefined;
  const type = u16be(b, n.end);
  const cls = u16be(b, n.end + 2);
  const wire = new Uint8Array(n.wire.length + 4);
  wire.set(n.wire, 0);
  setU16be(wire, n.wire.length, type);
  setU16be(wire, n.wire.length + 2, cls);
  return { name: n.name, key: n.key, type, cls, wire, end: n.end + 4 };
}

/** Skips `count` resource records from `off` (RFC 1035 §4.1.3); returns the end or -1. */
export function skipRecords(b: Uint8Array, off: number, count: number): number {
  let p = off;
  for (let i = 0; i < count; i++) {
    p = skipName(b, p);
    if (p < 0 || p + 10 > b.length) return -1;
    p += 10 + u16be(b, p + 8);
    if (p > b.length) return -1;
  }
  return p;
}

/** The EDNS(0) pseudo-record of a message (RFC 6891 §6.1.2). */
export interface EdnsInfo {
  /** Requestor's UDP payload size (the OPT CLASS field). */
  readonly udpSize: number;
  /** EDNS version (second byte of the OPT TTL). */
  readonly version: number;
  /** DNSSEC OK bit (RFC 3225). */
  readonly dnssecOk: boolean;
  /** Extended RCODE bits (upper 8 of 12). */
  readonly extRcode: number;
  /** The OPT record's bytes in the message. */
  readonly start: number;
  readonly end: number;
}

/** Result of walking a whole message after its question. */
export interface MessageLayout {
  /** End offset of each section: question, answer, authority, additional. */
  readonly ends: readonly [number, number, number, number];
  /** The OPT record, if present. */
  readonly edns: EdnsInfo | undefined;
}

/**
 * Walks every section of a message whose first question ends at `qEnd`. Undefined when a record
 * overruns, QDCOUNT is not 1, or there is more than one OPT or an OPT outside the additional
 * section or with a non-root owner (all FORMERR per RFC 6891 §6.1.1).
 */
export function layoutMessage(b: Uint8Array, qEnd: number): MessageLayout | undefined {
  if (msgCount(b, 0) !== 1) return undefined;
  const an = skipRecords(b, qEnd, msgCount(b, 1));
  if (an < 0) return undefined;
  const ns = skipRecords(b, an, msgCount(b, 2));
  if (ns < 0) return undefined;
  let edns: EdnsInfo | undefined;
  let p = ns;
  for (let i = msgCount(b, 3); i > 0; i--) {
    const start = p;
    p = skipName(b, p);
    if (p < 0 || p + 10 > b.length) return undefined;
    const type = u16be(b, p);
    const rdEnd = p + 10 + u16be(b, p + 8);
    if (rdEnd > b.length) return undefined;
    if (type === RrType.OPT) {
      if (edns !== undefined || b[start] !== 0 || p !== start + 1) return undefined;
      const ttl = u32be(b, p + 4);
      edns = { udpSize: u16be(b, p + 2), extRcode: ttl >>> 24, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0, start, end: rdEnd };
    }
    p = rdEnd;
  }
  return { ends: [qEnd, an, ns, p], edns };
}

/** An OPT pseudo-record advertising `udpSize`, with optional extended RCODE bits (RFC 6891 §6.1.2). */
export function encodeOpt(udpSize: number, extRcode = 0, dnssecOk = false): Uint8Array {
  const o = new Uint8Array(11);
  // o[0] = 0: the root owner name.
  setU16be(o, 1, RrType.OPT);
  setU16be(o, 3, udpSize);
  o[5] = extRcode;
  o[6] = 0; // version 0
  o[7] = dnssecOk ? 0x80 : 0;
  return o;
}

/**
 * A reply carrying only the header, the question (when known) and an OPT when `opt` is given:
 * FORMERR, NOTIMP, SERVFAIL and BADVERS. Copies id, opcode, RD and CD from the query
 * (RFC 1035 §4.1.1; RFC 4035 §3.2.2 for CD); RA is set because the gateway recurses for guests.
 */
export function headerOnlyReply(query: Uint8Array, q: DnsQuestion | undefined, rcode: number, opt?: Uint8Array): Uint8Array {
  const qLen = q === undefined ? 0 : q.wire.length;
  const out = new Uint8Array(HEADER_LEN + qLen + (opt?.length ?? 0));
  out[0] = query[0]!;
  out[1] = query[1]!;
  const flags = query.length >= 4 ? msgFlags(query) : 0;
  setU16be(out, 2, Flag.QR | (flags & (0x7800 | Flag.RD | Flag.CD)) | Flag.RA | (rcode & 0x0f));
  if (q !== undefined) {
    setU16be(out, 4, 1);
    out.set(q.wire, HEADER_LEN);
  }
  if (opt !== undefined) {
    setU16be(out, 10, 1);
    out.set(opt, HEADER_LEN + qLen);
  }
  return out;
}

/**
 * Fits a response into `limit` bytes for UDP (RFC 1035 §4.2.1; RFC 6891 §7 for the EDNS size).
 * Returns `msg` itself when it fits. Otherwise keeps the header, the question and as many whole
 * answer records as fit, drops authority and additional data, keeps the OPT record (RFC 6891 §7:
 * a response to an EDNS query carries OPT) and sets TC so the client retries over TCP
 * (RFC 7766 §5). Compression pointers stay valid: only a suffix is removed. A message whose
 * sections cannot be walked is cut to header + question.
 */
export function truncateTo(msg: Uint8Array, limit: number): { msg: Uint8Array; truncated: boolean } {
  if (msg.length <= limit) return { msg, truncated: false };
  const q = readQuestion(msg);
  const qEnd = q?.end ?? HEADER_LEN;
  const layout = q === undefined ? undefined : layoutMessage(msg, qEnd);
  const opt = layout?.edns === undefined ? undefined : msg.subarray(layout.edns.start, layout.edns.end);
  const room = limit - (opt?.length ?? 0);
  let keep = qEnd;
  let answers = 0;
  if (layout !== undefined) {
    for (let i = msgCount(msg, 1); i > 0; i--) {
      const next = skipRecords(msg, keep, 1);
      if (next < 0 || next > room) break;
      keep = next;
      answers++;
    }
  }
  const fitsOpt = opt !== undefined && keep + opt.length <= limit;
  const out = new Uint8Array(keep + (fitsOpt ? opt.length : 0));
  out.set(msg.subarray(0, keep), 0);
  if (fitsOpt) out.set(opt, keep);
  out[2] = out[2]! | (Flag.TC >>> 8);
  setU16be(out, 4, q === undefined ? 0 : 1);
  setU16be(out, 6, answers);
  setU16be(out, 8, 0);
  setU16be(out, 10, fitsOpt ? 1 : 0);
  return { msg: out, truncated: true };
}
