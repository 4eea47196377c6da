import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { okOf, errOf } from '../qemu/support.js';
import { buildHyperkitArgv } from '../../../adapters/hyperkit/argv.js';
import {
  isDottedQuad,
  validateHyperkitOptions,
  type HyperkitOptionProblem,
  type HyperkitOptions,
} from '../../../adapters/hyperkit/options.js';

const U = '6f1c3b7a-2d4e-4f60-9a8b-0c1d2e3f4a5b';
const ok = { kernel: '/k', initrd: '/i' };

/** Asserts the options are rejected for `field` with `problem`, and that the message names the field. */
function rejects(o: HyperkitOptions, field: string, problem: HyperkitOptionProblem): void {
  const r = buildHyperkitArgv(o);
  assert.ok(r.isErr(), `expected ${field}/${problem} to be rejected`);
  const e = errOf(r);
  assert.is(e.kind, 'invalid-vm-options');
  assert.is(e.field, field);
  assert.is(e.problem, problem);
  assert.ok(e.message.includes(field), `message should name ${field}: ${e.message}`);
}

test('the baseline used below is valid', () => {
  assert.ok(buildHyperkitArgv(ok).isOk());
});

test('defaults: 1 CPU, 1024 MiB, guest CID 3, stdio console, rng on', () => {
  const r = okOf(validateHyperkitOptions({ ...ok, stateDir: '/s', vsock: {} }));
  assert.is(r.cpus, 1);
  assert.is(r.memoryMiB, 1024);
  assert.is(r.vsock?.guestCid, 3);
  assert.is(r.console, 'stdio');
  assert.is(r.rng, true);
});

test('no kernel and no bootrom', () => rejects({}, 'kernel', 'missing-boot'));
test('kernel and bootrom together', () => rejects({ ...ok, bootrom: '/fw' }, 'bootrom', 'conflicting-boot'));
test('kernel without initrd', () => rejects({ kernel: '/k' }, 'initrd', 'missing-initrd'));
test('initrd with bootrom', () => rejects({ bootrom: '/fw', initrd: '/i' }, 'initrd', 'orphan-boot-option'));
test('cmdline with bootrom', () => rejects({ bootrom: '/fw', cmdline: 'quiet' }, 'cmdline', 'orphan-boot-option'));
test('empty kernel path', () => rejects({ kernel: '', initrd: '/i' }, 'kernel', 'empty'));
test('multi-line cmdline', () => rejects({ ...ok, cmdline: 'a\nb' }, 'cmdline', 'forbidden-character'));

test('cpus < 1', () => rejects({ ...ok, cpus: 0 }, 'cpus', 'out-of-range'));
test('fractional cpus', () => rejects({ ...ok, cpus: 1.5 }, 'cpus', 'not-an-integer'));
test('memory < 64 MiB', () => rejects({ ...ok, memoryMiB: 63 }, 'memoryMiB', 'out-of-range'));
test('memory of exactly 64 MiB is accepted', () => assert.ok(buildHyperkitArgv({ ...ok, memoryMiB: 64 }).isOk()));

test('guest CID 2 (the host) is refused', () =>
  rejects({ ...ok, stateDir: '/s', vsock: { guestCid: 2 } }, 'vsock.guestCid', 'out-of-range'));
test('guest CID 0 is refused', () => rejects({ ...ok, stateDir: '/s', vsock: { guestCid: 0 } }, 'vsock.guestCid', 'out-of-range'));
test('more than 4 guest forwards', () =>
  rejects({ ...ok, stateDir: '/s', vsock: { ports: [1, 2, 3, 4, 5] } }, 'vsock.ports', 'too-many'));
test('duplicate guest forward', () => rejects({ ...ok, stateDir: '/s', vsock: { ports: [7, 7] } }, 'vsock.ports[1]', 'duplicate'));
test('guest forward port 0', () => rejects({ ...ok, stateDir: '/s', vsock: { ports: [0] } }, 'vsock.ports[0]', 'out-of-range'));
test('vsock without a state dir', () => rejects({ ...ok, vsock: {} }, 'vsock', 'needs-state-dir'));

test('bad vpnkit UUID', () => rejects({ ...ok, vpnkit: { socketPath: '/v', uuid: 'not-a-uuid' } }, 'vpnkit.uuid', 'bad-uuid'));
test('UUID one character short', () =>
  rejects({ ...ok, vpnkit: { socketPath: '/v', uuid: U.slice(1) } }, 'vpnkit.uuid', 'bad-uuid'));
test('bad SMBIOS UUID', () => rejects({ ...ok, smbiosUuid: 'xyz' }, 'smbiosUuid', 'bad-uuid'));
test('upper-case UUIDs are accepted', () =>
  assert.ok(buildHyperkitArgv({ ...ok, smbiosUuid: U.toUpperCase() }).isOk()));

for (const ip of ['192.168.65', '192.168.65.256', '10.1', '010.0.0.1', '1.2.3.4 ', 'a.b.c.d', '::1']) {
  test(`preferred IPv4 ${JSON.stringify(ip)} is not a dotted quad`, () =>
    rejects({ ...ok, vpnkit: { socketPath: '/v', preferredIpv4: ip } }, 'vpnkit.preferredIpv4', 'bad-ipv4'));
}
test('dotted quads that are fine', () => {
  for (const ip of ['0.0.0.0', '192.168.65.10', '255.255.255.255']) assert.ok(isDottedQuad(ip), ip);
});

test('comma in the state dir', () => rejects({ ...ok, stateDir: '/a,b' }, 'stateDir', 'forbidden-character'));
test('comma in the vpnkit socket path', () =>
  rejects({ ...ok, vpnkit: { socketPath: '/tmp/a,b.sock' } }, 'vpnkit.socketPath', 'forbidden-character'));
test('comma in the kernel path', () => rejects({ kernel: '/k,1', initrd: '/i' }, 'kernel', 'forbidden-character'));
test('comma in the initrd path', () => rejects({ kernel: '/k', initrd: '/i,1' }, 'initrd', 'forbidden-character'));
test('comma in the bootrom path', () => rejects({ bootrom: '/fw,1' }, 'bootrom', 'forbidden-character'));
test('comma in a disk path', () => rejects({ ...ok, disks: [{ path: '/d' }, { path: '/d,2' }] }, 'disks[1].path', 'forbidden-character'));
test('comma in a disk format', () => rejects({ ...ok, disks: [{ path: '/d', format: 'raw,x' }] }, 'disks[0].format', 'forbidden-character'));
test('unknown disk driver', () =>
  rejects({ ...ok, disks: [{ path: '/d', driver: 'nvme' as 'virtio-blk' }] }, 'disks[0].driver', 'bad-value'));
test('comma in an ISO path', () => rejects({ ...ok, isos: ['/c,d.iso'] }, 'isos[0]', 'forbidden-character'));
test('comma in a 9P socket path', () =>
  rejects({ ...ok, shares9p: [{ path: '/p,q', tag: 't' }] }, 'shares9p[0].path', 'forbidden-character'));
test('empty 9P tag', () => rejects({ ...ok, shares9p: [{ path: '/p', tag: '' }] }, 'shares9p[0].tag', 'empty'));

test('pty console without a state dir', () => rejects({ ...ok, console: 'pty' }, 'console', 'needs-state-dir'));
test('unknown console kind', () => rejects({ ...ok, console: 'file' as 'pty' }, 'console', 'bad-value'));

test('more devices than the 30 free PCI slots', () => {
  const disks = Array.from({ length: 30 }, (_, i) => ({ path: `/d${i}.img` }));
  rejects({ ...ok, disks }, 'devices', 'too-many');
  // 29 disks + virtio-rnd fill slots 1..30 exactly.
  assert.ok(buildHyperkitArgv({ ...ok, disks: disks.slice(0, 29) }).isOk());
});

test.run();
