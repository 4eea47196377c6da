/**
 * Boots one VM whose only NIC is on a vnetkit network, with the hypervisor the host has: QEMU on
 * Linux (`-netdev stream` on a `listenQemu` socket), HyperKit on macOS (`virtio-vpnkit` on a
 * `listenHyperkit` socket, linuxkit-style state directory). Used by `linuxkit-run.ts`.
 *
 * Images follow linuxkit's naming: a prefix P means `P-kernel`, `P-initrd.img` and the kernel
 * command line in `P-cmdline`; HyperKit keeps its state in `P-state`. Without a prefix, Linux
 * boots vnetkit's own test guest (`adapters/qemu/guest/build-guest.sh`).
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareHyperkitState, linuxkitHyperkitOptions, startHyperkit } from '../adapters/hyperkit/index.js';
import { startQemu, vmlabAppend } from '../adapters/qemu/index.js';
import type { LeaseEvent, VirtualNetwork } from '../src/index.js';

/** What to boot. */
export interface VmLaunchOptions {
  /** linuxkit image prefix; optional on Linux (the test guest), required on macOS. */
  prefix?: string;
  /** A fixed address: HyperKit asks for it (`preferred_ipv4=`), QEMU's MAC gets a reservation. */
  ip?: string;
  /** The QEMU NIC's MAC (the DHCP client key, so the same MAC keeps its address). */
  mac: string;
  /** Where the NIC sockets go (a short directory: Unix socket paths hold at most 107 bytes). */
  socketDir: string;
  /** Copy the guest's serial console to stderr. */
  console: boolean;
}

/** A running VM, whichever hypervisor runs it. */
export interface LaunchedVm {
  /** `qemu pid 123 (tcg: ...)` or `hyperkit pid 123 (uuid ...)`. */
  readonly description: string;
  /** Whether a lease event belongs to this VM (by MAC for QEMU, by vmnet UUID for HyperKit). */
  owns(lease: LeaseEvent): boolean;
  /** Resolves when the hypervisor has exited. */
  readonly exited: Promise<unknown>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<unknown>;
}

const TEST_GUEST_DIR = fileURLToPath(new URL('../adapters/qemu/guest/out/', import.meta.url));

/** Starts the VM on `net` (which must not be listening yet on `socketDir`); throws with a one-line reason. */
export async function launchVm(net: VirtualNetwork, o: VmLaunchOptions): Promise<LaunchedVm> {
  if (process.platform === 'darwin') return launchHyperkit(net, o);
  if (process.platform === 'linux') return launchQemu(net, o);
  throw new Error(`no VM launcher for ${process.platform}: QEMU is used on Linux, HyperKit on macOS`);
}

function readImage(prefix: string): { kernel: string; initrd: string; cmdline: string } {
  const kernel = `${prefix}-kernel`;
  const initrd = `${prefix}-initrd.img`;
  for (const f of [kernel, initrd]) if (!existsSync(f)) throw new Error(`${f} not found (linuxkit build -format kernel+initrd makes it)`);
  const cmdlineFile = `${prefix}-cmdline`;
  const cmdline = existsSync(cmdlineFile) ? readFileSync(cmdlineFile, 'utf8').trim() : '';
  return { kernel, initrd, cmdline };
}

async function launchQemu(net: VirtualNetwork, o: VmLaunchOptions): Promise<LaunchedVm> {
  let image: { kernel: string; initrd: string; cmdline: string };
  if (o.prefix !== undefined) image = readImage(o.prefix);
  else {
    const kernel = ['vmlinux', 'vmlinuz'].map((f) => join(TEST_GUEST_DIR, f)).find((p) => existsSync(p));
    const initrd = join(TEST_GUEST_DIR, 'initramfs.cpio.gz');
    if (kernel === undefined || !existsSync(initrd)) throw new Error(`no test guest in ${TEST_GUEST_DIR}: run adapters/qemu/guest/build-guest.sh, or give --prefix`);
    // The test guest fetches from the host at boot unless told not to; this example only serves.
    image = { kernel, initrd, cmdline: vmlabAppend({ wget: false }) };
  }
  if (o.ip !== undefined) {
    const r = net.reserve({ mac: o.mac, ip: o.ip });
    if (r.isErr()) throw new Error(`--ip ${o.ip}: ${r.error.message}`);
  }
  // Listen first: QEMU 7.2 connects once, at start, and never retries.
  const socketPath = join(o.socketDir, 'qemu.sock');
  const listening = await net.listenQemu(socketPath);
  if (listening.isErr()) throw new Error(listening.error.message);
  const started = await startQemu({ kernel: image.kernel, initrd: image.initrd, append: image.cmdline, nics: [{ socketPath, mac: o.mac }] });
  if (started.isErr()) throw new Error(started.error.message);
  const vm = started.value;
  if (o.console) vm.events.on('line', (line) => process.stderr.write(`console: ${line}\n`));
  const mac = o.mac.toLowerCase();
  return {
    description: `qemu pid ${vm.pid} (${vm.accel.accel}: ${vm.accel.reason}), mac ${mac}, netdev stream on ${socketPath}`,
    owns: (l) => l.mac.toLowerCase() === mac,
    exited: vm.exited,
    stop: () => vm.stop({ graceMs: 5000 }),
  };
}

async function launchHyperkit(net: VirtualNetwork, o: VmLaunchOptions): Promise<LaunchedVm> {
  if (o.prefix === undefined) throw new Error('on macOS give --prefix P (a linuxkit kernel+initrd image: P-kernel, P-initrd.img, P-cmdline)');
  const image = readImage(o.prefix);
  // <prefix>-state keeps vpnkit.uuid, so the VM gets the same MAC and IP next time (linuxkit's layout).
  const state = await prepareHyperkitState({ prefix: o.prefix });
  if (state.isErr()) throw new Error(state.error.message);
  const socketPath = join(o.socketDir, 'vpnkit_eth.sock');
  const listening = await net.listenHyperkit(socketPath);
  if (listening.isErr()) throw new Error(listening.error.message);
  const options = linuxkitHyperkitOptions({
    prefix: o.prefix,
    stateDir: state.value.dir,
    cmdline: image.cmdline,
    networking: { mode: 'vpnkit', ethernetSocket: socketPath },
    vpnkitUuid: state.value.vpnkitUuid,
    smbiosUuid: state.value.smbiosUuid,
    ...(o.ip !== undefined ? { ip: o.ip } : {}),
  });
  if (options.isErr()) throw new Error(options.error.message);
  const started = await startHyperkit(options.value);
  if (started.isErr()) throw new Error(started.error.message);
  const vm = started.value;
  if (o.console) vm.console?.pipe(process.stderr);
  else vm.console?.resume(); // nobody reads it; hyperkit also logs to <state>/console-ring
  const created = await vm.started;
  if (created.isErr()) throw new Error(created.error.message);
  const uuid = state.value.vpnkitUuid;
  return {
    description: `hyperkit pid ${vm.pid}, vpnkit uuid ${uuid}, state ${state.value.dir}`,
    owns: (l) => l.uuid === uuid,
    exited: vm.exited,
    stop: () => vm.stop({ graceMs: 5000 }),
  };
}
