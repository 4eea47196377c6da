/**
 * hyperkit's command line from typed options: a pure function, no file system, no process.
 * Launching is `launch.ts`'s job (the `ToCmdline` vs `Cmd` split of gvisor-tap-vsock).
 *
 * The argument order is the one of the moby/hyperkit Go wrapper's `buildArgs`, which linuxkit
 * uses (protocols.md §5.2, example in §5.3), so an argv built here can be compared token by
 * token with what `linuxkit run hyperkit` runs.
 * @module
 */
import { posix } from 'node:path';
import type { Result } from 'neverthrow';
import {
  validateHyperkitOptions,
  type HyperkitOptions,
  type HyperkitOptionsError,
  type ResolvedHyperkitOptions,
} from './options.js';

/** File names hyperkit and the wrapper use inside the state directory (§5.2, §5.3). */
export const HYPERKIT_STATE_FILES = {
  pidFile: 'hyperkit.pid',
  consoleRing: 'console-ring',
  tty: 'tty',
} as const;

/** Path of the pidfile hyperkit writes with `-F`, or null without a state directory. */
export function hyperkitPidFile(stateDir: string | null): string | null {
  return stateDir === null ? null : posix.join(stateDir, HYPERKIT_STATE_FILES.pidFile);
}

/**
 * Builds hyperkit's arguments (without the program name) from {@link HyperkitOptions}.
 * Returns the first validation problem as an error instead.
 */
export function buildHyperkitArgv(options: HyperkitOptions): Result<string[], HyperkitOptionsError> {
  return validateHyperkitOptions(options).map(hyperkitArgvFromResolved);
}

/** The argv of already validated options; total, never fails. */
export function hyperkitArgvFromResolved(o: ResolvedHyperkitOptions): string[] {
  // -A: ACPI tables; -u: the RTC keeps UTC (Linux guests expect it), §5.1.
  const a: string[] = ['-A', '-u'];
  const pidFile = hyperkitPidFile(o.stateDir);
  if (pidFile !== null) a.push('-F', pidFile);
  a.push('-c', String(o.cpus), '-m', `${o.memoryMiB}M`);
  // Slot 0 is the host bridge and slot 31 the LPC bridge that carries COM1 (§5.2).
  a.push('-s', '0:0,hostbridge', '-s', '31,lpc');

  let slot = 1;
  if (o.vpnkit) {
    let dev = `${slot}:0,virtio-vpnkit,path=${o.vpnkit.socketPath}`;
    if (o.vpnkit.uuid !== undefined) dev += `,uuid=${o.vpnkit.uuid}`;
    if (o.vpnkit.preferredIpv4 !== undefined) dev += `,preferred_ipv4=${o.vpnkit.preferredIpv4}`;
    a.push('-s', dev);
    slot++;
  }
  if (o.vmnet) a.push('-s', `${slot++}:0,virtio-net`);
  // -U takes no slot; the wrapper places it between the NICs and the disks (§5.2).
  if (o.smbiosUuid !== null) a.push('-U', o.smbiosUuid);
  for (const d of o.disks) {
    let dev = `${slot++}:0,${d.driver ?? 'virtio-blk'},${d.path}`;
    if (d.format !== undefined) dev += `,format=${d.format}`;
    a.push('-s', dev);
  }
  // From here on the wrapper writes bare slot numbers (`n,` not `n:0,`); kept for a token-exact match.
  if (o.vsock) {
    let dev = `${slot++},virtio-sock,guest_cid=${o.vsock.guestCid},path=${o.stateDir}`;
    // hyperkit wants the list `;`-separated: `,` would end the option (§5.3).
    if (o.vsock.ports.length > 0) dev += `,guest_forwards=${o.vsock.ports.join(';')}`;
    a.push('-s', dev);
  }
  for (const iso of o.isos) a.push('-s', `${slot++},ahci-cd,${iso}`);
  if (o.rng) a.push('-s', `${slot++},virtio-rnd`);
  for (const s of o.shares9p) a.push('-s', `${slot++},virtio-9p,path=${s.path},tag=${s.tag}`);

  a.push('-l', consoleArg(o));

  if (o.boot.kind === 'kexec') {
    // hyperkit splits `-f` at the first three commas only, so the command line may hold commas.
    a.push('-f', `kexec,${o.boot.kernel},${o.boot.initrd},earlyprintk=serial ${o.boot.cmdline}`.trimEnd());
  } else {
    // Empty initrd and cmdline fields: the form the wrapper writes for firmware boot (§5.2).
    a.push('-f', `bootrom,${o.boot.firmware},,`);
  }
  return a;
}

function consoleArg(o: ResolvedHyperkitOptions): string {
  if (o.stateDir === null) return 'com1,stdio'; // validation guarantees console === 'stdio' here
  const log = `log=${posix.join(o.stateDir, HYPERKIT_STATE_FILES.consoleRing)}`;
  if (o.console === 'stdio') return `com1,stdio,${log}`;
  return `com1,autopty=${posix.join(o.stateDir, HYPERKIT_STATE_FILES.tty)},${log}`;
}
