/**
 * Typed options for a QEMU test VM (`qemu-system-x86_64`, direct kernel boot, serial console on
 * stdio, NICs on Unix stream sockets) and their validation.
 *
 * The defaults are the ones measured in the vmlab kit (/work/shared/vmlab/README.md): 128 MiB,
 * 1 vCPU, TCG with a 32 MiB translation cache. {@link validateQemuOptions} returns
 * {@link ResolvedQemuOptions} or one {@link QemuOptionsError} naming the field, because most
 * bad values make QEMU fail late or, worse, boot a guest that silently never comes up.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../src/errors.js';

/** A hardware accelerator QEMU can use. */
export type Accel = 'kvm' | 'tcg';

/** One guest NIC: a virtio-net-pci device on a `-netdev stream` Unix socket (protocols.md §6). */
export interface QemuNic {
  /** The Unix socket carrying frames with a 4-byte big-endian length prefix (§6). */
  socketPath: string;
  /**
   * `server=on`: QEMU listens on `socketPath` and the peer connects later. Default false:
   * QEMU connects, so the peer must already listen — QEMU 7.2 connects once and never retries
   * (vmlab README, pitfall 1).
   */
  server?: boolean;
  /** Guest MAC, `52:54:00:xx:xx:xx` style; must be unicast. */
  mac: string;
}

/** Everything needed to build a QEMU command line. */
export interface QemuOptions {
  /** Kernel image: an ELF vmlinux with a PVH note (fast under TCG) or a bzImage. */
  kernel: string;
  initrd?: string;
  /** Extra kernel command line, after `console=ttyS0 panic=-1 [quiet]`. */
  append?: string;
  /** Pass `quiet` to the kernel. Default true. */
  quiet?: boolean;
  /** Guest RAM in MiB, integer ≥ 96. Default 128. */
  memoryMiB?: number;
  /** vCPUs, integer ≥ 1. Default 1. */
  cpus?: number;
  /** NICs in order; the first is `n0` (the guest's eth0). */
  nics?: readonly QemuNic[];
  /** Default `tcg`; the launcher can pick one with `detectAccel()`. */
  accel?: Accel;
  /** TCG translation cache in MiB. Default 32. */
  tbSizeMiB?: number;
  /** `-cpu` model; QEMU's default when absent. */
  cpuModel?: string;
  /** Appended verbatim, for options this type does not model. */
  extraArgs?: readonly string[];
}

/** {@link QemuOptions} after defaults and validation. */
export interface ResolvedQemuOptions {
  kernel: string;
  initrd: string | null;
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  nics: readonly Required<QemuNic>[];
  accel: Accel;
  tbSizeMiB: number;
  cpuModel: string | null;
  extraArgs: readonly string[];
}

/** Defaults (vmlab README "Timings" and `boot-guest.sh`). */
export const QEMU_DEFAULTS = {
  memoryMiB: 128,
  cpus: 1,
  accel: 'tcg' as Accel,
  /** 32 MiB boots as fast as QEMU's default and keeps QEMU's RSS ~25 MiB lower than 64. */
  tbSizeMiB: 32,
  /** The serial port is the console; `panic=-1` + `-no-reboot` turn a guest panic into a QEMU exit. */
  baseCmdline: 'console=ttyS0 panic=-1',
} as const;

/**
 * The Debian test kernel reaches 74 MiB of physical memory (image plus bss), so 64M does not
 * boot at all — the PVH boot hangs silently and the bzImage boot resets, with no console output
 * either way (vmlab README, "Memory" and pitfall 6). 88M and 96M were seen to work; 96 keeps a
 * margin for the initramfs.
 */
export const QEMU_MIN_MEMORY_MIB = 96;

/** `sun_path` is 108 bytes including the terminating NUL (vmlab README, pitfall 10). */
export const UNIX_SOCKET_PATH_MAX_BYTES = 107;

/** What exactly is wrong. */
export type QemuOptionProblem =
  | 'empty'
  | 'not-an-integer'
  | 'out-of-range'
  | 'forbidden-character'
  | 'path-too-long'
  | 'bad-mac'
  | 'multicast-mac'
  | 'duplicate'
  | 'bad-value';

/** A rejected option: `field` is the option path (`nics[0].mac`). */
export type QemuOptionsError = VnetError<'invalid-vm-options'> & {
  readonly field: string;
  readonly problem: QemuOptionProblem;
};

function invalid(field: string, problem: QemuOptionProblem, message: string): QemuOptionsError {
  return vnetError('invalid-vm-options', `qemu option ${field}: ${message}`, { field, problem });
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function checkInt(field: string, v: number, min: number, max: number): QemuOptionsError | null {
  if (!Number.isInteger(v)) return invalid(field, 'not-an-integer', `${v} is not an integer`);
  if (v < min || v > max) return invalid(field, 'out-of-range', `${v} is outside ${min}..${max}`);
  return null;
}

function checkSocketPath(field: string, p: string): QemuOptionsError | null {
  if (p.length === 0) return invalid(field, 'empty', 'must not be empty');
  // QEMU's option parser splits on `,` (it would need `,,`); the path goes unescaped into
  // `addr.path=`, so a comma would cut it (vmlab README, pitfall 10).
  if (p.includes(',')) return invalid(field, 'forbidden-character', `"${p}" contains ",", which QEMU's option parser would split`);
  const bytes = Buffer.byteLength(p, 'utf8');
  if (bytes > UNIX_SOCKET_PATH_MAX_BYTES) {
    return invalid(field, 'path-too-long', `${bytes} bytes; Unix socket paths hold at most ${UNIX_SOCKET_PATH_MAX_BYTES} (use a shorter temp dir)`);
  }
  return null;
}

function checkMac(field: string, mac: string): QemuOptionsError | null {
  if (!MAC_RE.test(mac)) return invalid(field, 'bad-mac', `"${mac}" is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  // Bit 0 of the first octet marks a group address (IEEE 802); a NIC cannot own one.
  if (Number.parseInt(mac.slice(0, 2), 16) & 1) return invalid(field, 'multicast-mac', `"${mac}" is a multicast address, a NIC needs a unicast one`);
  return null;
}

/** Applies defaults and checks every option; the first problem found is returned. */
export function validateQemuOptions(o: QemuOptions): Result<ResolvedQemuOptions, QemuOptionsError> {
  const problem = findProblem(o);
  if (problem) return err(problem);
  const quiet = o.quiet ?? true;
  const cmdline = [QEMU_DEFAULTS.baseCmdline, quiet ? 'quiet' : '', o.append?.trim() ?? ''].filter((s) => s !== '').join(' ');
  return ok({
    kernel: o.kernel,
    initrd: o.initrd ?? null,
    cmdline,
    memoryMiB: o.memoryMiB ?? QEMU_DEFAULTS.memoryMiB,
    cpus: o.cpus ?? QEMU_DEFAULTS.cpus,
    nics: (o.nics ?? []).map((n) => ({ socketPath: n.socketPath, server: n.server ?? false, mac: n.mac.toLowerCase() })),
    accel: o.accel ?? QEMU_DEFAULTS.accel,
    tbSizeMiB: o.tbSizeMiB ?? QEMU_DEFAULTS.tbSizeMiB,
    cpuModel: o.cpuModel ?? null,
    extraArgs: [...(o.extraArgs ?? [])],
  });
}

function findProblem(o: QemuOptions): QemuOptionsError | null {
  if (typeof o.kernel !== 'string' || o.kernel.length === 0) return invalid('kernel', 'empty', 'a kernel image is required');
  if (o.initrd !== undefined && o.initrd.length === 0) return invalid('initrd', 'empty', 'must not be empty when given');
  if (o.append !== undefined && /[\r\n]/.test(o.append)) {
    return invalid('append', 'forbidden-character', 'the kernel command line must be a single line');
  }
  if (o.memoryMiB !== undefined) {
    const e = checkInt('memoryMiB', o.memoryMiB, QEMU_MIN_MEMORY_MIB, 1024 * 1024);
    if (e) return e;
  }
  if (o.cpus !== undefined) {
    const e = checkInt('cpus', o.cpus, 1, 255);
    if (e) return e;
  }
  if (o.tbSizeMiB !== undefined) {
    const e = checkInt('tbSizeMiB', o.tbSizeMiB, 1, 2048);
    if (e) return e;
  }
  if (o.accel !== undefined && o.accel !== 'kvm' && o.accel !== 'tcg') {
    return invalid('accel', 'bad-value', `"${String(o.accel)}" is not kvm or tcg`);
  }
  if (o.cpuModel !== undefined && !/^[A-Za-z0-9_.+-]+(,[A-Za-z0-9_.+=-]+)*$/.test(o.cpuModel)) {
    return invalid('cpuModel', 'bad-value', `"${o.cpuModel}" is not a CPU model name`);
  }
  const nics = o.nics ?? [];
  for (const [i, n] of nics.entries()) {
    const e = checkSocketPath(`nics[${i}].socketPath`, n.socketPath) ?? checkMac(`nics[${i}].mac`, n.mac);
    if (e) return e;
    const j = nics.findIndex((m) => m.mac.toLowerCase() === n.mac.toLowerCase());
    if (j !== i) return invalid(`nics[${i}].mac`, 'duplicate', `${n.mac} is already used by nics[${j}]`);
    const k = nics.findIndex((m) => m.socketPath === n.socketPath);
    if (k !== i) return invalid(`nics[${i}].socketPath`, 'duplicate', `${n.socketPath} is already used by nics[${k}]`);
  }
  return null;
}
