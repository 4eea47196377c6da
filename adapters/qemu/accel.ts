/**
 * Picks QEMU's accelerator: KVM only where it helps, TCG otherwise.
 *
 * "/dev/kvm exists" is not enough. On a host whose KVM is `kvm_pvm` (nested PVM, as in some
 * cloud sandboxes) an unmodified guest runs roughly 100× slower than under TCG and then stops
 * with "KVM internal error … emulation failure", and `-cpu host`/`max` abort at once on
 * MSR 0x10a (vmlab README, "KVM: why not"). So KVM is chosen only when /dev/kvm is read/writable
 * *and* `/sys/module/kvm_pvm` is absent; every fallback says why.
 *
 * The file-system probes are injectable so the decision is tested without the host's devices.
 * @module
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { debuglog } from 'node:util';
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../src/errors.js';
import type { Accel } from './options.js';

/** What the caller asks for: decide (`auto`) or force one. */
export type AccelRequest = 'auto' | Accel;

/** The decision and the reason, for logs and test output. */
export interface AccelChoice {
  readonly accel: Accel;
  readonly reason: string;
}

/** Host facts the decision depends on. */
export interface AccelProbes {
  /** True if /dev/kvm exists and this process may open it read-write. */
  kvmDeviceUsable(): boolean;
  /** True if the KVM module is nested PVM (`/sys/module/kvm_pvm` exists). */
  isPvmHost(): boolean;
}

/** KVM was forced but cannot work here. */
export type AccelError = VnetError<'accel-unavailable'> & { readonly accel: Accel };

/** Probes of the real host. */
export const hostAccelProbes: AccelProbes = {
  kvmDeviceUsable() {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
  isPvmHost() {
    return existsSync('/sys/module/kvm_pvm');
  },
};

/** Options of {@link detectAccel}. */
export interface DetectAccelOptions {
  /** Default `auto`. */
  request?: AccelRequest;
  /** Default {@link hostAccelProbes}. */
  probes?: AccelProbes;
  /** Where fallbacks and warnings are reported. Default: `NODE_DEBUG=vnetkit` debug log. */
  log?: (message: string) => void;
}

const defaultLog = debuglog('vnetkit');

/**
 * Decides between KVM and TCG. `auto` never fails; forcing `kvm` fails when /dev/kvm is not
 * usable and warns (but obeys) on a PVM host.
 */
export function detectAccel(options: DetectAccelOptions = {}): Result<AccelChoice, AccelError> {
  const request = options.request ?? 'auto';
  const probes = options.probes ?? hostAccelProbes;
  const log = options.log ?? defaultLog;

  if (request === 'tcg') return ok({ accel: 'tcg', reason: 'tcg requested' });

  const kvm = probes.kvmDeviceUsable();
  const pvm = kvm && probes.isPvmHost();
  if (request === 'kvm') {
    if (!kvm) {
      return err(
        vnetError('accel-unavailable', 'kvm requested but /dev/kvm is missing or not read/writable by this process', {
          accel: 'kvm' as const,
        }),
      );
    }
    if (pvm) {
      const reason = 'kvm requested on a kvm_pvm (nested PVM) host: an unmodified guest will crawl and then fail; use tcg';
      log(`accel: ${reason}`);
      return ok({ accel: 'kvm', reason });
    }
    return ok({ accel: 'kvm', reason: 'kvm requested' });
  }

  if (!kvm) {
    const reason = '/dev/kvm is missing or not read/writable: using tcg';
    log(`accel: ${reason}`);
    return ok({ accel: 'tcg', reason });
  }
  if (pvm) {
    const reason = 'kvm is nested PVM (/sys/module/kvm_pvm): guests run ~100x slower than tcg there, using tcg';
    log(`accel: ${reason}`);
    return ok({ accel: 'tcg', reason });
  }
  return ok({ accel: 'kvm', reason: '/dev/kvm is usable and not nested PVM' });
}
