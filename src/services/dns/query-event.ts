/**
 * The per-query event of the DNS service (the facade's `dns-query`, user-needs.md row 27 "DNS
 * query log"): what was asked, by whom, what was answered, how long it took and who answered —
 * local data, the host's resolver or an upstream server. The answer records are decoded from the
 * reply only when someone listens; with no listener the server builds none of this.
 * @module
 */
import dnsPacket from 'dns-packet';
import { Rcode } from './message.js';

/** Who answered a query. */
export type DnsAnswerSource =
  /** The gateway's own data (built-in, guest and user names), or an error decided here (FORMERR, NOTIMP, BADVERS). */
  | 'local'
  /** The host's resolver (getaddrinfo), in host-resolver mode. */
  | 'host'
  /** An upstream server (or SERVFAIL because none answered in time). */
  | 'upstream';

/** One answer record of a reply, in presentation form. */
export interface DnsEventAnswer {
  readonly name: string;
  /** Type mnemonic (`A`, `CNAME`, `TYPE65`…). */
  readonly type: string;
  readonly ttl: number;
  /** RDATA as text: an address, a name, `10 mx.example.` (MX), `0 5 389 ldap.example.` (SRV), quoted TXT strings. */
  readonly data: string;
}

/** One answered (or failed) query, reported to the server's `onQuery` listener. */
export interface DnsQueryEvent {
  /** Question name as asked (`''` when unreadable). */
  readonly name: string;
  /** Type mnemonic (`A`, `AAAA`, `TYPE65`…; `''` when unreadable). */
  readonly type: string;
  /** Response code sent (extended codes such as BADVERS included). */
  readonly rcode: number;
  /** Its mnemonic: `NOERROR`, `NXDOMAIN`, `SERVFAIL`, … (`RCODE<n>` otherwise). */
  readonly rcodeName: string;
  /** Answer records sent (after any UDP truncation). */
  readonly answers: readonly DnsEventAnswer[];
  readonly source: { readonly transport: 'udp' | 'tcp'; readonly address: string; readonly port: number };
  /** Runtime-clock milliseconds from arrival to reply. */
  readonly latencyMs: number;
  /** Who answered. */
  readonly via: DnsAnswerSource;
  /** The upstream server that answered (`IP:PORT`), when `via` is `upstream` and one did. */
  readonly server?: string;
  /** Whether the UDP reply was truncated (TC set). */
  readonly truncated: boolean;
}

const RCODE_NAMES: Readonly<Record<number, string>> = {
  [Rcode.NoError]: 'NOERROR',
  [Rcode.FormErr]: 'FORMERR',
  [Rcode.ServFail]: 'SERVFAIL',
  [Rcode.NxDomain]: 'NXDOMAIN',
  [Rcode.NotImp]: 'NOTIMP',
  [Rcode.Refused]: 'REFUSED',
  [Rcode.BadVers]: 'BADVERS',
};

/** Mnemonic of a response code (RFC 1035 §4.1.1, RFC 6891 §9). */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** The answer section of `reply` as {@link DnsEventAnswer}s; `[]` when it does not decode. */
export function describeAnswers(reply: Uint8Array): DnsEventAnswer[] {
  let decoded;
  try {
    decoded = dnsPacket.decode(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength));
  } catch {
    return [];
  }
  return (decoded.answers ?? []).map((a) => ({
    name: a.name,
    type: a.type,
    ttl: 'ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0,
    data: formatData('data' in a ? (a.data as unknown) : undefined),
  }));
}

/** RDATA as dns-packet decoded it, rendered as text. */
function formatData(d: unknown): string {
  if (typeof d === 'string') return d;
  if (d instanceof Uint8Array) return Buffer.from(d).toString('hex');
  if (Array.isArray(d)) return d.map((x) => JSON.stringify(x instanceof Uint8Array ? Buffer.from(x).toString('latin1') : String(x))).join(' ');
  if (d !== null && typeof d === 'object') {
    const o = d as Record<string, unknown>;
    if ('exchange' in o) return `${String(o.preference)} ${String(o.exchange)}`;
    if ('target' in o && 'port' in o) return `${String(o.priority)} ${String(o.weight)} ${String(o.port)} ${String(o.target)}`;
    try {
      return JSON.stringify(d, (_k, v: unknown) => (v instanceof Uint8Array || (v as { type?: string })?.type === 'Buffer' ? '<bytes>' : v));
    } catch {
      return String(d);
    }
  }
  return d === undefined ? '' : String(d);
}
