/**
 * Boots the real test guest under real QEMU through the QEMU adapter, with no network peer:
 * the NIC's stream netdev is in server mode, so QEMU boots without anyone connected. The guest
 * prints its VMLAB markers, finds no DHCP server, and powers off (`vmlab.poweroff=0`), which
 * must end QEMU by itself.
 *
 * Needs `qemu-system-x86_64` and the guest built by `adapters/qemu/guest/build-guest.sh`
 * (`adapters/qemu/guest/out/`, or a directory in VNETKIT_GUEST_DIR); skipped with a printed
 * reason otherwise. No traffic leaves the VM: nothing is connected to its only NIC.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { QEMU_BINARY } from '../../adapters/qemu/argv.js';
import { startQemu, type QemuVm } from '../../adapters/qemu/launch.js';
import { parseVmlabMarker, vmlabAppend, waitForVmlabMarker } from '../../adapters/qemu/vmlab.js';
import { guard, okOf } from '../adapters/qemu/support.js';

const GUEST_DIR = process.env.VNETKIT_GUEST_DIR ?? fileURLToPath(new URL('../../adapters/qemu/guest/out/', import.meta.url));
const MAC = '52:54:00:12:34:56';
/** Generous: TCG boots in ~3 s alone, slower with a bzImage or other VMs on 2 cores. */
const BOOT_MS = 120_000;

function findGuest(): { kernel: string; initrd: string } | string {
  // vmlinux (PVH, direct 32-bit entry) skips the slow in-guest decompressor; vmlinuz also works.
  const kernel = ['vmlinux', 'vmlinuz'].map((f) => join(GUEST_DIR, f)).find((p) => existsSync(p));
  const initrd = ['initramfs.cpio.gz', 'initramfs.cpio.xz'].map((f) => join(GUEST_DIR, f)).find((p) => existsSync(p));
  if (!kernel || !initrd) return `no guest image in ${GUEST_DIR} (run adapters/qemu/guest/build-guest.sh)`;
  return { kernel, initrd };
}

function skipReason(): string | null {
  const q = spawnSync(QEMU_BINARY, ['--version'], { encoding: 'utf8' });
  if (q.error || q.status !== 0) return `${QEMU_BINARY} is not runnable (apt-get install qemu-system-x86)`;
  const g = findGuest();
  return typeof g === 'string' ? g : null;
}

const reason = skipReason();
if (reason !== null) {
  console.log(`SKIP test/e2e/qemu-boot.test.ts: ${reason}`);
} else {
  test('the guest boots without a peer, reports init and link-up, and QEMU exits by itself', async () => {
    const guest = findGuest() as { kernel: string; initrd: string };
    const dir = await mkdtemp(join(tmpdir(), 'vkq-')); // short: Unix socket paths are ≤ 107 bytes
    let vm: QemuVm | undefined;
    try {
      vm = okOf(
        await startQemu({
          kernel: guest.kernel,
          initrd: guest.initrd,
          // One DHCP try: there is no server, so the guest gives up after ~1 s and powers off.
          append: vmlabAppend({ wget: false, poweroff: 0, dhcpTries: 1 }),
          nics: [{ socketPath: join(dir, 'n0.sock'), mac: MAC, server: true }],
        }),
      );
      const running = vm;
      const init = okOf(await guard(waitForVmlabMarker(running, 'init', BOOT_MS), 'VMLAB init', BOOT_MS + 5000));
      assert.ok((init.fields.kernel ?? '').length > 0, 'init names the kernel');
      assert.ok(init.uptime !== null && init.uptime > 0);

      const link = okOf(await guard(waitForVmlabMarker(running, 'link-up', BOOT_MS), 'VMLAB link-up', BOOT_MS + 5000));
      assert.is(link.fields.dev, 'eth0');
      assert.is(link.fields.mac, MAC, 'the guest NIC has the MAC from the options');

      const exit = await guard(running.exited, 'QEMU to exit after the guest powers off', BOOT_MS);
      assert.equal(exit, { code: 0, signal: null });
      // With nobody on the socket the guest got no lease, said so, and powered off.
      const markers = running.lines.map(parseVmlabMarker).filter((m) => m !== null);
      assert.not.ok(markers.some((m) => m!.event === 'lease-acquired'));
      const error = markers.find((m) => m!.event === 'error');
      assert.match(error?.fields.what ?? '', /^dhcp/);
    } finally {
      if (vm) await vm.stop({ graceMs: 5000 }); // no-op when it already exited
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test.run();
