/**
 * IPv4 and MAC addresses as numbers (the hot path compares u32s, never strings) and their
 * text forms for options, logs and the control API.
 * @module
 */

/**
 * Parses a dotted quad to a u32; `undefined` when it is not exactly four decimal octets 0-255.
 * An octet with a leading zero (`010`) is refused: inet_aton() reads it as octal (8), so
 * accepting it as decimal would make the same text name two hosts (cf. CVE-2021-29923).
 */
export function parseIpv4(s: string): number | undefined {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(s);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = v * 256 + o;
  }
  return v;
}

/** True when `n` is an integer in [0, 2^32): an IPv4 address as a number. */
export function isIpv4Number(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** Formats a u32 as a dotted quad. */
export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** An IPv4 prefix: network address and length. */
export interface Ipv4Cidr {
  readonly network: number;
  readonly prefix: number;
}

/** Netmask of a prefix length as a u32. */
export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n` with n in 0-32 written without leading zeros (host bits are cleared); a bare address is a /32. */
export function parseCidr(s: string): Ipv4Cidr | undefined {
  const slash = s.indexOf('/');
  const ip = parseIpv4(slash < 0 ? s : s.slice(0, slash));
  if (ip === undefined) return undefined;
  let prefix = 32;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(p)) return undefined;
    prefix = Number(p);
  }
  return { network: (ip & maskOf(prefix)) >>> 0, prefix };
}

/** Whether `ip` lies inside `cidr` (host bits of `cidr.network`, if a caller left any, are ignored). */
export function cidrContains(cidr: Ipv4Cidr, ip: number): boolean {
  return ((ip ^ cidr.network) & maskOf(cidr.prefix)) === 0;
}

/** Formats a prefix as `a.b.c.d/n`. */
export function formatCidr(c: Ipv4Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

/** Broadcast address of a prefix. */
export function broadcastOf(c: Ipv4Cidr): number {
  return (c.network | ~maskOf(c.prefix)) >>> 0;
}

/**
 * Parses `aa:bb:cc:dd:ee:ff` (or `aa-bb-cc-dd-ee-ff`, one separator throughout) to a 48-bit
 * number; `undefined` when malformed.
 */
export function parseMac(s: string): number | undefined {
  const m = /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(s);
  if (!m) return undefined;
  let v = 0;
  for (const i of [1, 3, 4, 5, 6, 7]) v = v * 256 + parseInt(m[i]!, 16);
  return v;
}

/** Formats a 48-bit number as lowercase `aa:bb:cc:dd:ee:ff`. */
export function formatMac(v: number): string {
  const parts: string[] = [];
  for (let i = 5; i >= 0; i--) parts.push((Math.floor(v / 2 ** (8 * i)) & 255).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** MAC as 6 bytes. */
export function macToBytes(v: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(v, 0, 6);
  return b;
}

/** The all-ones broadcast MAC. */
export const BROADCAST_MAC = 0xffffffffffff;

/** Whether a MAC (as a number) has the group bit set (broadcast or multicast). */
export function isGroupMac(v: number): boolean {
  return Math.floor(v / 0x10000000000) % 2 === 1;
}
