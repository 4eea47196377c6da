import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { okOf } from '../qemu/support.js';
import { buildHyperkitArgv } from '../../../adapters/hyperkit/argv.js';
import { linuxkitHyperkitOptions } from '../../../adapters/hyperkit/linuxkit.js';
import type { HyperkitOptions } from '../../../adapters/hyperkit/options.js';

const S = '/tmp/vk/linuxkit-state';
const P = '/tmp/vk/linuxkit';
const U = '6f1c3b7a-2d4e-4f60-9a8b-0c1d2e3f4a5b';
const V = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const CMDLINE = 'console=ttyS0 page_poison=1';

/** Builds and unwraps; a validation error fails the test with its message. */
function argv(o: HyperkitOptions): string[] {
  const r = buildHyperkitArgv(o);
  if (r.isErr()) throw new Error(`unexpected error: ${r.error.message}`);
  return r.value;
}

/** The value after `flag`, for each occurrence. */
function values(a: string[], flag: string): string[] {
  return a.flatMap((t, i) => (t === flag ? [a[i + 1]!] : []));
}

const kexec = { kernel: `${P}-kernel`, initrd: `${P}-initrd.img`, cmdline: CMDLINE };

// protocols.md §5.3, "Example argv produced for `-networking vpnkit -ip 192.168.65.10 -vsock-ports 2376`":
//   hyperkit -A -u -F S/hyperkit.pid -c 1 -m 1024M -s 0:0,hostbridge -s 31,lpc
//   -s 1:0,virtio-vpnkit,path=S/vpnkit_eth.sock,uuid=U,preferred_ipv4=192.168.65.10 -U V
//   -s 2,virtio-sock,guest_cid=3,path=S,guest_forwards=2376;62373 -s 3,virtio-rnd
//   -s 4,virtio-9p,path=S/vpnkit_port.sock,tag=port -l com1,stdio,log=S/console-ring
//   -f kexec,P-kernel,P-initrd.img,earlyprintk=serial <cmdline>
const SPEC_EXAMPLE = [
  '-A', '-u', '-F', `${S}/hyperkit.pid`, '-c', '1', '-m', '1024M', '-s', '0:0,hostbridge', '-s', '31,lpc',
  '-s', `1:0,virtio-vpnkit,path=${S}/vpnkit_eth.sock,uuid=${U},preferred_ipv4=192.168.65.10`, '-U', V,
  '-s', `2,virtio-sock,guest_cid=3,path=${S},guest_forwards=2376;62373`, '-s', '3,virtio-rnd',
  '-s', `4,virtio-9p,path=${S}/vpnkit_port.sock,tag=port`, '-l', `com1,stdio,log=${S}/console-ring`,
  '-f', `kexec,${P}-kernel,${P}-initrd.img,earlyprintk=serial ${CMDLINE}`,
]; // prettier-ignore

const spec = suite('hyperkit argv: protocols.md §5.3 example');

spec('explicit options reproduce the example token for token', () => {
  const a = argv({
    stateDir: S,
    vpnkit: { socketPath: `${S}/vpnkit_eth.sock`, uuid: U, preferredIpv4: '192.168.65.10' },
    smbiosUuid: V,
    vsock: { ports: [2376, 62373] },
    shares9p: [{ path: `${S}/vpnkit_port.sock`, tag: 'port' }],
    ...kexec,
  });
  assert.equal(a, SPEC_EXAMPLE);
});

spec('linuxkit flags -networking vpnkit -ip 192.168.65.10 -vsock-ports 2376 map to the same argv', () => {
  const o = linuxkitHyperkitOptions({
    prefix: P,
    stateDir: S,
    cmdline: CMDLINE,
    networking: { mode: 'vpnkit' },
    vpnkitUuid: U,
    smbiosUuid: V,
    ip: '192.168.65.10',
    vsockPorts: [2376],
  });
  assert.ok(o.isOk());
  assert.equal(argv(okOf(o)), SPEC_EXAMPLE);
});

spec.run();

const opt = suite('hyperkit argv: one option at a time');

opt('minimal kexec boot without state dir: defaults, no pidfile, plain stdio console, rng only', () => {
  assert.equal(argv({ kernel: 'k', initrd: 'i', cmdline: 'quiet' }), [
    '-A', '-u', '-c', '1', '-m', '1024M', '-s', '0:0,hostbridge', '-s', '31,lpc',
    '-s', '1,virtio-rnd', '-l', 'com1,stdio', '-f', 'kexec,k,i,earlyprintk=serial quiet',
  ]); // prettier-ignore
});

opt('stateDir adds -F <state>/hyperkit.pid right after -A -u and logs the console', () => {
  const a = argv({ kernel: 'k', initrd: 'i', stateDir: '/s' });
  assert.equal(a.slice(0, 4), ['-A', '-u', '-F', '/s/hyperkit.pid']);
  assert.equal(values(a, '-l'), ['com1,stdio,log=/s/console-ring']);
});

opt('cpus and memoryMiB', () => {
  const a = argv({ kernel: 'k', initrd: 'i', cpus: 4, memoryMiB: 2048 });
  assert.equal(a.slice(2, 6), ['-c', '4', '-m', '2048M']);
});

opt('vpnkit NIC with only a socket path', () => {
  assert.equal(values(argv({ kernel: 'k', initrd: 'i', vpnkit: { socketPath: '/v.sock' } }), '-s')[2], '1:0,virtio-vpnkit,path=/v.sock');
});

opt('vpnkit uuid without preferred IP', () => {
  const a = argv({ kernel: 'k', initrd: 'i', vpnkit: { socketPath: '/v.sock', uuid: U } });
  assert.equal(values(a, '-s')[2], `1:0,virtio-vpnkit,path=/v.sock,uuid=${U}`);
});

opt('vmnet takes the slot after the vpnkit NIC', () => {
  const a = argv({ kernel: 'k', initrd: 'i', vpnkit: { socketPath: '/v.sock' }, vmnet: true });
  assert.equal(values(a, '-s').slice(2, 5), ['1:0,virtio-vpnkit,path=/v.sock', '2:0,virtio-net', '3,virtio-rnd']);
});

opt('smbiosUuid is -U between NICs and disks and takes no slot', () => {
  const a = argv({ kernel: 'k', initrd: 'i', smbiosUuid: V, disks: [{ path: '/d.img' }] });
  assert.equal(values(a, '-U'), [V]);
  assert.ok(a.indexOf('-U') < a.indexOf('1:0,virtio-blk,/d.img'));
  assert.equal(values(argv({ kernel: 'k', initrd: 'i' }), '-U'), []);
});

opt('disks: virtio-blk by default, format and driver when given', () => {
  const a = argv({
    kernel: 'k',
    initrd: 'i',
    disks: [{ path: '/a.img' }, { path: '/b.qcow2', format: 'qcow' }, { path: '/c.img', driver: 'ahci-hd' }],
  });
  assert.equal(values(a, '-s').slice(2, 5), ['1:0,virtio-blk,/a.img', '2:0,virtio-blk,/b.qcow2,format=qcow', '3:0,ahci-hd,/c.img']);
});

opt('vsock without ports has no guest_forwards; guestCid is configurable', () => {
  const a = argv({ kernel: 'k', initrd: 'i', stateDir: '/s', vsock: { guestCid: 7 } });
  assert.equal(values(a, '-s')[2], '1,virtio-sock,guest_cid=7,path=/s');
});

opt('vsock defaults to guest CID 3 and joins ports with ;', () => {
  const a = argv({ kernel: 'k', initrd: 'i', stateDir: '/s', vsock: { ports: [1, 2, 3, 4] } });
  assert.equal(values(a, '-s')[2], '1,virtio-sock,guest_cid=3,path=/s,guest_forwards=1;2;3;4');
});

opt('isos become ahci-cd devices after virtio-sock', () => {
  const a = argv({ kernel: 'k', initrd: 'i', stateDir: '/s', vsock: {}, isos: ['/x.iso', '/y.iso'] });
  assert.equal(values(a, '-s').slice(2, 6), ['1,virtio-sock,guest_cid=3,path=/s', '2,ahci-cd,/x.iso', '3,ahci-cd,/y.iso', '4,virtio-rnd']);
});

opt('rng: false drops virtio-rnd', () => {
  assert.equal(values(argv({ kernel: 'k', initrd: 'i', rng: false }), '-s'), ['0:0,hostbridge', '31,lpc']);
});

opt('9P shares come after virtio-rnd, one slot each', () => {
  const a = argv({ kernel: 'k', initrd: 'i', shares9p: [{ path: '/p.sock', tag: 'port' }, { path: '/q.sock', tag: 'data' }] });
  assert.equal(values(a, '-s').slice(2), ['1,virtio-rnd', '2,virtio-9p,path=/p.sock,tag=port', '3,virtio-9p,path=/q.sock,tag=data']);
});

opt('pty console: autopty at <state>/tty and the ring log', () => {
  const a = argv({ kernel: 'k', initrd: 'i', stateDir: '/s', console: 'pty' });
  assert.equal(values(a, '-l'), ['com1,autopty=/s/tty,log=/s/console-ring']);
});

opt('bootrom boot: -f bootrom,<firmware>,, and it is the last argument', () => {
  const a = argv({ bootrom: '/fw/UEFI.fd' });
  assert.equal(a.slice(-2), ['-f', 'bootrom,/fw/UEFI.fd,,']);
});

opt('kexec without cmdline keeps earlyprintk=serial alone', () => {
  assert.equal(argv({ kernel: 'k', initrd: 'i' }).slice(-2), ['-f', 'kexec,k,i,earlyprintk=serial']);
});

opt('the kernel command line may contain commas (hyperkit splits -f at the first three only)', () => {
  assert.equal(argv({ kernel: 'k', initrd: 'i', cmdline: 'a=1,2 b' }).slice(-1), ['kexec,k,i,earlyprintk=serial a=1,2 b']);
});

opt('every device kind at once keeps the documented order and consecutive slots', () => {
  const a = argv({
    stateDir: '/s',
    vpnkit: { socketPath: '/v.sock' },
    vmnet: true,
    smbiosUuid: V,
    disks: [{ path: '/d.img' }],
    vsock: { ports: [5] },
    isos: ['/c.iso'],
    shares9p: [{ path: '/p.sock', tag: 't' }],
    console: 'pty',
    ...kexec,
  });
  assert.equal(a, [
    '-A', '-u', '-F', '/s/hyperkit.pid', '-c', '1', '-m', '1024M', '-s', '0:0,hostbridge', '-s', '31,lpc',
    '-s', '1:0,virtio-vpnkit,path=/v.sock', '-s', '2:0,virtio-net', '-U', V, '-s', '3:0,virtio-blk,/d.img',
    '-s', '4,virtio-sock,guest_cid=3,path=/s,guest_forwards=5', '-s', '5,ahci-cd,/c.iso', '-s', '6,virtio-rnd',
    '-s', '7,virtio-9p,path=/p.sock,tag=t', '-l', 'com1,autopty=/s/tty,log=/s/console-ring',
    '-f', `kexec,${P}-kernel,${P}-initrd.img,earlyprintk=serial ${CMDLINE}`,
  ]); // prettier-ignore
});

opt.run();
