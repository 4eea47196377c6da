/**
 * `qemu-system-x86_64`'s command line from typed options: a pure function. Launching is
 * `launch.ts`'s job (the `ToCmdline` vs `Cmd` split of gvisor-tap-vsock).
 *
 * The layout is the one the vmlab kit measured and checked against QEMU 7.2
 * (/work/shared/vmlab/boot-guest.sh): accelerator, machine, the "nothing but a serial console"
 * flags, direct kernel boot, then one `-netdev stream` + `virtio-net-pci` pair per NIC.
 * @module
 */
import type { Result } from 'neverthrow';
import { validateQemuOptions, type QemuOptions, type QemuOptionsError, type ResolvedQemuOptions } from './options.js';

/** The QEMU binary the adapter runs by default. */
export const QEMU_BINARY = 'qemu-system-x86_64';

/** Builds QEMU's arguments (without the program name), or returns the first validation problem. */
export function buildQemuArgv(options: QemuOptions): Result<string[], QemuOptionsError> {
  return validateQemuOptions(options).map(qemuArgvFromResolved);
}

/** The netdev id of NIC `i` (`n0` is the guest's first NIC). */
export function qemuNetdevId(i: number): string {
  return `n${i}`;
}

/** The argv of already validated options; total, never fails. */
export function qemuArgvFromResolved(o: ResolvedQemuOptions): string[] {
  const a: string[] = [];
  a.push('-accel', o.accel === 'kvm' ? 'kvm' : `tcg,tb-size=${o.tbSizeMiB}`);
  if (o.cpuModel !== null) a.push('-cpu', o.cpuModel);
  a.push('-machine', 'pc', '-m', `${o.memoryMiB}M`, '-smp', String(o.cpus));
  // -nodefaults: no VGA, NIC, floppy or CD-ROM; -no-user-config: no site config changes the VM;
  // -nographic -serial stdio: COM1 is the process's stdio and the only console;
  // -no-reboot: a guest reboot or panic (panic=-1) ends QEMU instead of looping.
  a.push('-nodefaults', '-no-user-config', '-nographic', '-serial', 'stdio', '-no-reboot');
  a.push('-kernel', o.kernel);
  if (o.initrd !== null) a.push('-initrd', o.initrd);
  a.push('-append', o.cmdline);
  for (const [i, nic] of o.nics.entries()) {
    const id = qemuNetdevId(i);
    // Frames cross the socket with a 4-byte big-endian length prefix (protocols.md §6).
    a.push('-netdev', `stream,id=${id},server=${nic.server ? 'on' : 'off'},addr.type=unix,addr.path=${nic.socketPath}`);
    // romfile= (empty): no iPXE option ROM; direct kernel boot never needs it.
    a.push('-device', `virtio-net-pci,netdev=${id},mac=${nic.mac},romfile=`);
  }
  a.push(...o.extraArgs);
  return a;
}
