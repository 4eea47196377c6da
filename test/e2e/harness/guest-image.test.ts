/**
 * The QEMU test guest (`adapters/qemu/guest/build-guest.sh`) on a LAN with a namespace guest,
 * joined by the frame hub (QEMU's stream netdev speaks the hub's u32 BE framing): the VM takes
 * its fixed address from `vmlab.static`, fetches `vmlab.wgetpath` from an httpd in the
 * namespace, and answers ping, HTTP and its TCP echo port, all with busybox tools from the image.
 * Skipped with a printed reason when QEMU or the built image is missing.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startFrameHub, type FrameHub } from './frame-hub.js';
import { findExecutable } from './find-executable.js';
import { closeAllGuests, createGuest, e2eSkipReason } from './netns.js';
import { waitForTcpListener, waitUntil } from './probes.js';

const GUEST_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'adapters', 'qemu', 'guest', 'out');
const KERNEL = ['vmlinux', 'vmlinuz'].map((f) => join(GUEST_DIR, f)).find((f) => existsSync(f));
const INITRD = join(GUEST_DIR, 'initramfs.cpio.gz');
const QEMU = 'qemu-system-x86_64';

const skip =
  e2eSkipReason(['busybox', 'ss', 'nc']) ??
  (findExecutable(QEMU) ? undefined : `needs ${QEMU} (apt-get install qemu-system-x86)`) ??
  (KERNEL && existsSync(INITRD) ? undefined : `no guest image in ${GUEST_DIR}: run adapters/qemu/guest/build-guest.sh`);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/harness/guest-image.test.ts: ${skip}`);

let dir = '';
let hub: FrameHub | undefined;
const VM_OPTIONS = { reject: false, stdin: 'ignore', all: true } as const;
let vm: ResultPromise<typeof VM_OPTIONS> | undefined;

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-q-');
});
test.after.each(async () => {
  if (vm && vm.exitCode === null) {
    vm.kill('SIGKILL');
    await vm;
  }
  vm = undefined;
  await closeAllGuests();
  await hub?.close();
  hub = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

it('vmlab.static + vmlab.wgetpath: the VM joins a namespace guest on the hub; ping, wget, httpd and nc work', async () => {
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'qemu' });
  const host = await createGuest({ socketPath: hub.path, framing: 'qemu' });
  await host.setAddress('10.99.0.1/24');
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'hello.txt'), 'hello from the namespace\n');
  host.spawn(['busybox', 'httpd', '-f', '-p', '10.99.0.1:8080', '-h', www]);
  await waitForTcpListener(host, 8080);

  const append = [
    'console=ttyS0 panic=-1 quiet',
    'vmlab.static=10.99.0.3/24,10.99.0.1',
    'vmlab.hostport=8080 vmlab.wgetpath=/hello.txt vmlab.poweroff=120',
  ].join(' ');
  // TCG: KVM here is PVM-backed and cannot boot a stock kernel (see vmlab README).
  vm = execa(
    QEMU,
    [
      ...['-accel', 'tcg,tb-size=32', '-machine', 'pc', '-m', '128M', '-smp', '1'],
      ...['-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot'],
      ...['-kernel', KERNEL!, '-initrd', INITRD, '-append', append],
      ...['-netdev', `stream,id=n0,server=off,addr.type=unix,addr.path=${hub.path}`],
      ...['-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile='],
    ],
    VM_OPTIONS,
  );
  let console_ = '';
  vm.all.on('data', (c: Buffer) => void (console_ += c.toString()));
  const marker = (event: string): string | undefined =>
    console_.split(/\r?\n/).find((l) => l.includes(`VMLAB ${event} `) || l.endsWith(`VMLAB ${event}`));

  const ready = await waitUntil('the VM to print VMLAB ready (or error)', () => marker('ready') ?? marker('error'), {
    timeoutMs: 120_000,
  }).catch((e: Error) => {
    throw new Error(`${e.message}\nconsole:\n${console_}`);
  });
  assert.not.match(ready, 'VMLAB error', console_);
  assert.match(marker('static-configured') ?? '', 'ip=10.99.0.3 prefix=24 router=10.99.0.1', console_);
  assert.is(marker('lease-acquired'), undefined, 'no DHCP with vmlab.static');
  assert.match(marker('wget-ok') ?? '', 'url=http://10.99.0.1:8080/hello.txt', console_);
  assert.match(marker('wget-ok') ?? '', 'body=hello from the namespace', console_);

  const ping = await host.exec(['busybox', 'ping', '-c', '2', '-i', '0.2', '-w', '30', '10.99.0.3']);
  assert.match(ping.stdout, /2 packets received/);
  // (The host's static busybox wget crashes in its resolver; plain HTTP/1.0 over nc does not.)
  // -N: half-close after stdin's EOF, so the guest's httpd and `nc -e cat` see EOF too.
  const page = await host.exec(['nc', '-N', '-w', '10', '10.99.0.3', '80'], { input: 'GET / HTTP/1.0\r\n\r\n' });
  assert.match(page.stdout, /^HTTP\/1\.[01] 200 /);
  // (execa strips the final newline of stdout.)
  assert.is(page.stdout.split('\r\n\r\n')[1], 'hello from vmlab guest 10.99.0.3', JSON.stringify(page.stdout));
  const echo = await host.exec(['nc', '-N', '-w', '10', '10.99.0.3', '7'], { input: 'echo me\n' });
  assert.is(echo.stdout, 'echo me');
  assert.equal(hub.errors, []);
});

test.run();
