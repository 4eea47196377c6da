/**
 * Typed options for a hyperkit VM and their validation.
 *
 * The shape follows the moby/hyperkit Go wrapper (`go/hyperkit.go`, protocols.md §5.2): one
 * optional VPNKit NIC, disks, virtio-sock, ISOs, 9P shares, a serial console and either a kexec
 * or a bootrom boot. {@link validateHyperkitOptions} turns user input into
 * {@link ResolvedHyperkitOptions} (defaults applied, every value checked) or one
 * {@link HyperkitOptionsError} naming the field and the problem, so a bad configuration fails
 * here with a clear message instead of as an opaque hyperkit exit status.
 * @module
 */
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../src/errors.js';

/** Defaults of the Go wrapper and linuxkit (protocols.md §5.2, §5.3). */
export const HYPERKIT_DEFAULTS = {
  cpus: 1,
  memoryMiB: 1024,
  /** CIDs 0–2 are reserved (hypervisor, local, host); linuxkit always gives the guest 3. */
  guestCid: 3,
} as const;

/** Below this no kernel+initrd guest we target boots; hyperkit itself only needs > 0. */
export const HYPERKIT_MIN_MEMORY_MIB = 64;

/** virtio-sock accepts at most four `guest_forwards` entries (protocols.md §5.1). */
export const HYPERKIT_MAX_GUEST_FORWARDS = 4;

/** The VPNKit NIC (`virtio-vpnkit`, protocols.md §5.1). */
export interface HyperkitVpnkitNic {
  /** Unix socket of the vmnet server (vnetkit or vpnkit), `path=`. */
  socketPath: string;
  /** `uuid=`: the identity vpnkit maps to a MAC and an IP (§1.7); random inside hyperkit if absent. */
  uuid?: string;
  /** `preferred_ipv4=`: asks the server for this address (vmnet command 8, §5.3 `-ip`). */
  preferredIpv4?: string;
}

/** A block device (`-s n:0,<driver>,<path>[,format=…]`). */
export interface HyperkitDisk {
  path: string;
  /** Image format passed through as `format=` (e.g. `qcow`, `raw`). */
  format?: string;
  /** Emulated controller; the Go wrapper defaults to `virtio-blk`. */
  driver?: 'virtio-blk' | 'ahci-hd';
}

/** The virtio-sock device; its host side lives in the state directory (§2.4). */
export interface HyperkitVsock {
  /** Guest context id, > 2. Default 3. */
  guestCid?: number;
  /** Guest ports exposed as `<state>/guest.%08x` Unix sockets (`guest_forwards=`), at most 4. */
  ports?: readonly number[];
}

/** A 9P share backed by a Unix socket (`virtio-9p,path=…,tag=…`). */
export interface Hyperkit9pShare {
  path: string;
  /** Mount tag the guest uses (`mount -t 9p <tag>`). */
  tag: string;
}

/**
 * Where COM1 goes. `stdio`: hyperkit's stdin/stdout (the launcher exposes stdout as a stream).
 * `pty`: hyperkit opens a pty and links it at `<state>/tty`. Both also log to
 * `<state>/console-ring` when a state directory is set (§5.2).
 */
export type HyperkitConsole = 'stdio' | 'pty';

/** Everything needed to build a hyperkit command line. */
export interface HyperkitOptions {
  /** Directory for the pidfile, console log, tty and vsock sockets. Needed by vsock and `pty`. */
  stateDir?: string;
  /** vCPUs, integer ≥ 1. Default 1. */
  cpus?: number;
  /** Guest RAM in MiB, integer ≥ 64. Default 1024. */
  memoryMiB?: number;
  /** The VPNKit NIC; absent means no VPNKit networking. */
  vpnkit?: HyperkitVpnkitNic;
  /** Add an Apple vmnet NIC (`virtio-net`, needs root on the host). */
  vmnet?: boolean;
  /** SMBIOS system UUID (`-U`, the guest's `/sys/class/dmi/id/product_uuid`). */
  smbiosUuid?: string;
  disks?: readonly HyperkitDisk[];
  /** Enables virtio-sock; requires `stateDir`. */
  vsock?: HyperkitVsock;
  /** CD images attached as `ahci-cd`, in order. */
  isos?: readonly string[];
  /** Add the virtio entropy device. Default true, as the Go wrapper always does. */
  rng?: boolean;
  shares9p?: readonly Hyperkit9pShare[];
  /** Default `stdio`. */
  console?: HyperkitConsole;
  /** Kernel for `-f kexec,…`; needs `initrd`; excludes `bootrom`. */
  kernel?: string;
  initrd?: string;
  /** Kernel command line; hyperkit prefixes nothing, the wrapper prepends `earlyprintk=serial`. */
  cmdline?: string;
  /** Firmware for `-f bootrom,…` (UEFI); excludes `kernel`. */
  bootrom?: string;
}

/** {@link HyperkitOptions} after defaults and validation. */
export interface ResolvedHyperkitOptions {
  stateDir: string | null;
  cpus: number;
  memoryMiB: number;
  vpnkit: HyperkitVpnkitNic | null;
  vmnet: boolean;
  smbiosUuid: string | null;
  disks: readonly HyperkitDisk[];
  vsock: { guestCid: number; ports: readonly number[] } | null;
  isos: readonly string[];
  rng: boolean;
  shares9p: readonly Hyperkit9pShare[];
  console: HyperkitConsole;
  boot:
    | { kind: 'kexec'; kernel: string; initrd: string; cmdline: string }
    | { kind: 'bootrom'; firmware: string };
}

/** What exactly is wrong, for callers that react to a problem rather than print it. */
export type HyperkitOptionProblem =
  | 'missing-boot'
  | 'conflicting-boot'
  | 'missing-initrd'
  | 'orphan-boot-option'
  | 'not-an-integer'
  | 'out-of-range'
  | 'too-many'
  | 'duplicate'
  | 'bad-uuid'
  | 'bad-ipv4'
  | 'empty'
  | 'forbidden-character'
  | 'needs-state-dir'
  | 'bad-value';

/** A rejected option: `field` is the option path (`vsock.guestCid`, `disks[1].path`). */
export type HyperkitOptionsError = VnetError<'invalid-vm-options'> & {
  readonly field: string;
  readonly problem: HyperkitOptionProblem;
};

function invalid(field: string, problem: HyperkitOptionProblem, message: string): HyperkitOptionsError {
  return vnetError('invalid-vm-options', `hyperkit option ${field}: ${message}`, { field, problem });
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for the 36-character textual UUID form hyperkit's `uuid=` and `-U` parse (§5.1). */
export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/**
 * Strict dotted quad: four decimal octets without leading zeros. hyperkit parses
 * `preferred_ipv4=` with inet_aton (§5.1), which would also take `10.1` or read `010` as octal 8;
 * refusing those forms means the address the user wrote is the address the guest asks for.
 */
export function isDottedQuad(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  return parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

/**
 * hyperkit splits device and LPC options on `,` (`-s slot,driver,key=value,…`, `-l com1,…`,
 * `-f kexec,kernel,initrd,cmdline`), and has no quoting, so a value with a comma would be cut
 * in two and reach the device as a different path or an unknown option (§5.1).
 */
function checkOptionValue(field: string, value: string | undefined): HyperkitOptionsError | null {
  if (value === undefined) return null;
  if (value.length === 0) return invalid(field, 'empty', 'must not be empty');
  if (value.includes(',')) {
    return invalid(field, 'forbidden-character', `"${value}" contains ",", which hyperkit's option syntax cannot carry`);
  }
  return null;
}

function checkInt(field: string, v: number, min: number, max: number): HyperkitOptionsError | null {
  if (!Number.isInteger(v)) return invalid(field, 'not-an-integer', `${v} is not an integer`);
  if (v < min || v > max) return invalid(field, 'out-of-range', `${v} is outside ${min}..${max}`);
  return null;
}

/** Applies defaults and checks every option; the first problem found is returned. */
export function validateHyperkitOptions(o: HyperkitOptions): Result<ResolvedHyperkitOptions, HyperkitOptionsError> {
  const problem = findProblem(o);
  if (problem) return err(problem);
  const boot: ResolvedHyperkitOptions['boot'] =
    o.bootrom !== undefined
      ? { kind: 'bootrom', firmware: o.bootrom }
      : { kind: 'kexec', kernel: o.kernel!, initrd: o.initrd!, cmdline: o.cmdline ?? '' };
  return ok({
    stateDir: o.stateDir ?? null,
    cpus: o.cpus ?? HYPERKIT_DEFAULTS.cpus,
    memoryMiB: o.memoryMiB ?? HYPERKIT_DEFAULTS.memoryMiB,
    vpnkit: o.vpnkit ? { ...o.vpnkit } : null,
    vmnet: o.vmnet ?? false,
    smbiosUuid: o.smbiosUuid ?? null,
    disks: (o.disks ?? []).map((d) => ({ ...d })),
    vsock: o.vsock ? { guestCid: o.vsock.guestCid ?? HYPERKIT_DEFAULTS.guestCid, ports: [...(o.vsock.ports ?? [])] } : null,
    isos: [...(o.isos ?? [])],
    rng: o.rng ?? true,
    shares9p: (o.shares9p ?? []).map((s) => ({ ...s })),
    console: o.console ?? 'stdio',
    boot,
  });
}

/** PCI slots 1..30 are free: 0 is the host bridge and 31 the LPC bridge (§5.2). */
const FREE_PCI_SLOTS = 30;

function findProblem(o: HyperkitOptions): HyperkitOptionsError | null {
  // Boot: exactly one of kexec (kernel + initrd) or bootrom (§5.2 `-f`).
  if (o.kernel === undefined && o.bootrom === undefined) {
    return invalid('kernel', 'missing-boot', 'set either kernel (+ initrd) for kexec or bootrom for firmware boot');
  }
  if (o.kernel !== undefined && o.bootrom !== undefined) {
    return invalid('bootrom', 'conflicting-boot', 'kernel and bootrom are mutually exclusive; set only one');
  }
  if (o.kernel !== undefined && o.initrd === undefined) {
    return invalid('initrd', 'missing-initrd', 'kexec boot needs an initrd next to the kernel');
  }
  if (o.bootrom !== undefined && (o.initrd !== undefined || o.cmdline !== undefined)) {
    const field = o.initrd !== undefined ? 'initrd' : 'cmdline';
    return invalid(field, 'orphan-boot-option', `${field} only applies to kexec boot, not to bootrom`);
  }
  for (const [field, value] of [
    ['kernel', o.kernel],
    ['initrd', o.initrd],
    ['bootrom', o.bootrom],
    ['stateDir', o.stateDir],
  ] as const) {
    const e = checkOptionValue(field, value);
    if (e) return e;
  }
  if (o.cmdline?.includes('\n')) {
    return invalid('cmdline', 'forbidden-character', 'the kernel command line must be a single line');
  }

  if (o.cpus !== undefined) {
    const e = checkInt('cpus', o.cpus, 1, 4096);
    if (e) return e;
  }
  if (o.memoryMiB !== undefined) {
    const e = checkInt('memoryMiB', o.memoryMiB, HYPERKIT_MIN_MEMORY_MIB, 16 * 1024 * 1024);
    if (e) return e;
  }

  if (o.vpnkit) {
    const e = checkOptionValue('vpnkit.socketPath', o.vpnkit.socketPath);
    if (e) return e;
    if (o.vpnkit.uuid !== undefined && !isUuid(o.vpnkit.uuid)) {
      return invalid('vpnkit.uuid', 'bad-uuid', `"${o.vpnkit.uuid}" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
    }
    if (o.vpnkit.preferredIpv4 !== undefined && !isDottedQuad(o.vpnkit.preferredIpv4)) {
      return invalid('vpnkit.preferredIpv4', 'bad-ipv4', `"${o.vpnkit.preferredIpv4}" is not a dotted-quad IPv4 address`);
    }
  }
  if (o.smbiosUuid !== undefined && !isUuid(o.smbiosUuid)) {
    return invalid('smbiosUuid', 'bad-uuid', `"${o.smbiosUuid}" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
  }

  for (const [i, d] of (o.disks ?? []).entries()) {
    const e = checkOptionValue(`disks[${i}].path`, d.path) ?? checkOptionValue(`disks[${i}].format`, d.format);
    if (e) return e;
    if (d.driver !== undefined && d.driver !== 'virtio-blk' && d.driver !== 'ahci-hd') {
      return invalid(`disks[${i}].driver`, 'bad-value', `"${String(d.driver)}" is not virtio-blk or ahci-hd`);
    }
  }

  if (o.vsock) {
    // The host end of virtio-sock is a directory of sockets (`path=<state>`, §2.4, §5.2).
    if (o.stateDir === undefined) return invalid('vsock', 'needs-state-dir', 'virtio-sock needs stateDir for its host sockets');
    if (o.vsock.guestCid !== undefined) {
      // 0xffffffff is VMADDR_CID_ANY; 0..2 are reserved, 2 being the host (§5.1: guest_cid > 2).
      const e = checkInt('vsock.guestCid', o.vsock.guestCid, 3, 0xfffffffe);
      if (e) return e;
    }
    const ports = o.vsock.ports ?? [];
    if (ports.length > HYPERKIT_MAX_GUEST_FORWARDS) {
      return invalid('vsock.ports', 'too-many', `${ports.length} guest forwards given, virtio-sock takes at most ${HYPERKIT_MAX_GUEST_FORWARDS}`);
    }
    for (const [i, p] of ports.entries()) {
      // vsock ports are u32; 0xffffffff is VMADDR_PORT_ANY.
      const e = checkInt(`vsock.ports[${i}]`, p, 1, 0xfffffffe);
      if (e) return e;
      if (ports.indexOf(p) !== i) return invalid(`vsock.ports[${i}]`, 'duplicate', `port ${p} is listed twice`);
    }
  }

  for (const [i, iso] of (o.isos ?? []).entries()) {
    const e = checkOptionValue(`isos[${i}]`, iso);
    if (e) return e;
  }
  for (const [i, s] of (o.shares9p ?? []).entries()) {
    const e = checkOptionValue(`shares9p[${i}].path`, s.path) ?? checkOptionValue(`shares9p[${i}].tag`, s.tag);
    if (e) return e;
  }

  if (o.console !== undefined && o.console !== 'stdio' && o.console !== 'pty') {
    return invalid('console', 'bad-value', `"${String(o.console)}" is not stdio or pty`);
  }
  if (o.console === 'pty' && o.stateDir === undefined) {
    return invalid('console', 'needs-state-dir', 'console "pty" links the pty at <stateDir>/tty, so it needs stateDir');
  }

  const devices =
    (o.vpnkit ? 1 : 0) +
    (o.vmnet ? 1 : 0) +
    (o.disks?.length ?? 0) +
    (o.vsock ? 1 : 0) +
    (o.isos?.length ?? 0) +
    (o.rng === false ? 0 : 1) +
    (o.shares9p?.length ?? 0);
  if (devices > FREE_PCI_SLOTS) {
    return invalid('devices', 'too-many', `${devices} PCI devices requested, hyperkit has ${FREE_PCI_SLOTS} free slots (1..30)`);
  }
  return null;
}
