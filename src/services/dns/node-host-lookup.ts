/**
 * {@link HostLookup} on Node's `dns.lookup`, i.e. getaddrinfo(3) on a libuv pool thread. One of
 * the three files of the DNS service that touch the operating system (with `node-transport.ts`
 * and `node-files.ts`).
 * @module
 */
import { lookup, type LookupAddress } from 'node:dns';
import { getSystemErrorName } from 'node:util';
import type { HostLookup, HostLookupOutcome } from './host-lookup.js';

/**
 * The symbolic code of a `dns.lookup` error. Node rewrites both EAI_NONAME and EAI_NODATA to
 * `ENOTFOUND` in `code`, but keeps libuv's number in `errno`, whose name tells them apart.
 */
export function lookupErrorCode(e: NodeJS.ErrnoException): string {
  if (typeof e.errno === 'number') {
    try {
      return getSystemErrorName(e.errno);
    } catch {
      // Not a system error number (a positive errno from some other layer): fall back to `code`.
    }
  }
  return e.code ?? 'EAI_FAIL';
}

/** getaddrinfo through `dns.lookup(name, { all: true, family })`. */
export class NodeHostLookup implements HostLookup {
  lookup(name: string, family: 4 | 6, done: (outcome: HostLookupOutcome) => void): void {
    try {
      // No `hints`: AI_ADDRCONFIG would hide AAAA records on a host without IPv6, but the guest
      // asked what the name has, not what the host can reach. `verbatim`: keep the host's order
      // (RFC 6724 sorting already happened inside getaddrinfo).
      lookup(name, { all: true, family, verbatim: true }, (e, addrs: LookupAddress[]) => {
        if (e) return done({ kind: 'error', code: lookupErrorCode(e) });
        done({ kind: 'addresses', addresses: addrs.filter((a) => a.family === family).map((a) => a.address) });
      });
    } catch (e) {
      // dns.lookup throws synchronously only for invalid arguments; report it as a failure.
      done({ kind: 'error', code: lookupErrorCode(e as NodeJS.ErrnoException) });
    }
  }
}
