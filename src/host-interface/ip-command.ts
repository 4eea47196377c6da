/**
 * The host side of a host interface is configured with iproute2's `ip`, run without a shell.
 *
 * Why `ip` and not netlink from the addon: the native addon deliberately stays small (it does
 * what Node cannot: poll TAP and vsock descriptors), and the four RTNETLINK requests needed here
 * (link set, addr add, route add, route get) would be several hundred lines of C message
 * building for a path that runs once per attach, never per packet. `ip` is on every Linux box
 * that can run this, its errors are the ones administrators already know, and running it
 * asynchronously keeps every other NIC's traffic flowing while the host is configured.
 *
 * The argv builders are pure (tested as data); {@link IpRunner} is the one effect, injectable.
 * @module
 */
import { execFile } from 'node:child_process';
import { formatCidr, formatIpv4, formatMac } from '../wire/address.js';
import { hostInterfaceError, type HostInterfaceError } from './host-interface-errors.js';
import type { HostRoute } from './spec.js';

/** What one `ip` run gave back. */
export interface IpOutcome {
  /** Exit code; `undefined` when the process could not start or was killed. */
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** Why it could not run (e.g. `ENOENT`: not installed), when it could not. */
  readonly spawnError?: string;
}

/** Runs `ip ARGS…` and reports how it went; never rejects. */
export type IpRunner = (args: readonly string[]) => Promise<IpOutcome>;

/** A hung `ip` (it never should) must not hang an attach forever. */
const IP_TIMEOUT_MS = 15_000;

/** The real runner: `ip` from PATH, C locale so messages read the same everywhere. */
export const systemIpRunner: IpRunner = (args) =>
  new Promise((resolve) => {
    execFile('ip', [...args], { encoding: 'utf8', timeout: IP_TIMEOUT_MS, env: { ...process.env, LC_ALL: 'C' } }, (e, stdout, stderr) => {
      if (e === null) return resolve({ exitCode: 0, stdout, stderr });
      const code = (e as NodeJS.ErrnoException).code;
      // A string code is a spawn failure (ENOENT…); a number is the exit status.
      if (typeof code === 'string') return resolve({ exitCode: undefined, stdout, stderr, spawnError: code });
      resolve({ exitCode: typeof code === 'number' ? code : undefined, stdout, stderr: stderr || e.message });
    });
  });

/** The `ip` argument lists, one builder per step (pure). */
export const ipArgs = {
  /** Exit 0 when the device exists. */
  show: (name: string): string[] => ['link', 'show', 'dev', name],
  /** MAC and MTU, while the link is still down. */
  setMacMtu: (name: string, mac: number, mtu: number): string[] => ['link', 'set', 'dev', name, 'address', formatMac(mac), 'mtu', String(mtu)],
  /** The address with its broadcast (`brd +`: older iproute2 leaves it 0.0.0.0 otherwise). */
  addAddress: (name: string, ip: number, prefix: number): string[] => ['addr', 'add', `${formatIpv4(ip)}/${prefix}`, 'brd', '+', 'dev', name],
  up: (name: string): string[] => ['link', 'set', 'dev', name, 'up'],
  addRoute: (name: string, r: HostRoute): string[] => ['route', 'add', formatCidr(r.destination), 'via', formatIpv4(r.via), 'dev', name],
  /** Which device the host would use for `ip`. */
  routeGet: (ip: number): string[] => ['route', 'get', formatIpv4(ip)],
  deleteLink: (name: string): string[] => ['link', 'delete', 'dev', name],
} as const;

/** The device `ip route get` names (`… dev NAME …`), if any. */
export function routeDevice(stdout: string): string | undefined {
  return /\bdev (\S+)/.exec(stdout)?.[1];
}

/** Whether `ip link show` said the device does not exist (as opposed to failing otherwise). */
export function saysNoSuchDevice(o: IpOutcome): boolean {
  return /does not exist|Cannot find device|No such device/i.test(o.stderr);
}

/** The step an `ip` run belonged to, for error messages and classification. */
export type IpStep = 'show' | 'link' | 'address' | 'up' | 'route' | 'route-get' | 'delete';

/** Turns a failed `ip` run into the error a user can act on. */
export function ipFailure(step: IpStep, args: readonly string[], o: IpOutcome, interfaceName: string): HostInterfaceError {
  const cmd = `ip ${args.join(' ')}`;
  const why = o.stderr.trim().replace(/\s+/g, ' ');
  const extra = { interfaceName };
  if (o.spawnError === 'ENOENT') return hostInterfaceError('ip-unavailable', '`ip` (iproute2) is not installed or not on PATH', extra);
  if (o.spawnError !== undefined) return hostInterfaceError('config-failed', `${cmd}: could not run: ${o.spawnError}`, extra);
  if (/Operation not permitted|Permission denied/i.test(why))
    return hostInterfaceError('not-permitted', `${cmd}: ${why} (configuring an interface needs root or CAP_NET_ADMIN)`, extra);
  if (step === 'route' && /File exists/i.test(why))
    return hostInterfaceError('bad-route', `${cmd}: the host already has a route to ${args[2]} (RTNETLINK: File exists)`, extra);
  if (step === 'route' && /invalid gateway|unreachable|Invalid prefix/i.test(why)) return hostInterfaceError('bad-route', `${cmd}: ${why}`, extra);
  if (step === 'address' && /already assigned|File exists/i.test(why))
    return hostInterfaceError('address-in-use', `${cmd}: the host already has this address (${why})`, extra);
  return hostInterfaceError('config-failed', `${cmd} failed${o.exitCode !== undefined ? ` (exit ${o.exitCode})` : ''}: ${why || 'no message'}`, extra);
}
