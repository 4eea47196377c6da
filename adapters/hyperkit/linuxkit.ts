/**
 * The options `linuxkit run hyperkit` derives from its flags (protocols.md §5.3), as a pure
 * mapping onto {@link HyperkitOptions}: kernel and initrd named after the image prefix,
 * virtio-sock always on in the state directory, and in `vpnkit` networking mode the 9P `port`
 * share plus vsock port 62373 for the port-forwarding control plane.
 *
 * File reads (`<prefix>-cmdline`) and UUID persistence (`state.ts`) stay with the caller, so the
 * result depends only on the input.
 * @module
 */
import { posix } from 'node:path';
import { err, ok, type Result } from 'neverthrow';
import { vnetError } from '../../src/errors.js';
import type { HyperkitConsole, HyperkitDisk, HyperkitOptions, HyperkitOptionsError } from './options.js';

/** vsock port that carries host→guest forwarded connections in vpnkit mode (§5.3). */
export const VPNKIT_FORWARD_VSOCK_PORT = 62373;

/** Socket names linuxkit creates in the state directory for `-networking vpnkit` (§5.3). */
export const LINUXKIT_VPNKIT_SOCKETS = {
  ethernet: 'vpnkit_eth.sock',
  port: 'vpnkit_port.sock',
} as const;

/**
 * `-networking` modes. `vpnkit` without sockets uses `<state>/vpnkit_eth.sock` and
 * `<state>/vpnkit_port.sock` (the ones linuxkit would serve); with `ethernetSocket` alone there
 * is no port socket, hence no 9P share. `docker-for-mac` is not modelled: it probes the
 * Docker Desktop data directory, which is file-system state, not a flag.
 */
export type LinuxkitNetworking =
  | { mode: 'vpnkit'; ethernetSocket?: string; portSocket?: string }
  | { mode: 'vmnet' }
  | { mode: 'none' };

/** The subset of `linuxkit run hyperkit` flags that shape hyperkit's argv. */
export interface LinuxkitRunInput {
  /** Image prefix P: boots `P-kernel` and `P-initrd.img`. */
  prefix: string;
  /** `-state`, usually `<prefix>-state` (see `resolveStateDir`). */
  stateDir: string;
  /** Contents of `P-cmdline`. */
  cmdline: string;
  networking: LinuxkitNetworking;
  /** UUID on the VPNKit NIC, from `<state>/vpnkit.uuid` or `-vpnkit-uuid`. */
  vpnkitUuid?: string;
  /** Fresh per run (`-U`). */
  smbiosUuid?: string;
  /** `-ip`: becomes `preferred_ipv4=` (vpnkit mode only). */
  ip?: string;
  /** `-vsock-ports`. */
  vsockPorts?: readonly number[];
  /** `-cpus`, `-mem` (MiB). */
  cpus?: number;
  memoryMiB?: number;
  disks?: readonly HyperkitDisk[];
  isos?: readonly string[];
  console?: HyperkitConsole;
}

/** Maps linuxkit's flags to {@link HyperkitOptions}; feed the result to `buildHyperkitArgv`. */
export function linuxkitHyperkitOptions(input: LinuxkitRunInput): Result<HyperkitOptions, HyperkitOptionsError> {
  const { networking: net, stateDir } = input;
  if (input.ip !== undefined && net.mode !== 'vpnkit') {
    return err(
      vnetError('invalid-vm-options', `hyperkit option ip: a preferred IP needs vpnkit networking, not "${net.mode}"`, {
        field: 'ip',
        problem: 'bad-value' as const,
      }),
    );
  }
  const options: HyperkitOptions = {
    stateDir,
    kernel: `${input.prefix}-kernel`,
    initrd: `${input.prefix}-initrd.img`,
    cmdline: input.cmdline,
    vsock: { ports: [...(input.vsockPorts ?? [])] },
  };
  if (input.cpus !== undefined) options.cpus = input.cpus;
  if (input.memoryMiB !== undefined) options.memoryMiB = input.memoryMiB;
  if (input.smbiosUuid !== undefined) options.smbiosUuid = input.smbiosUuid;
  if (input.disks) options.disks = input.disks;
  if (input.isos) options.isos = input.isos;
  if (input.console) options.console = input.console;

  if (net.mode === 'vmnet') options.vmnet = true;
  if (net.mode === 'vpnkit') {
    const explicit = net.ethernetSocket !== undefined;
    const eth = net.ethernetSocket ?? posix.join(stateDir, LINUXKIT_VPNKIT_SOCKETS.ethernet);
    const port = net.portSocket ?? (explicit ? undefined : posix.join(stateDir, LINUXKIT_VPNKIT_SOCKETS.port));
    options.vpnkit = { socketPath: eth };
    if (input.vpnkitUuid !== undefined) options.vpnkit.uuid = input.vpnkitUuid;
    if (input.ip !== undefined) options.vpnkit.preferredIpv4 = input.ip;
    if (port !== undefined) {
      // The guest mounts the `port` 9P tag to ask for forwards and accepts them on vsock 62373.
      options.shares9p = [{ path: port, tag: 'port' }];
      options.vsock = { ports: [...(input.vsockPorts ?? []), VPNKIT_FORWARD_VSOCK_PORT] };
    }
  }
  return ok(options);
}
