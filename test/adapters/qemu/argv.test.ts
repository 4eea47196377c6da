import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildQemuArgv } from '../../../adapters/qemu/argv.js';
import type { QemuOptionProblem, QemuOptions } from '../../../adapters/qemu/options.js';
import { errOf, okOf } from './support.js';

const MAC = '52:54:00:12:34:56';
const base: QemuOptions = { kernel: 'out/vmlinux', initrd: 'out/initramfs.cpio.gz' };

const argv = (o: QemuOptions): string[] => okOf(buildQemuArgv(o));
const after = (a: string[], flag: string): string[] => a.flatMap((t, i) => (t === flag ? [a[i + 1]!] : []));

const build = suite('qemu argv');

build('the vmlab boot-guest.sh command line, token for token', () => {
  // /work/shared/vmlab/README.md: "boot-guest.sh runs this QEMU command (defaults shown)".
  assert.equal(argv({ ...base, nics: [{ socketPath: 'SOCK', mac: MAC }] }), [
    '-accel', 'tcg,tb-size=32', '-machine', 'pc', '-m', '128M', '-smp', '1',
    '-nodefaults', '-no-user-config', '-nographic', '-serial', 'stdio', '-no-reboot',
    '-kernel', 'out/vmlinux', '-initrd', 'out/initramfs.cpio.gz', '-append', 'console=ttyS0 panic=-1 quiet',
    '-netdev', 'stream,id=n0,server=off,addr.type=unix,addr.path=SOCK',
    '-device', `virtio-net-pci,netdev=n0,mac=${MAC},romfile=`,
  ]); // prettier-ignore
});

build('server mode NIC', () => {
  const a = argv({ ...base, nics: [{ socketPath: '/t/q.sock', mac: MAC, server: true }] });
  assert.equal(after(a, '-netdev'), ['stream,id=n0,server=on,addr.type=unix,addr.path=/t/q.sock']);
});

build('extra NICs get n1, n2, … each with its own device', () => {
  const a = argv({
    ...base,
    nics: [
      { socketPath: '/t/a', mac: MAC },
      { socketPath: '/t/b', mac: '52:54:00:00:00:02', server: true },
    ],
  });
  assert.equal(after(a, '-netdev'), [
    'stream,id=n0,server=off,addr.type=unix,addr.path=/t/a',
    'stream,id=n1,server=on,addr.type=unix,addr.path=/t/b',
  ]);
  assert.equal(after(a, '-device'), [`virtio-net-pci,netdev=n0,mac=${MAC},romfile=`, 'virtio-net-pci,netdev=n1,mac=52:54:00:00:00:02,romfile=']);
});

build('no NIC: no -netdev and no -device', () => {
  const a = argv(base);
  assert.not.ok(a.includes('-netdev'));
  assert.not.ok(a.includes('-device'));
});

build('kvm accelerator has no tb-size', () => {
  assert.equal(argv({ ...base, accel: 'kvm' }).slice(0, 2), ['-accel', 'kvm']);
});

build('tb-size, memory, cpus, cpu model', () => {
  const a = argv({ ...base, tbSizeMiB: 64, memoryMiB: 256, cpus: 2, cpuModel: 'qemu64,-cx16' });
  assert.equal(a.slice(0, 10), ['-accel', 'tcg,tb-size=64', '-cpu', 'qemu64,-cx16', '-machine', 'pc', '-m', '256M', '-smp', '2']);
});

build('append goes after the base console options; quiet can be turned off', () => {
  assert.equal(after(argv({ ...base, append: 'vmlab.wget=off vmlab.poweroff=0' }), '-append'), [
    'console=ttyS0 panic=-1 quiet vmlab.wget=off vmlab.poweroff=0',
  ]);
  assert.equal(after(argv({ ...base, quiet: false }), '-append'), ['console=ttyS0 panic=-1']);
});

build('no initrd: no -initrd', () => {
  assert.not.ok(argv({ kernel: '/k' }).includes('-initrd'));
});

build('MACs are written in lower case', () => {
  assert.equal(after(argv({ ...base, nics: [{ socketPath: '/s', mac: '52:54:00:AB:CD:EF' }] }), '-device'), [
    'virtio-net-pci,netdev=n0,mac=52:54:00:ab:cd:ef,romfile=',
  ]);
});

build('extraArgs are appended verbatim at the end', () => {
  assert.equal(argv({ ...base, extraArgs: ['-d', 'guest_errors'] }).slice(-2), ['-d', 'guest_errors']);
});

build.run();

const bad = suite('qemu options validation');

function rejects(o: QemuOptions, field: string, problem: QemuOptionProblem): void {
  const e = errOf(buildQemuArgv(o));
  assert.is(e.kind, 'invalid-vm-options');
  assert.is(e.field, field);
  assert.is(e.problem, problem);
  assert.ok(e.message.includes(field), e.message);
}

bad('missing kernel', () => rejects({ kernel: '' }, 'kernel', 'empty'));
bad('memory below 96 MiB (the Debian test kernel needs 74 MiB physical)', () => rejects({ ...base, memoryMiB: 64 }, 'memoryMiB', 'out-of-range'));
bad('96 MiB is enough', () => assert.ok(buildQemuArgv({ ...base, memoryMiB: 96 }).isOk()));
bad('fractional memory', () => rejects({ ...base, memoryMiB: 127.5 }, 'memoryMiB', 'not-an-integer'));
bad('zero cpus', () => rejects({ ...base, cpus: 0 }, 'cpus', 'out-of-range'));
bad('unknown accelerator', () => rejects({ ...base, accel: 'hvf' as 'kvm' }, 'accel', 'bad-value'));
bad('multi-line append', () => rejects({ ...base, append: 'a\nb' }, 'append', 'forbidden-character'));

bad('socket path of 108 bytes is too long; 107 fits', () => {
  const long = `/${'a'.repeat(107)}`;
  rejects({ ...base, nics: [{ socketPath: long, mac: MAC }] }, 'nics[0].socketPath', 'path-too-long');
  assert.ok(buildQemuArgv({ ...base, nics: [{ socketPath: long.slice(1), mac: MAC }] }).isOk());
});
bad('socket path length counts UTF-8 bytes, not characters', () => {
  const p = `/tmp/${'é'.repeat(52)}`; // 5 + 104 bytes = 109, only 57 characters
  rejects({ ...base, nics: [{ socketPath: p, mac: MAC }] }, 'nics[0].socketPath', 'path-too-long');
});
bad('comma in a socket path', () =>
  rejects({ ...base, nics: [{ socketPath: '/tmp/a,b.sock', mac: MAC }] }, 'nics[0].socketPath', 'forbidden-character'));
bad('empty socket path', () => rejects({ ...base, nics: [{ socketPath: '', mac: MAC }] }, 'nics[0].socketPath', 'empty'));
for (const mac of ['52:54:00:12:34', '52-54-00-12-34-56', '52:54:00:12:34:5g', '5254.0012.3456', '']) {
  bad(`MAC ${JSON.stringify(mac)} is malformed`, () => rejects({ ...base, nics: [{ socketPath: '/s', mac }] }, 'nics[0].mac', 'bad-mac'));
}
bad('multicast MAC', () => rejects({ ...base, nics: [{ socketPath: '/s', mac: '01:00:5e:00:00:01' }] }, 'nics[0].mac', 'multicast-mac'));
bad('two NICs with the same MAC (case-insensitive)', () =>
  rejects(
    { ...base, nics: [{ socketPath: '/a', mac: MAC }, { socketPath: '/b', mac: MAC.toUpperCase() }] },
    'nics[1].mac',
    'duplicate',
  ));
bad('two NICs on the same socket', () =>
  rejects(
    { ...base, nics: [{ socketPath: '/a', mac: MAC }, { socketPath: '/a', mac: '52:54:00:00:00:09' }] },
    'nics[1].socketPath',
    'duplicate',
  ));
bad('cpu model with spaces', () => rejects({ ...base, cpuModel: 'host -x' }, 'cpuModel', 'bad-value'));

bad.run();
