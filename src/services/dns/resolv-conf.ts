/**
 * Where upstream servers come from: the `nameserver` lines of the host's resolv.conf (the
 * default, cli.md "DNS upstream"), or `--dns-upstream IP[:PORT]` values that replace that list.
 * Pure text parsing; reading the file is the host transport's job (`node-transport.ts`).
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../errors.js';

/** DNS's port (RFC 1035 §4.2). */
export const DNS_PORT = 53;

/** One upstream resolver. */
export interface UpstreamServer {
  /** IPv4 or IPv6 literal (an IPv6 zone such as `%eth0` is kept). */
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** An upstream specification that does not parse. */
export type DnsUpstreamSpecError = VnetError<'dns-bad-upstream'> & { readonly spec: string };

/** What resolv.conf(5) says that matters to a forwarder. */
export interface ResolvConf {
  /** `nameserver` addresses in file order (glibc uses at most 3; we keep all). */
  readonly servers: UpstreamServer[];
  /** `search` (or legacy `domain`) suffixes, for the DHCP search option. */
  readonly search: string[];
  /** Lines that were ignored because their address does not parse. */
  readonly ignored: string[];
}

/**
 * Parses `IP`, `IP:PORT`, `[IPv6]`, `[IPv6]:PORT` or a bare IPv6 literal (`::1`), the
 * `--dns-upstream` syntax (cli.md). Port defaults to 53 and must be 1–65535.
 */
export function parseUpstream(spec: string): Result<UpstreamServer, DnsUpstreamSpecError> {
  const s = spec.trim();
  const bad = (why: string): Result<UpstreamServer, DnsUpstreamSpecError> =>
    err(vnetError('dns-bad-upstream', `upstream ${JSON.stringify(spec)}: ${why}`, { spec }));
  let host = s;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
    if (!isIPv6(stripZone(host))) return bad('the bracketed address is not IPv6');
  } else if (!isIPv6(stripZone(s))) {
    const colon = s.lastIndexOf(':');
    if (colon >= 0) {
      host = s.slice(0, colon);
      portText = s.slice(colon + 1);
    }
    if (!isIPv4(host)) return bad('expected IP, IP:PORT or [IPv6]:PORT');
  }
  let port = DNS_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return bad(`port ${JSON.stringify(portText)} is not a number`);
    port = Number(portText);
    if (port < 1 || port > 65535) return bad(`port ${port} is not in 1..65535`);
  }
  return ok({ address: host, port, family: isIPv4(host) ? 4 : 6 });
}

/** Text form of a server, `IP:PORT` or `[IPv6]:PORT`, for logs and stats. */
export function formatUpstream(s: UpstreamServer): string {
  return s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}

/**
 * Parses resolv.conf(5) text: `nameserver ADDR` (IPv4 or IPv6, port 53), `search`/`domain`.
 * Comments start with `#` or `;`; unknown directives are skipped as the libc resolver does.
 */
export function parseResolvConf(text: string): ResolvConf {
  const servers: UpstreamServer[] = [];
  let search: string[] = [];
  const ignored: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (line === '') continue;
    const [key, ...args] = line.split(/\s+/);
    if (key === 'nameserver' && args.length > 0) {
      const a = args[0]!;
      if (isIPv4(a)) servers.push({ address: a, port: DNS_PORT, family: 4 });
      else if (isIPv6(stripZone(a))) servers.push({ address: a, port: DNS_PORT, family: 6 });
      else ignored.push(raw);
    } else if (key === 'search' || key === 'domain') {
      // The last search/domain line wins (resolv.conf(5)).
      search = args;
    }
  }
  return { servers, search, ignored };
}

function stripZone(a: string): string {
  const pct = a.indexOf('%');
  return pct < 0 ? a : a.slice(0, pct);
}
