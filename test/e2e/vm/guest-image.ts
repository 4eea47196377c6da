/**
 * Where the QEMU test guest lives and whether this host can boot it. The VM tests skip, with the
 * reason printed, when QEMU or the guest image is missing, instead of failing on a machine that
 * was never set up for them (the image comes from `adapters/qemu/guest/build-guest.sh`).
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QEMU_BINARY } from '../../../adapters/qemu/argv.js';

/** Directory of the built guest: `$VNETKIT_GUEST_DIR` or `adapters/qemu/guest/out/`. */
export const GUEST_DIR = process.env.VNETKIT_GUEST_DIR ?? fileURLToPath(new URL('../../../adapters/qemu/guest/out/', import.meta.url));

/** The kernel and initramfs QEMU boots directly (no disk, no bootloader). */
export interface GuestImage {
  readonly kernel: string;
  readonly initrd: string;
}

/** The guest image, or why there is none. */
export function findGuestImage(dir = GUEST_DIR): GuestImage | string {
  // vmlinux (PVH entry) skips the in-guest decompressor, ~4 s per boot under TCG; vmlinuz also works.
  const kernel = ['vmlinux', 'vmlinuz'].map((f) => join(dir, f)).find((p) => existsSync(p));
  const initrd = ['initramfs.cpio.gz', 'initramfs.cpio.xz'].map((f) => join(dir, f)).find((p) => existsSync(p));
  if (kernel === undefined || initrd === undefined) return `no guest image in ${dir} (run adapters/qemu/guest/build-guest.sh)`;
  return { kernel, initrd };
}

/** Why the VM tests cannot run here, or null when they can (QEMU runnable, guest built). */
export function vmSkipReason(): string | null {
  if (process.platform !== 'linux') return `QEMU VM tests run on Linux; this host is ${process.platform}`;
  const q = spawnSync(QEMU_BINARY, ['--version'], { encoding: 'utf8' });
  if (q.error !== undefined || q.status !== 0) return `${QEMU_BINARY} is not runnable (apt-get install qemu-system-x86)`;
  const g = findGuestImage();
  return typeof g === 'string' ? g : null;
}

/** The guest image; throws when there is none (call after {@link vmSkipReason} said null). */
export function guestImage(): GuestImage {
  const g = findGuestImage();
  if (typeof g === 'string') throw new Error(g);
  return g;
}
