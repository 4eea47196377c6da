/**
 * Building and reading DNS messages in tests with dns-packet, an implementation independent of
 * the service's own raw reader, so the two check each other.
 */
import dnsPacket, { type Answer, type DecodedPacket, type RecordType } from 'dns-packet';

/** Options of {@link query}. */
export interface QueryOptions {
  id?: number;
  /** EDNS UDP payload size; omitted = no OPT record. */
  edns?: number;
  /** EDNS version (default 0). */
  ednsVersion?: number;
  /** Header flags (default RD). */
  flags?: number;
  cls?: 'IN' | 'CH' | 'ANY';
}

/** A query for `name`/`type` as bytes. */
export function query(name: string, type: RecordType, o: QueryOptions = {}): Uint8Array {
  const additionals: Answer[] = [];
  if (o.edns !== undefined) {
    additionals.push({ type: 'OPT', name: '.', udpPayloadSize: o.edns, extendedRcode: 0, ednsVersion: o.ednsVersion ?? 0, flags: 0, flag_do: false, options: [] });
  }
  const buf = dnsPacket.encode({
    type: 'query',
    id: o.id ?? 0x1234,
    flags: o.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: o.cls ?? 'IN' }],
    additionals,
  });
  return new Uint8Array(buf);
}

/** A decoded record with the fields tests look at, whatever its type. */
export interface TestAnswer {
  name: string;
  type: string;
  ttl?: number;
  data?: unknown;
  /** OPT pseudo-records only. */
  udpPayloadSize?: number;
}

/** A decoded message whose records are {@link TestAnswer}s. */
export type TestPacket = Omit<DecodedPacket, 'answers' | 'additionals' | 'authorities'> & {
  answers?: TestAnswer[];
  additionals?: TestAnswer[];
  authorities?: TestAnswer[];
};

/** Decodes a reply (throws on garbage: that is a test failure). */
export function decode(b: Uint8Array): TestPacket {
  return dnsPacket.decode(Buffer.from(b.buffer, b.byteOffset, b.byteLength)) as TestPacket;
}

/** RCODE of a reply, including EDNS extended bits. */
export function rcodeOf(b: Uint8Array): number {
  const base = b[3]! & 0x0f;
  const p = decode(b);
  const opt = (p.additionals ?? []).find((a) => a.type === 'OPT') as { extendedRcode?: number } | undefined;
  return ((opt?.extendedRcode ?? 0) << 4) | base;
}

/**
 * A response to `q` (a query's bytes) with these answers and rcode, echoing id and question as a
 * real server does. `idOverride` builds spoofed responses.
 */
export function responseTo(q: Uint8Array, answers: Answer[], o: { rcode?: number; tc?: boolean; idOverride?: number; questionName?: string } = {}): Uint8Array {
  const p = decode(q);
  const question = p.questions![0]!;
  const b = new Uint8Array(
    dnsPacket.encode({
      type: 'response',
      id: o.idOverride ?? p.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (o.tc ? dnsPacket.TRUNCATED_RESPONSE : 0),
      questions: [{ ...question, name: o.questionName ?? question.name }],
      answers,
    }),
  );
  b[3] = (b[3]! & 0xf0) | ((o.rcode ?? 0) & 0x0f);
  return b;
}

/** `n` TXT records of `size` bytes each at `name`, to make large answers. */
export function bigTxt(name: string, n: number, size = 200): Answer[] {
  const out: Answer[] = [];
  for (let i = 0; i < n; i++) out.push({ name, type: 'TXT', ttl: 60, data: [String(i).padStart(4, '0') + 'x'.repeat(size - 4)] });
  return out;
}
