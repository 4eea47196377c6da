/**
 * The DHCP helper against a real, independent DHCP server: busybox `udhcpd` in a second
 * namespace guest on the same frame hub. Checks that the lease is parsed, applied (address,
 * route, MTU) and that resolv.conf changes only inside the guest.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLease, runDhcp } from './dhcp.js';
import { startFrameHub, type FrameHub } from './frame-hub.js';
import { HarnessError } from './harness-error.js';
import { closeAllGuests, createGuest, e2eSkipReason } from './netns.js';
import { waitUntil } from './probes.js';

const skip = e2eSkipReason(['busybox']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/harness/dhcp.test.ts: ${skip}`);

let dir = '';
let hub: FrameHub | undefined;

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-d-');
});
test.after.each(async () => {
  await closeAllGuests();
  await hub?.close();
  hub = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('parseLease reads the script line and maps "none" to absent', () => {
  const out = [
    'udhcpc: started, v1.35.0',
    'VNK lease ip=10.0.0.9 prefix=24 router=none dns=1.1.1.1,8.8.8.8 domain=none search=a.test,b.test mtu=none lease=3600 server=10.0.0.1',
  ].join('\n');
  assert.equal(parseLease(out), {
    ip: '10.0.0.9',
    prefix: 24,
    router: undefined,
    dns: ['1.1.1.1', '8.8.8.8'],
    domain: undefined,
    search: ['a.test', 'b.test'],
    mtu: undefined,
    leaseSeconds: 3600,
    serverId: '10.0.0.1',
  });
  assert.is(parseLease('udhcpc: no lease, failing'), undefined);
  assert.is(parseLease('VNK lease prefix=24'), undefined, 'no ip: not a lease');
});

it('runDhcp gets, applies and reports a lease from busybox udhcpd', async () => {
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'qemu' });
  const server = await createGuest({ socketPath: hub.path, framing: 'qemu' });
  await server.setAddress('10.99.0.1/24');
  const conf = join(dir, 'udhcpd.conf');
  writeFileSync(join(dir, 'udhcpd.leases'), '');
  writeFileSync(
    conf,
    [
      'start 10.99.0.100',
      'end 10.99.0.110',
      `interface ${server.tap}`,
      `lease_file ${join(dir, 'udhcpd.leases')}`,
      `pidfile ${join(dir, 'udhcpd.pid')}`,
      'option subnet 255.255.255.0',
      'option router 10.99.0.1',
      'option dns 10.99.0.53 10.99.0.54',
      'option domain vnk.test',
      'option mtu 1400',
      'option lease 600',
      '',
    ].join('\n'),
  );
  const udhcpd = server.spawn(['busybox', 'udhcpd', '-f', conf]);
  await waitUntil('udhcpd to bind port 67', async () => {
    const r = await server.exec(['ss', '-Hlun', 'sport = :67'], { reject: false });
    return r.stdout.trim() !== '' || udhcpd.exitCode !== null;
  });
  assert.is(udhcpd.exitCode, null, 'udhcpd is running');

  const hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
  const client = await createGuest({ socketPath: hub.path, framing: 'qemu' });
  const lease = await runDhcp(client, { hostname: 'vnk-client' });
  assert.match(lease.ip, /^10\.99\.0\.1(0\d|10)$/);
  assert.is(lease.prefix, 24);
  assert.is(lease.router, '10.99.0.1');
  assert.equal(lease.dns, ['10.99.0.53', '10.99.0.54']);
  assert.is(lease.domain, 'vnk.test');
  assert.is(lease.mtu, 1400);
  assert.is(lease.leaseSeconds, 600);
  assert.is(lease.serverId, '10.99.0.1');

  const addr = await client.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', client.tap]);
  assert.match(addr.stdout, `inet ${lease.ip}/24`);
  const route = await client.exec(['ip', 'route', 'show', 'default']);
  assert.match(route.stdout, `default via 10.99.0.1 dev ${client.tap}`);
  assert.is((await client.exec(['cat', `/sys/class/net/${client.tap}/mtu`])).stdout.trim(), '1400');
  const resolv = (await client.exec(['cat', '/etc/resolv.conf'])).stdout;
  assert.match(resolv, 'search vnk.test');
  assert.match(resolv, 'nameserver 10.99.0.53\nnameserver 10.99.0.54');
  assert.is(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv, "the host's resolv.conf is untouched");

  const ping = await client.exec(['busybox', 'ping', '-c', '2', '-i', '0.2', '-w', '20', '10.99.0.1']);
  assert.match(ping.stdout, /2 packets received/);
});

it('runDhcp fails with the namespace, the command and udhcpc output when nobody answers', async () => {
  hub = await startFrameHub(join(dir, 'hub.sock'), { framing: 'qemu' });
  const client = await createGuest({ socketPath: hub.path, framing: 'qemu' });
  try {
    await runDhcp(client, { tries: 2 });
    assert.unreachable('no DHCP server: runDhcp must throw');
  } catch (e) {
    if (!(e instanceof HarnessError)) throw e;
    assert.is(e.namespace, client.name);
    assert.match(e.message, 'udhcpc obtained no lease');
    assert.match(e.message, 'busybox udhcpc -i tap0');
    assert.is(e.exitCode, 1);
    assert.match(e.stderr + e.stdout, /no lease, failing/);
  }
});

test.run();
