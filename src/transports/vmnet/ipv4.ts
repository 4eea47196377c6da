/**
 * IPv4 addresses as host-order u32 numbers (192.168.65.10 = 0xC0A8410A) and their dotted text.
 * The vmnet Preferred_ipv4 command carries the number little-endian, i.e. the octets reversed
 * (protocols.md §1.4, "IPv4 byte-order trap"); keeping the number in host order here puts that
 * reversal in exactly one place, the codec.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../errors.js';

/** Text that is not a dotted-quad IPv4 address. */
export type Ipv4ParseError = VnetError<'bad-ipv4'> & { readonly text: string };

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Parses `a.b.c.d` (each 0–255, no leading zeros, which some parsers read as octal) into a
 * host-order u32.
 */
export function parseIpv4(text: string): Result<number, Ipv4ParseError> {
  const m = DOTTED.exec(text);
  const bad = (): Result<number, Ipv4ParseError> =>
    err(vnetError('bad-ipv4', `invalid IPv4 address ${JSON.stringify(text)}`, { text }));
  if (m === null) return bad();
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return bad();
    const v = Number(part);
    if (v > 255) return bad();
    n = n * 256 + v;
  }
  return ok(n);
}

/** Formats a host-order u32 as `a.b.c.d`. Only the low 32 bits are used. */
export function formatIpv4(n: number): string {
  const v = n >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** True when `n` is an integer in [0, 2^32). */
export function isIpv4Number(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}
