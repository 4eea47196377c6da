/**
 * Boots the QEMU test guest with its only NIC on a vnetkit `listenQemu` socket, and waits for its
 * VMLAB markers. A marker wait fails early, with the console's last lines, when the guest reports
 * a failure instead (`error`, or `wget-fail` while waiting for `wget-ok`), so a broken network
 * shows up as a message rather than as a two-minute timeout. Each VM is stopped by
 * `runCleanups()` even when the test fails half-way.
 * @module
 */
import { performance } from 'node:perf_hooks';
import { startQemu, type QemuVm } from '../../../adapters/qemu/launch.js';
import type { VmExit } from '../../../adapters/qemu/child-process.js';
import { parseVmlabMarker, vmlabAppend, type VmlabGuestOptions, type VmlabMarker } from '../../../adapters/qemu/vmlab.js';
import { deferCleanup } from './cleanup.js';
import { guestImage } from './guest-image.js';

/**
 * Generous marker deadline: a boot takes ~3 s alone under TCG and ~6 s with three VMs on two
 * cores; this only guards against a hang and is never a pass/fail criterion for speed.
 */
export const MARKER_TIMEOUT_MS = 120_000;

/** What to boot. */
export interface BootOptions {
  /** Label in messages (`vm A`). */
  readonly name: string;
  /** The `listenQemu` socket; vnetkit must already listen there (QEMU 7.2 connects once). */
  readonly socketPath: string;
  /** The NIC's MAC (the DHCP client key). */
  readonly mac: string;
  /** The guest's `vmlab.*` options. */
  readonly guest?: VmlabGuestOptions;
}

/** Markers whose arrival means the awaited one will not come. */
const FAILURE_MARKERS: Readonly<Record<string, readonly string[]>> = {
  'wget-ok': ['wget-fail', 'wget-skipped'],
};

/** A booted test guest. */
export class TestVm {
  /** performance.now() of each marker's first arrival on the console, by event. */
  private readonly arrivals = new Map<string, number>();

  private constructor(
    readonly name: string,
    readonly mac: string,
    readonly qemu: QemuVm,
    readonly startedAt: number,
  ) {
    qemu.events.on('line', (line) => {
      const m = parseVmlabMarker(line);
      if (m !== null && !this.arrivals.has(m.event)) this.arrivals.set(m.event, performance.now());
    });
  }

  /** Starts QEMU (TCG unless KVM is usable and not nested PVM: `detectAccel`). Does not wait for the guest. */
  static async boot(o: BootOptions): Promise<TestVm> {
    const image = guestImage();
    const startedAt = performance.now();
    const started = await startQemu({
      kernel: image.kernel,
      initrd: image.initrd,
      append: vmlabAppend(o.guest ?? {}),
      nics: [{ socketPath: o.socketPath, mac: o.mac }],
    });
    if (started.isErr()) throw new Error(`${o.name}: cannot start QEMU: ${started.error.message}`);
    // Subscribed synchronously after spawn: the first console bytes come ~0.3 s later.
    const vm = new TestVm(o.name, o.mac, started.value, startedAt);
    deferCleanup(`${o.name} (QEMU pid ${vm.qemu.pid})`, () => vm.stop());
    return vm;
  }

  /**
   * The first `event` marker; throws when the guest prints `error` (or a marker that rules
   * `event` out) first, when QEMU exits, or after `timeoutMs`.
   */
  async marker(event: string, timeoutMs = MARKER_TIMEOUT_MS): Promise<VmlabMarker> {
    const stop = ['error', ...(FAILURE_MARKERS[event] ?? [])];
    const re = new RegExp(`VMLAB (${[event, ...stop].map((e) => e.replace(/[-]/g, '\\-')).join('|')})(?: |$)`);
    const r = await this.qemu.waitForLine(re, timeoutMs);
    if (r.isErr()) throw new Error(`${this.name}: waiting for VMLAB ${event}: ${r.error.message}`);
    const m = parseVmlabMarker(r.value.line)!;
    if (m.event !== event) {
      throw new Error(`${this.name}: the guest printed "${r.value.line}" instead of VMLAB ${event}; last console lines:\n  ${this.qemu.lines.slice(-15).join('\n  ')}`);
    }
    return m;
  }

  /** Every `event` marker printed so far, in order (call after a later marker arrived). */
  async markers(event: string): Promise<VmlabMarker[]> {
    await this.marker('ready');
    return this.qemu.lines.map((l) => parseVmlabMarker(l)).filter((m): m is VmlabMarker => m != null && m.event === event);
  }

  /** The `lease-acquired` marker (DHCP) or `static-configured` (with `vmlab.static`). */
  lease(): Promise<VmlabMarker> {
    return this.marker('lease-acquired');
  }

  /** Seconds from QEMU's start to the marker's arrival on the console, if it arrived. */
  secondsTo(event: string): number | undefined {
    const t = this.arrivals.get(event);
    return t === undefined ? undefined : (t - this.startedAt) / 1000;
  }

  /** Stops QEMU (SIGTERM: QEMU exits at once, without a guest shutdown; SIGKILL after 5 s). */
  stop(): Promise<VmExit> {
    return this.qemu.stop({ graceMs: 5000 });
  }
}

/** Prints a timing line when `VNETKIT_VM_TIMINGS` is set (figures for reports, never asserted). */
export function reportTiming(vm: TestVm, ...events: string[]): void {
  if (!process.env.VNETKIT_VM_TIMINGS) return;
  const parts = events.map((e) => `${e} ${vm.secondsTo(e)?.toFixed(2) ?? '-'} s`);
  console.log(`  [timing] ${vm.name}: ${parts.join(', ')} after QEMU start`);
}
