/**
 * The names the gateway answers itself, before any upstream: built-in names (host names → the
 * host-loopback alias, gateway names → the gateway), guests' DHCP host names, records added
 * through the API, and the reverse (PTR) names of the gateway, the alias and the guests.
 *
 * Negative answers. vpnkit answers a built-in name queried for a type it has no record of with
 * NXDOMAIN (protocols.md §4.4). We answer NOERROR with an empty answer section (NODATA) instead:
 * NXDOMAIN means "this name does not exist for any type" (RFC 8020 §2), so a stub that asks AAAA
 * and A for `host.internal` in parallel (glibc, musl) may drop the A answer, and a cache may
 * remember the whole name as missing. NODATA is the correct "name exists, no such type" answer
 * (RFC 2308 §2.2). No SOA is attached, so nothing caches it (RFC 2308 §5): local data has TTL 0.
 * @module
 */
import { isIPv6 } from 'node:net';
import { err, ok, type Result } from 'neverthrow';
import type { Answer, StringAnswer } from 'dns-packet';
import { vnetError, type VnetError } from '../../errors.js';
import { formatIpv4, parseIpv4 } from '../../wire/address.js';
import { RrClass, RrType } from './message.js';
import { addressOfReverse, nameKey, normalizeName, type DnsNameError } from './names.js';

/** Record types that can be added through {@link LocalRecords.addRecord}. */
export type UserRecordType = 'A' | 'AAAA' | 'CNAME' | 'TXT' | 'SRV' | 'PTR';

/** Data of an SRV record (RFC 2782); `target` `.` means "no service here". */
export interface SrvRecordData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/**
 * A record to add. `data` is a dotted quad (A), IPv6 text (AAAA), a name (CNAME, PTR), one or
 * more strings of at most 255 bytes (TXT, RFC 1035 §3.3.14) or {@link SrvRecordData} (SRV).
 */
export type UserRecord =
  | { readonly name: string; readonly type: 'A' | 'AAAA' | 'CNAME' | 'PTR'; readonly data: string; readonly ttl?: number }
  | { readonly name: string; readonly type: 'TXT'; readonly data: string | readonly string[]; readonly ttl?: number }
  | { readonly name: string; readonly type: 'SRV'; readonly data: SrvRecordData; readonly ttl?: number };

/** Why a record could not be added or removed. */
export type DnsRecordError =
  | DnsNameError
  | (VnetError<'dns-bad-record'> & { readonly name: string })
  | (VnetError<'dns-name-conflict'> & { readonly name: string });

/** Where a local record comes from (for listings). */
export type RecordSource = 'builtin' | 'guest' | 'user';

/** One local record as listed by {@link LocalRecords.list}. */
export interface LocalRecordView {
  readonly name: string;
  readonly type: UserRecordType;
  readonly data: string | readonly string[] | SrvRecordData;
  readonly ttl: number;
  readonly source: RecordSource;
}

/** Configuration of the local names. */
export interface LocalRecordsOptions {
  /** The gateway's address (u32 or dotted quad). */
  readonly gatewayIp: number | string;
  /** The host-loopback alias (u32 or dotted quad); -1 when the alias is disabled (host names then do not resolve). */
  readonly hostAliasIp: number | string;
  /** Names answered with the alias (default `host.internal`, `host.docker.internal`; cli.md). */
  readonly hostNames?: readonly string[];
  /** Names answered with the gateway (default `gateway.internal`). */
  readonly gatewayNames?: readonly string[];
  /** DHCP domain: guests are also answered as `<hostname>.<domain>`. */
  readonly domain?: string;
}

/** What a local lookup produced. */
export type LocalAnswer =
  /** A complete answer: NOERROR with these records (empty = NODATA). */
  | { readonly kind: 'answer'; readonly answers: Answer[] }
  /** A CNAME chain whose last target is not local: resolve `target` upstream, then prepend. */
  | { readonly kind: 'chase'; readonly answers: Answer[]; readonly target: string };

/** Default names (cli.md: built-in names). */
export const DEFAULT_HOST_NAMES: readonly string[] = ['host.internal', 'host.docker.internal'];
/** Default gateway names. */
export const DEFAULT_GATEWAY_NAMES: readonly string[] = ['gateway.internal'];

/** CNAME chains longer than this are cut (a loop guard, as resolvers do). */
const MAX_CHAIN = 8;
/** TTLs are unsigned 31-bit (RFC 2181 §8). */
const MAX_TTL = 0x7fffffff;

interface Stored {
  readonly type: UserRecordType;
  readonly data: string | string[] | SrvRecordData;
  ttl: number;
}

/** The gateway's own zone data. Not thread-safe by design: everything runs on one event loop. */
export class LocalRecords {
  private readonly builtin = new Map<string, { ip: number; display: string }>();
  private readonly user = new Map<string, Stored[]>();
  private readonly guestByName = new Map<string, number>();
  private readonly guestByIp = new Map<number, string>();
  private domain: string | undefined;

  private constructor() {}

  /** Builds the store; fails on an unparsable address or an invalid built-in name. */
  static create(opts: LocalRecordsOptions): Result<LocalRecords, DnsRecordError> {
    const gw = toIp(opts.gatewayIp);
    // With the alias disabled (`hostLoopback: false`) nothing on the guest side reaches the host, so
    // the host names are not answered at all rather than pointing at an address nobody owns.
    const noAlias = opts.hostAliasIp === -1;
    const alias = noAlias ? -1 : toIp(opts.hostAliasIp);
    if (gw === undefined) return err(vnetError('dns-bad-record', `gateway address ${String(opts.gatewayIp)} is not IPv4`, { name: 'gatewayIp' }));
    if (alias === undefined) return err(vnetError('dns-bad-record', `host alias ${String(opts.hostAliasIp)} is not IPv4`, { name: 'hostAliasIp' }));
    const r = new LocalRecords();
    const sets = noAlias ? ([[opts.gatewayNames ?? DEFAULT_GATEWAY_NAMES, gw]] as const) : ([[opts.hostNames ?? DEFAULT_HOST_NAMES, alias], [opts.gatewayNames ?? DEFAULT_GATEWAY_NAMES, gw]] as const);
    for (const [names, ip] of sets) {
      for (const n of names) {
        const k = normalizeName(n);
        if (k.isErr()) return err(k.error);
        if (!r.builtin.has(k.value)) r.builtin.set(k.value, { ip, display: k.value });
      }
    }
    if (opts.domain !== undefined && opts.domain !== '') {
      const d = r.setDomain(opts.domain);
      if (d.isErr()) return err(d.error);
    }
    return ok(r);
  }

  /** Sets (or clears, with `undefined`) the domain appended to guest names. */
  setDomain(domain: string | undefined): Result<void, DnsNameError> {
    if (domain === undefined || domain === '') {
      this.domain = undefined;
      return ok(undefined);
    }
    return normalizeName(domain).map((d) => {
      this.domain = d;
    });
  }

  /**
   * Answers `name` (and `name.<domain>`) with `ip`: a guest's DHCP host name. One name per
   * address: a guest renaming itself drops its old name. Refuses built-in names and names
   * holding a user CNAME.
   */
  setGuestName(name: string, ip: number | string): Result<void, DnsRecordError> {
    const k = normalizeName(name);
    if (k.isErr()) return err(k.error);
    const addr = toIp(ip);
    if (addr === undefined) return err(vnetError('dns-bad-record', `guest address ${String(ip)} is not IPv4`, { name }));
    if (this.builtin.has(k.value) || this.hasUserType(k.value, 'CNAME')) {
      return err(vnetError('dns-name-conflict', `${k.value} is a built-in name or a CNAME`, { name }));
    }
    this.removeGuestIp(addr);
    const prev = this.guestByName.get(k.value);
    if (prev !== undefined) this.guestByIp.delete(prev);
    this.guestByName.set(k.value, addr);
    this.guestByIp.set(addr, k.value);
    return ok(undefined);
  }

  /** Forgets a guest name; returns whether it existed. */
  removeGuestName(name: string): boolean {
    const k = nameKey(name);
    const ip = this.guestByName.get(k);
    if (ip === undefined) return false;
    this.guestByName.delete(k);
    this.guestByIp.delete(ip);
    return true;
  }

  /** Forgets whatever name an address had (lease expired or released); returns whether it had one. */
  removeGuestIp(ip: number | string): boolean {
    const addr = toIp(ip);
    const k = addr === undefined ? undefined : this.guestByIp.get(addr);
    if (k === undefined) return false;
    this.guestByIp.delete(addr!);
    this.guestByName.delete(k);
    return true;
  }

  /**
   * Adds a record. Adding the same name, type and data again only updates the TTL; records of
   * one name and type share the newest TTL (RFC 2181 §5.2). A CNAME cannot share its name with
   * other data (RFC 1034 §3.6.2), in either order.
   */
  addRecord(rec: UserRecord): Result<void, DnsRecordError> {
    const k = normalizeName(rec.name);
    if (k.isErr()) return err(k.error);
    const name = k.value;
    const ttl = rec.ttl ?? 0;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) return err(badRecord(rec.name, `TTL ${ttl} is not an integer in 0..${MAX_TTL}`));
    const data = validateData(rec);
    if (data.isErr()) return err(data.error);
    const list = this.user.get(name) ?? [];
    const conflict =
      rec.type === 'CNAME'
        ? this.builtin.has(name) || this.guestAt(name) !== undefined || list.some((s) => s.type !== 'CNAME' || !sameData(s.data, data.value))
        : list.some((s) => s.type === 'CNAME');
    if (conflict) return err(vnetError('dns-name-conflict', `a CNAME cannot share ${name} with other data (RFC 1034 §3.6.2)`, { name: rec.name }));
    if (!list.some((s) => s.type === rec.type && sameData(s.data, data.value))) list.push({ type: rec.type, data: data.value, ttl });
    for (const s of list) if (s.type === rec.type) s.ttl = ttl;
    this.user.set(name, list);
    return ok(undefined);
  }

  /** Removes user records of `name` and `type` (only the one with `data` when given); returns how many. */
  removeRecord(name: string, type: UserRecordType, data?: UserRecord['data']): Result<number, DnsNameError> {
    const k = normalizeName(name);
    if (k.isErr()) return err(k.error);
    const list = this.user.get(k.value);
    if (list === undefined) return ok(0);
    const norm = data === undefined ? undefined : validateData({ name, type, data } as UserRecord).unwrapOr(undefined);
    if (data !== undefined && norm === undefined) return ok(0);
    const kept = list.filter((s) => s.type !== type || (norm !== undefined && !sameData(s.data, norm)));
    if (kept.length === 0) this.user.delete(k.value);
    else this.user.set(k.value, kept);
    return ok(list.length - kept.length);
  }

  /** Every local record, for the control API and debugging. */
  list(): LocalRecordView[] {
    const out: LocalRecordView[] = [];
    for (const [name, b] of this.builtin) out.push({ name, type: 'A', data: formatIpv4(b.ip), ttl: 0, source: 'builtin' });
    for (const [name, ip] of this.guestByName) {
      for (const n of this.guestNames(name)) out.push({ name: n, type: 'A', data: formatIpv4(ip), ttl: 0, source: 'guest' });
    }
    for (const [name, list] of this.user) for (const s of list) out.push({ name, type: s.type, data: s.data, ttl: s.ttl, source: 'user' });
    return out;
  }

  /**
   * Looks `qname` up for `qtype`/`qclass`. Undefined means "not a local name": forward it.
   * Only class IN (or ANY) is local. The first answer's owner is `qname` as the client spelled it
   * (RFC 4343 §4.1: case is preserved; clients using 0x20 randomisation check it).
   */
  lookup(qname: string, qtype: number, qclass: number): LocalAnswer | undefined {
    if (qclass !== RrClass.IN && qclass !== RrClass.ANY) return undefined;
    const chain: Answer[] = [];
    let owner = qname;
    let key = nameKey(qname);
    const seen = new Set<string>();
    for (let hop = 0; hop <= MAX_CHAIN; hop++) {
      const rrs = this.recordsAt(key, owner);
      if (rrs.length === 0) return hop === 0 ? undefined : { kind: 'chase', answers: chain, target: owner };
      const match = rrs.filter((a) => qtype === RrType.ANY || typeNumber(a.type) === qtype);
      if (match.length > 0) return { kind: 'answer', answers: chain.concat(match) };
      const cname = rrs.find((a): a is StringAnswer => a.type === 'CNAME');
      // NODATA: the name exists, without this type (RFC 2308 §2.2; see the module comment).
      if (cname === undefined) return { kind: 'answer', answers: chain };
      chain.push(cname);
      seen.add(key);
      owner = cname.data;
      key = nameKey(owner);
      // A loop ends the chain with what was collected, as RFC 1034 §3.6.2 asks servers to avoid.
      if (seen.has(key)) return { kind: 'answer', answers: chain };
    }
    return { kind: 'answer', answers: chain };
  }

  /** All records at a normalised name, owned by `owner` (the spelling to answer with). */
  private recordsAt(key: string, owner: string): Answer[] {
    const out: Answer[] = [];
    const b = this.builtin.get(key);
    if (b !== undefined) out.push({ name: owner, type: 'A', ttl: 0, data: formatIpv4(b.ip) });
    const g = this.guestAt(key);
    if (g !== undefined) out.push({ name: owner, type: 'A', ttl: 0, data: formatIpv4(g) });
    const rev = addressOfReverse(key);
    if (rev !== undefined) {
      const target = this.nameOfAddress(rev);
      if (target !== undefined) out.push({ name: owner, type: 'PTR', ttl: 0, data: target });
    }
    for (const s of this.user.get(key) ?? []) out.push(toAnswer(owner, s));
    return out;
  }

  /** The address of a guest answered at `key` (bare name or name.domain). */
  private guestAt(key: string): number | undefined {
    const direct = this.guestByName.get(key);
    if (direct !== undefined) return direct;
    const d = this.domain;
    if (d === undefined || !key.endsWith('.' + d)) return undefined;
    return this.guestByName.get(key.slice(0, -(d.length + 1)));
  }

  /** The name a PTR query for `ip` returns: first gateway name, first host name, or the guest's FQDN. */
  private nameOfAddress(ip: number): string | undefined {
    // Host names were inserted first, so the alias maps to the first host name and the gateway to
    // the first gateway name.
    for (const [name, b] of this.builtin) if (b.ip === ip) return name;
    const g = this.guestByIp.get(ip);
    if (g === undefined) return undefined;
    const names = this.guestNames(g);
    return names[names.length - 1];
  }

  private guestNames(name: string): string[] {
    return this.domain === undefined || name.endsWith('.' + this.domain) ? [name] : [name, `${name}.${this.domain}`];
  }

  private hasUserType(key: string, type: UserRecordType): boolean {
    return (this.user.get(key) ?? []).some((s) => s.type === type);
  }
}

function toIp(v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : undefined;
  return parseIpv4(v);
}

function badRecord(name: string, why: string): DnsRecordError {
  return vnetError('dns-bad-record', `record for ${name}: ${why}`, { name });
}

function validateData(rec: UserRecord): Result<string | string[] | SrvRecordData, DnsRecordError> {
  switch (rec.type) {
    case 'A': {
      const ip = parseIpv4(rec.data);
      return ip === undefined ? err(badRecord(rec.name, `${rec.data} is not a dotted IPv4 address`)) : ok(formatIpv4(ip));
    }
    case 'AAAA':
      return isIPv6(rec.data) ? ok(rec.data.toLowerCase()) : err(badRecord(rec.name, `${rec.data} is not an IPv6 address`));
    case 'CNAME':
    case 'PTR':
      return normalizeName(rec.data);
    case 'TXT': {
      const parts = typeof rec.data === 'string' ? [rec.data] : [...rec.data];
      if (parts.length === 0) return err(badRecord(rec.name, 'TXT needs at least one string'));
      const long = parts.find((p) => Buffer.byteLength(p) > 255);
      return long === undefined ? ok(parts) : err(badRecord(rec.name, 'a TXT string is longer than 255 bytes (RFC 1035 §3.3.14)'));
    }
    case 'SRV': {
      const d = rec.data;
      for (const f of ['priority', 'weight', 'port'] as const) {
        if (!Number.isInteger(d[f]) || d[f] < 0 || d[f] > 65535) return err(badRecord(rec.name, `SRV ${f} ${d[f]} is not in 0..65535`));
      }
      if (d.target === '.') return ok({ priority: d.priority, weight: d.weight, port: d.port, target: '.' });
      return normalizeName(d.target).map((target) => ({ priority: d.priority, weight: d.weight, port: d.port, target }));
    }
  }
}

function sameData(a: Stored['data'], b: Stored['data']): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function typeNumber(t: string): number {
  return (RrType as Record<string, number>)[t] ?? -1;
}

function toAnswer(owner: string, s: Stored): Answer {
  switch (s.type) {
    case 'TXT':
      return { name: owner, type: 'TXT', ttl: s.ttl, data: s.data as string[] };
    case 'SRV': {
      const d = s.data as SrvRecordData;
      return { name: owner, type: 'SRV', ttl: s.ttl, data: { priority: d.priority, weight: d.weight, port: d.port, target: d.target === '.' ? '' : d.target } };
    }
    default:
      return { name: owner, type: s.type, ttl: s.ttl, data: s.data as string };
  }
}
