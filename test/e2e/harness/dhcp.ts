/**
 * DHCP for namespace guests: runs busybox `udhcpc` on the guest's TAP with our event script
 * (`udhcpc.script`), which configures address, route, MTU and the guest's own resolv.conf, and
 * parses the lease the script reports.
 * @module
 */
import { chmodSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from './find-executable.js';
import { HarnessError, formatCommand } from './harness-error.js';
import type { Guest } from './netns.js';
import { etcNetnsDir } from './registry.js';

/** The udhcpc event script shipped next to this file. */
export const UDHCPC_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'udhcpc.script');

/** What a DHCP server handed out, as udhcpc reported it. */
export interface DhcpLease {
  readonly ip: string;
  readonly prefix: number;
  readonly router: string | undefined;
  readonly dns: string[];
  readonly domain: string | undefined;
  readonly search: string[];
  /** Option 26, if the server sent one. */
  readonly mtu: number | undefined;
  /** Lease time in seconds, if sent. */
  readonly leaseSeconds: number | undefined;
  /** Option 54, the server identifier. */
  readonly serverId: string | undefined;
}

/** Options for {@link runDhcp}. */
export interface DhcpOptions {
  /** DISCOVERs to send, 1 s apart, before giving up (default 5). */
  readonly tries?: number;
  /** Apply the offered MTU (default true). */
  readonly applyMtu?: boolean;
  /** Send option 12 (hostname). */
  readonly hostname?: string;
  /** Kill udhcpc after this long (default: tries × 2 s + 10 s). */
  readonly timeoutMs?: number;
}

/**
 * Parses the `VNK lease ...` line our udhcpc script prints, from a whole output text.
 * Returns undefined when there is none (no lease was bound).
 */
export function parseLease(output: string): DhcpLease | undefined {
  const line = output.split('\n').reverse().find((l) => l.startsWith('VNK lease '));
  if (!line) return undefined;
  const kv = new Map<string, string>();
  for (const m of line.matchAll(/(\w+)=(\S*)/g)) kv.set(m[1]!, m[2]!);
  const opt = (k: string): string | undefined => {
    const v = kv.get(k);
    return v === undefined || v === 'none' || v === '' ? undefined : v;
  };
  const list = (k: string): string[] => opt(k)?.split(',').filter(Boolean) ?? [];
  const num = (k: string): number | undefined => {
    const v = opt(k);
    return v === undefined ? undefined : Number(v);
  };
  const ip = opt('ip');
  const prefix = num('prefix');
  if (ip === undefined || prefix === undefined || Number.isNaN(prefix)) return undefined;
  return {
    ip,
    prefix,
    router: opt('router'),
    dns: list('dns'),
    domain: opt('domain'),
    search: list('search'),
    mtu: num('mtu'),
    leaseSeconds: num('lease'),
    serverId: opt('server'),
  };
}

/**
 * Runs `busybox udhcpc -i TAP -f -q -n -t N -T 1 -s udhcpc.script` inside `guest` and returns
 * the lease. Throws a {@link HarnessError} with udhcpc's output when no lease is obtained.
 */
export async function runDhcp(guest: Guest, opts: DhcpOptions = {}): Promise<DhcpLease> {
  if (!findExecutable('busybox')) throw new HarnessError('runDhcp needs busybox (apt-get install busybox-static)');
  // git keeps the mode, but a copied tree may not: udhcpc execs the script directly.
  if ((statSync(UDHCPC_SCRIPT).mode & 0o111) === 0) chmodSync(UDHCPC_SCRIPT, 0o755);
  const tries = opts.tries ?? 5;
  const cmd = ['busybox', 'udhcpc', '-i', guest.tap, '-f', '-q', '-n', '-t', String(tries), '-T', '1'];
  cmd.push('-s', UDHCPC_SCRIPT, '-O', 'mtu', '-O', 'search');
  if (opts.hostname) cmd.push('-x', `hostname:${opts.hostname}`);
  const r = await guest.exec(cmd, {
    reject: false,
    timeoutMs: opts.timeoutMs ?? tries * 2_000 + 10_000,
    env: {
      VNK_RESOLV_CONF: join(etcNetnsDir(guest.name), 'resolv.conf'),
      VNK_MTU: opts.applyMtu === false ? 'none' : 'dhcp',
    },
  });
  const lease = r.exitCode === 0 ? parseLease(r.stdout) : undefined;
  if (!lease) {
    throw new HarnessError(r.timedOut ? 'udhcpc timed out' : 'udhcpc obtained no lease', {
      namespace: guest.name,
      command: formatCommand(['ip', 'netns', 'exec', guest.name, ...cmd]),
      exitCode: r.exitCode,
      signal: r.signal,
      stderr: r.stderr,
      stdout: r.stdout,
    });
  }
  return lease;
}
