import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { okOf, errOf } from '../qemu/support.js';
import { linuxkitHyperkitOptions, type LinuxkitRunInput } from '../../../adapters/hyperkit/linuxkit.js';

const base: LinuxkitRunInput = { prefix: '/img/lk', stateDir: '/img/lk-state', cmdline: 'console=ttyS0', networking: { mode: 'none' } };

test('kernel and initrd are named after the prefix; vsock is always on in the state dir', () => {
  const o = okOf(linuxkitHyperkitOptions(base));
  assert.is(o.kernel, '/img/lk-kernel');
  assert.is(o.initrd, '/img/lk-initrd.img');
  assert.is(o.cmdline, 'console=ttyS0');
  assert.is(o.stateDir, '/img/lk-state');
  assert.equal(o.vsock, { ports: [] });
  assert.is(o.vpnkit, undefined);
  assert.is(o.shares9p, undefined);
});

test('vpnkit mode without sockets uses the state dir sockets, the port 9P share and vsock 62373', () => {
  const o = okOf(linuxkitHyperkitOptions({ ...base, networking: { mode: 'vpnkit' }, vsockPorts: [2376] }));
  assert.equal(o.vpnkit, { socketPath: '/img/lk-state/vpnkit_eth.sock' });
  assert.equal(o.shares9p, [{ path: '/img/lk-state/vpnkit_port.sock', tag: 'port' }]);
  assert.equal(o.vsock, { ports: [2376, 62373] });
});

test('vpnkit mode with both sockets given uses them', () => {
  const o = okOf(linuxkitHyperkitOptions({
    ...base,
    networking: { mode: 'vpnkit', ethernetSocket: '/run/eth.sock', portSocket: '/run/port.sock' },
  }));
  assert.equal(o.vpnkit, { socketPath: '/run/eth.sock' });
  assert.equal(o.shares9p, [{ path: '/run/port.sock', tag: 'port' }]);
  assert.equal(o.vsock, { ports: [62373] });
});

test('vpnkit mode with only an ethernet socket has no port share and no 62373', () => {
  const o = okOf(linuxkitHyperkitOptions({ ...base, networking: { mode: 'vpnkit', ethernetSocket: '/run/eth.sock' } }));
  assert.equal(o.vpnkit, { socketPath: '/run/eth.sock' });
  assert.is(o.shares9p, undefined);
  assert.equal(o.vsock, { ports: [] });
});

test('vmnet mode adds the vmnet NIC and no vpnkit NIC', () => {
  const o = okOf(linuxkitHyperkitOptions({ ...base, networking: { mode: 'vmnet' } }));
  assert.is(o.vmnet, true);
  assert.is(o.vpnkit, undefined);
});

test('-ip without vpnkit networking is an error', () => {
  const e = errOf(linuxkitHyperkitOptions({ ...base, ip: '192.168.65.10' }));
  assert.is(e.kind, 'invalid-vm-options');
  assert.is(e.field, 'ip');
  assert.match(e.message, /vpnkit/);
});

test('cpus, memory, disks, ISOs and console pass through', () => {
  const o = okOf(linuxkitHyperkitOptions({
    ...base,
    cpus: 2,
    memoryMiB: 512,
    disks: [{ path: '/d.img' }],
    isos: ['/img/lk-state/data.iso'],
    console: 'pty',
  }));
  assert.is(o.cpus, 2);
  assert.is(o.memoryMiB, 512);
  assert.equal(o.disks, [{ path: '/d.img' }]);
  assert.equal(o.isos, ['/img/lk-state/data.iso']);
  assert.is(o.console, 'pty');
});

test.run();
