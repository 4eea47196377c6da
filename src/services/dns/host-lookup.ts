/**
 * The host's own name resolution as a narrow interface: one call, getaddrinfo(3) for one name and
 * one address family, like `dns.lookup(name, { all: true, family })`. Through it the guest sees
 * what the host sees — /etc/hosts, nsswitch modules, systemd-resolved split DNS, macOS scoped
 * resolvers (/etc/resolver/*), Windows NRPT rules a VPN client installs — none of which appear
 * in resolv.conf (user-needs.md row 4). `node-host-lookup.ts` is the Node implementation; unit
 * tests pass a fake that answers when told to.
 *
 * This file also decides which questions may go to getaddrinfo at all, and what its error codes
 * mean in DNS terms (the "Host" resolver of protocols.md §4.4 maps every error to NXDOMAIN; we
 * keep NODATA and SERVFAIL apart, because a stub treats NXDOMAIN as "this name has no records of
 * any type", RFC 8020 §2).
 * @module
 */
import { isIP } from 'node:net';

/** What one getaddrinfo call produced. */
export type HostLookupOutcome =
  /** Addresses of the requested family, in the order the host returned them. */
  | { readonly kind: 'addresses'; readonly addresses: readonly string[] }
  /**
   * A failure, by its symbolic code: the libuv/getaddrinfo name (`EAI_NONAME`, `EAI_NODATA`,
   * `EAI_AGAIN`, …) rather than Node's `ENOTFOUND`, which Node reports for both EAI_NONAME and
   * EAI_NODATA and so cannot tell "no such name" from "no address of this family".
   */
  | { readonly kind: 'error'; readonly code: string };

/** The host resolver. */
export interface HostLookup {
  /**
   * Resolves `name` to addresses of `family`; calls `done` exactly once. The call cannot be
   * cancelled (getaddrinfo runs to completion on a libuv pool thread), which is why the caller
   * bounds how many run at once.
   */
  lookup(name: string, family: 4 | 6, done: (outcome: HostLookupOutcome) => void): void;
}

/** A lookup failure in DNS terms. */
export type LookupFailure =
  /** The host knows no such name (for this family, at least: see `host-resolver.ts`). */
  | 'no-name'
  /** The name exists without an address of this family: NODATA (RFC 2308 §2.2). */
  | 'no-data'
  /** Temporary failure or anything else: SERVFAIL, so the guest may retry. */
  | 'failure';

/**
 * Maps a getaddrinfo error code to its DNS meaning:
 * - `EAI_NONAME` (Node: `ENOTFOUND`; Windows WSAHOST_NOT_FOUND maps here too): no such name.
 * - `EAI_NODATA`, `ENODATA`, `EAI_ADDRFAMILY`: the name exists, no address of this family.
 * - `EAI_AGAIN` (the upstream said SERVFAIL or timed out), `EAI_FAIL`, timeouts and everything
 *   else: a failure the guest should see as SERVFAIL, not as an authoritative "no".
 */
export function classifyLookupError(code: string): LookupFailure {
  switch (code) {
    case 'EAI_NONAME':
    case 'ENOTFOUND':
      return 'no-name';
    case 'EAI_NODATA':
    case 'ENODATA':
    case 'EAI_ADDRFAMILY':
      return 'no-data';
    default:
      return 'failure';
  }
}

/** Labels getaddrinfo can be trusted with: letters, digits, `-`, `_` (RFC 952, RFC 1123 §2.1). */
const HOSTNAME = /^[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*$/;
/**
 * Numbers inet_aton(3) accepts as an address (`1`, `127.1`, `0x7f.0.0.1`): getaddrinfo would
 * answer them without asking anyone, which a DNS server must not do for a name.
 */
const INET_ATON = /^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$/i;

/**
 * Whether the question name (presentation form, no trailing dot) should go to getaddrinfo.
 * Names getaddrinfo would treat differently from a DNS resolver go to the upstreams instead, so
 * host-resolver mode never answers them in a way upstream mode would not: the root, escaped
 * octets (`\032`), over-long names, IP literals and inet_aton numbers. (A trailing dot would stop
 * the host's search list from applying, but glibc's files backend then misses /etc/hosts
 * entries, so the name is passed without one.)
 */
export function isHostLookupName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  if (!HOSTNAME.test(name)) return false;
  return isIP(name) === 0 && !INET_ATON.test(name);
}
