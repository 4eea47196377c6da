/**
 * Domain names as the local record store keys them: presentation text, ASCII-lowercased, without
 * the trailing dot, so `Host.Internal.` and `host.internal` are the same name (RFC 4343 §3).
 * Also the reverse-mapping names of IPv4 addresses (RFC 1035 §3.5).
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../errors.js';
import { parseIpv4 } from '../../wire/address.js';
import { lowerAscii } from './message.js';

/** A name that cannot be stored as a local record. */
export type DnsNameError = VnetError<'dns-bad-name'> & { readonly name: string };

/**
 * Normalises a user- or DHCP-supplied name to the store's key: trims one trailing dot, lowers
 * ASCII. Accepts letters, digits, `-` and `_` (underscore for SRV owners such as
 * `_http._tcp.x`, RFC 2782), labels of 1–63 octets and 253 characters in all (RFC 1035 §2.3.4,
 * §3.1). Anything else — spaces, empty labels, escapes — is refused, so a stored name always
 * encodes to the same wire labels.
 */
export function normalizeName(name: string): Result<string, DnsNameError> {
  const s = name.endsWith('.') ? name.slice(0, -1) : name;
  const bad = (why: string): Result<string, DnsNameError> =>
    err(vnetError('dns-bad-name', `invalid DNS name ${JSON.stringify(name)}: ${why}`, { name }));
  if (s.length === 0) return bad('empty');
  if (s.length > 253) return bad('longer than 253 characters');
  for (const label of s.split('.')) {
    if (label.length === 0) return bad('empty label');
    if (label.length > 63) return bad('label longer than 63 characters');
    if (!/^[A-Za-z0-9_-]+$/.test(label)) return bad(`label ${JSON.stringify(label)} has characters other than letters, digits, '-' and '_'`);
  }
  return ok(lowerAscii(s));
}

/** The store key of a name read from the wire or typed by a user, without validation. */
export function nameKey(name: string): string {
  return lowerAscii(name.endsWith('.') ? name.slice(0, -1) : name);
}

/** `a.b.c.d` → `d.c.b.a.in-addr.arpa` (RFC 1035 §3.5). */
export function reverseName(ip: number): string {
  return `${ip & 255}.${(ip >>> 8) & 255}.${(ip >>> 16) & 255}.${ip >>> 24}.in-addr.arpa`;
}

/**
 * The IPv4 address a reverse name stands for, when `key` is exactly four octets under
 * `in-addr.arpa` (a shorter name is a zone cut, not a host, and is not answered locally).
 */
export function addressOfReverse(key: string): number | undefined {
  const suffix = '.in-addr.arpa';
  if (!key.endsWith(suffix)) return undefined;
  const octets = key.slice(0, -suffix.length).split('.');
  if (octets.length !== 4 || octets.some((o) => !/^(0|[1-9]\d{0,2})$/.test(o))) return undefined;
  return parseIpv4(octets.reverse().join('.'));
}
