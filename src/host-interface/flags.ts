/**
 * The `serve` flags of a host interface, as pure parsers for `src/cli/flags.ts` to call:
 *
 * - `--host-interface NAME=IP/PREFIX[,mac=MAC][,mtu=N]` (at most once: one per network), e.g.
 *   `--host-interface vnk0=192.168.65.3/24`;
 * - `--host-route 'CIDR via IP'` (repeatable; needs `--host-interface`), e.g.
 *   `--host-route '10.88.0.0/16 via 192.168.65.2'`.
 *
 * Errors have the CLI's `bad-flag` shape (`flag` names the flag). Whether the address fits the
 * network is checked when the interface is attached, against the network's resolved options.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../errors.js';
import { parseHostRoute, validateInterfaceName, type HostInterfaceSpec } from './spec.js';

/** A bad host-interface flag (the same shape as the CLI's `FlagError`). */
export type HostInterfaceFlagError = VnetError<'bad-flag'> & { flag: string };

const bad = (flag: string, message: string): Result<never, HostInterfaceFlagError> => err(vnetError('bad-flag', `${flag}: ${message}`, { flag }));

/** `parseArgs` option entries for the two flags (spread into the CLI's option table). */
export const HOST_INTERFACE_FLAG_OPTIONS = {
  'host-interface': { type: 'string', multiple: true },
  'host-route': { type: 'string', multiple: true },
} as const;

/** Parses one `--host-interface NAME=IP/PREFIX[,mac=MAC][,mtu=N]` value. */
export function parseHostInterfaceFlag(text: string): Result<HostInterfaceSpec, HostInterfaceFlagError> {
  const flag = '--host-interface';
  const eq = text.indexOf('=');
  if (eq <= 0) return bad(flag, `expected NAME=IP/PREFIX[,mac=MAC][,mtu=N], got ${JSON.stringify(text)}`);
  const name = text.slice(0, eq);
  const n = validateInterfaceName(name);
  if (n.isErr()) return bad(flag, n.error.message);
  const [address, ...extras] = text.slice(eq + 1).split(',');
  if (address === undefined || address === '') return bad(flag, `missing IP/PREFIX after ${name}=`);
  let spec: HostInterfaceSpec = { name, address };
  for (const x of extras) {
    const m = /^(mac|mtu)=(.+)$/.exec(x);
    if (m === null) return bad(flag, `unknown setting ${JSON.stringify(x)} (expected mac=MAC or mtu=N)`);
    if (m[1] === 'mac') spec = { ...spec, mac: m[2]! };
    else {
      if (!/^\d+$/.test(m[2]!)) return bad(flag, `mtu is not a number: ${m[2]}`);
      spec = { ...spec, mtu: Number(m[2]) };
    }
  }
  return ok(spec);
}

/**
 * Combines the values of both flags into the one spec to attach, or `undefined` when neither was
 * given. `--host-route` without `--host-interface`, or `--host-interface` twice, is refused.
 */
export function hostInterfaceFromFlags(
  interfaces: readonly string[] | undefined,
  routes: readonly string[] | undefined,
): Result<HostInterfaceSpec | undefined, HostInterfaceFlagError> {
  const ifs = interfaces ?? [];
  const rs = routes ?? [];
  if (ifs.length > 1) return bad('--host-interface', 'give it at most once (a network has one host interface)');
  for (const r of rs) {
    const p = parseHostRoute(r);
    if (p.isErr()) return bad('--host-route', p.error.message);
  }
  if (ifs.length === 0) return rs.length > 0 ? bad('--host-route', 'needs --host-interface NAME=IP/PREFIX') : ok(undefined);
  const spec = parseHostInterfaceFlag(ifs[0]!);
  if (spec.isErr()) return err(spec.error);
  return ok(rs.length > 0 ? { ...spec.value, routes: rs } : spec.value);
}
