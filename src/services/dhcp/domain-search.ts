/**
 * The Domain Search option, 119 (RFC 3397): a list of domain names in DNS wire form (RFC 1035
 * §3.1), compressed with RFC 1035 §4.1.4 pointers whose offsets count from the start of the
 * option's data (after RFC 3396 concatenation of split instances, RFC 3397 §2). Encoded once at
 * configuration time; the decoder is for tests and tools.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../errors.js';

/** A search domain that cannot be encoded. */
export type DomainNameError = VnetError<'bad-domain-name'> & { readonly name: string };

/** RFC 1035 §2.3.4: labels of at most 63 octets, names of at most 255 octets on the wire. */
const MAX_LABEL = 63;
const MAX_NAME = 255;
/** Letters, digits, hyphen (RFC 1123 §2.1) and underscore (seen in real search lists). */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;
/** RFC 1035 §4.1.4: a pointer is two octets, top bits 11, and can address the first 16 KiB. */
const MAX_POINTER = 0x3fff;

/** Splits and checks a dotted name (a trailing dot is allowed); lowercased as DNS compares case-insensitively. */
export function domainLabels(name: string): Result<string[], DomainNameError> {
  const bad = (why: string): Result<string[], DomainNameError> =>
    err(vnetError('bad-domain-name', `invalid domain name ${JSON.stringify(name)}: ${why}`, { name }));
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed.length === 0) return bad('empty');
  const labels = trimmed.toLowerCase().split('.');
  let wire = 1;
  for (const l of labels) {
    if (l.length === 0) return bad('empty label');
    if (l.length > MAX_LABEL) return bad(`label longer than ${MAX_LABEL} characters`);
    if (!LABEL.test(l)) return bad(`label ${JSON.stringify(l)} has characters outside letters, digits, '-' and '_'`);
    wire += 1 + l.length;
  }
  if (wire > MAX_NAME) return bad(`longer than ${MAX_NAME} octets on the wire`);
  return ok(labels);
}

/**
 * Encodes a search list as option 119 data. A name's longest suffix already written is replaced
 * by a pointer to it (RFC 1035 §4.1.4), so `a.example.com, b.example.com` costs one copy of
 * `example.com`. Duplicates are dropped. The result may exceed 255 bytes; the emitter splits it.
 */
export function encodeDomainSearch(names: readonly string[]): Result<Uint8Array, DomainNameError> {
  const out: number[] = [];
  /** Offset of each suffix already written, keyed by its dotted form. */
  const written = new Map<string, number>();
  const seen = new Set<string>();
  for (const name of names) {
    const r = domainLabels(name);
    if (r.isErr()) return err(r.error);
    const labels = r.value;
    const key = labels.join('.');
    if (seen.has(key)) continue;
    seen.add(key);
    let i = 0;
    for (; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.');
      const at = written.get(suffix);
      if (at !== undefined) {
        out.push(0xc0 | (at >> 8), at & 0xff);
        break;
      }
      if (out.length <= MAX_POINTER) written.set(suffix, out.length);
      out.push(labels[i]!.length);
      for (const ch of labels[i]!) out.push(ch.charCodeAt(0));
    }
    if (i === labels.length) out.push(0);
  }
  return ok(Uint8Array.from(out));
}

/**
 * Decodes option 119 data into dotted names, following pointers (each must point backwards, so a
 * loop is impossible). Undefined when malformed. Allocates; for tests and tools.
 */
export function decodeDomainSearch(data: Uint8Array): string[] | undefined {
  const names: string[] = [];
  let pos = 0;
  while (pos < data.length) {
    const labels: string[] = [];
    let p = pos;
    let next = -1;
    let wire = 1;
    for (;;) {
      if (p >= data.length) return undefined;
      const l = data[p]!;
      if (l === 0) {
        if (next < 0) next = p + 1;
        break;
      }
      if ((l & 0xc0) === 0xc0) {
        if (p + 1 >= data.length) return undefined;
        const target = ((l & 0x3f) << 8) | data[p + 1]!;
        if (target >= p) return undefined;
        if (next < 0) next = p + 2;
        p = target;
        continue;
      }
      if ((l & 0xc0) !== 0 || p + 1 + l > data.length) return undefined;
      labels.push(String.fromCharCode(...data.subarray(p + 1, p + 1 + l)));
      wire += 1 + l;
      if (wire > MAX_NAME) return undefined;
      p += 1 + l;
    }
    if (labels.length === 0) return undefined;
    names.push(labels.join('.'));
    pos = next;
  }
  return names;
}
