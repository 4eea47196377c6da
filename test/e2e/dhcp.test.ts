/**
 * DHCP end to end with real clients: Linux network-namespace guests run busybox `udhcpc` and ISC
 * `dhclient` against the gateway of a real VirtualNetwork (QEMU stream framing, and vmnet for the
 * preferred-IPv4 path). Needs root on Linux (see `e2eSkipReason`); otherwise skipped with the
 * reason printed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { DhcpService, LeasePool } from '../../src/services/dhcp/index.js';
import type { LeaseEvent } from '../../src/events.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import type { NetworkOptions } from '../../src/options.js';
import { runDhcp } from './harness/dhcp.js';
import { HarnessError } from './harness/harness-error.js';
import { findExecutable } from './harness/find-executable.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest, type GuestOptions } from './harness/netns.js';

const skip = e2eSkipReason(['busybox']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/dhcp.test.ts: ${skip}`);
const itDhclient = skip || !findExecutable('dhclient') ? test.skip : test;
if (!skip && !findExecutable('dhclient')) console.log('SKIP the dhclient case: `dhclient` not on PATH (apt-get install isc-dhcp-client)');

let dir = '';
let seq = 0;
/** Everything one running network owns, closed after each test. */
interface Running {
  net: VirtualNetwork;
  service: DhcpService;
  pool: LeasePool;
  leases: LeaseEvent[];
  qemu: string;
  hyperkit: string;
}
const running: Running[] = [];

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-dhcp-');
});
test.after.each(async () => {
  await closeAllGuests();
  for (const r of running.splice(0)) await stop(r);
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The facade's own DHCP service, with its lease events collected. */
function wireDhcp(net: VirtualNetwork): Omit<Running, 'qemu' | 'hyperkit' | 'net'> {
  const leases: LeaseEvent[] = [];
  net.on('lease', (e) => leases.push(e));
  return { service: net.dhcp, pool: net.dhcp.pool, leases };
}

async function start(options: NetworkOptions = {}): Promise<Running> {
  const net = VirtualNetwork.create(options)._unsafeUnwrap();
  const r: Running = { net, ...wireDhcp(net), qemu: join(dir, `qemu-${++seq}.sock`), hyperkit: join(dir, `vmnet-${seq}.sock`) };
  running.push(r);
  (await net.listenQemu(r.qemu))._unsafeUnwrap();
  (await net.listenHyperkit(r.hyperkit))._unsafeUnwrap();
  return r;
}

async function stop(r: Running): Promise<void> {
  const i = running.indexOf(r);
  if (i >= 0) running.splice(i, 1);
  // close() writes the leases file a last time (cli.md).
  await r.net.close();
}

function guest(r: Running, o: Partial<GuestOptions> = {}): Promise<Guest> {
  return createGuest({ socketPath: o.framing === 'vmnet' ? r.hyperkit : r.qemu, framing: 'qemu', ...o });
}

it('udhcpc: three guests get .2, .3, .4 in order, with router, DNS, MTU, domain and search from the gateway', async () => {
  const r = await start({ mtu: 4000, domain: 'vnet.test', searchDomains: ['vnet.test', 'corp.test'] });
  const got: string[] = [];
  for (const [i, mac] of ['02:00:00:00:01:01', '02:00:00:00:01:02', '02:00:00:00:01:03'].entries()) {
    const g = await guest(r, { mac });
    const lease = await runDhcp(g, { hostname: `guest${i}` });
    got.push(lease.ip);
    assert.equal(
      { prefix: lease.prefix, router: lease.router, dns: lease.dns, mtu: lease.mtu, domain: lease.domain, search: lease.search, server: lease.serverId },
      { prefix: 24, router: '192.168.65.1', dns: ['192.168.65.1'], mtu: 4000, domain: 'vnet.test', search: ['vnet.test', 'corp.test'], server: '192.168.65.1' },
    );
    const link = await g.exec(['ip', '-o', 'link', 'show', g.tap]);
    assert.match(link.stdout, / mtu 4000 /, 'option 26 applied');
  }
  assert.equal(got, ['192.168.65.2', '192.168.65.3', '192.168.65.4']);
  assert.equal(
    r.leases.map((l) => [l.ip, l.hostname]),
    [
      ['192.168.65.2', 'guest0'],
      ['192.168.65.3', 'guest1'],
      ['192.168.65.4', 'guest2'],
    ],
  );
});

it('a reserved MAC gets its fixed address; a guest that reconnects keeps its address', async () => {
  const r = await start({ reservations: [{ mac: '02:00:00:00:02:99', ip: '192.168.65.50' }] });
  const a = await guest(r, { mac: '02:00:00:00:02:01' });
  assert.is((await runDhcp(a)).ip, '192.168.65.2');
  const fixed = await guest(r, { mac: '02:00:00:00:02:99' });
  assert.is((await runDhcp(fixed)).ip, '192.168.65.50');
  // The first guest goes away (its relay and namespace die) and a new one comes with its MAC.
  await a.close();
  const b = await guest(r, { mac: '02:00:00:00:02:02' });
  assert.is((await runDhcp(b)).ip, '192.168.65.3');
  const again = await guest(r, { mac: '02:00:00:00:02:01' });
  assert.is((await runDhcp(again)).ip, '192.168.65.2');
  // It can reach the gateway from that address.
  const ping = await again.exec(['busybox', 'ping', '-c', '1', '-w', '5', '192.168.65.1'], { reject: false });
  assert.match(ping.stdout, /1 packets received/);
});

it('a leases file restores the addresses after a restart', async () => {
  const file = join(dir, 'leases.json');
  const r1 = await start({ leasesFile: file });
  for (const mac of ['02:00:00:00:03:01', '02:00:00:00:03:02']) await runDhcp(await guest(r1, { mac }));
  await closeAllGuests();
  await stop(r1);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { version: number; leases: Array<{ ip: string; mac: string }> };
  assert.is(doc.version, 1);
  assert.equal(
    doc.leases.map((l) => [l.ip, l.mac]),
    [
      ['192.168.65.2', '02:00:00:00:03:01'],
      ['192.168.65.3', '02:00:00:00:03:02'],
    ],
  );
  // A new process: the second guest comes back first and still gets .3; a newcomer gets .4.
  const r2 = await start({ leasesFile: file });
  assert.is((await runDhcp(await guest(r2, { mac: '02:00:00:00:03:02' }))).ip, '192.168.65.3');
  assert.is((await runDhcp(await guest(r2, { mac: '02:00:00:00:03:03' }))).ip, '192.168.65.4');
  assert.is((await runDhcp(await guest(r2, { mac: '02:00:00:00:03:01' }))).ip, '192.168.65.2');
});

it('vmnet: a preferred IPv4 is bound at handshake and served by DHCP; another UUID asking for it is refused with vpnkit\'s reason', async () => {
  const r = await start();
  const U1 = 'c3d68012-0208-11ea-9fd7-f2189899ab08';
  const g = await guest(r, { framing: 'vmnet', uuid: U1, preferredIp: '192.168.65.20' });
  assert.is((await runDhcp(g)).ip, '192.168.65.20');
  assert.is(r.pool.leaseOfUuid(U1)!.state, 'bound');
  const refused = await guest(r, { framing: 'vmnet', uuid: '5f1b8d7e-9c8a-4b1e-8f3c-2a6b7c8d9e0f', preferredIp: '192.168.65.20' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(refused instanceof HarnessError, 'the relay failed');
  assert.match(String((refused as HarnessError).message + JSON.stringify(refused)), /Preferred IP address 192\.168\.65\.20 already used\./);
  // A UUID without a preference gets the next address from the pool.
  const h = await guest(r, { framing: 'vmnet', uuid: '0b5c1e6a-3f2d-4c7b-9a8e-1d2c3b4a5f60' });
  assert.is((await runDhcp(h)).ip, '192.168.65.2');
});

itDhclient('ISC dhclient: a lease with interface-mtu, then an INIT-REBOOT request keeps the address', async () => {
  const r = await start({ mtu: 9000 });
  const g = await guest(r, { mac: '02:00:00:00:04:01' });
  const conf = join(dir, 'dhclient.conf');
  writeFileSync(conf, 'request subnet-mask, broadcast-address, routers, domain-name-servers, interface-mtu;\n');
  const script = join(dir, 'dhclient-script');
  const log = join(dir, 'dhclient.log');
  // Record what dhclient reports; configure nothing (the lease is what is under test).
  writeFileSync(script, `#!/bin/sh\necho "$reason ip=$new_ip_address mtu=$new_interface_mtu routers=$new_routers dns=$new_domain_name_servers" >> ${log}\nexit 0\n`, { mode: 0o755 });
  const lf = join(dir, 'dhclient.leases');
  const dhclient = (extra: string[]): Promise<unknown> =>
    g.exec(['dhclient', '-1', '-v', '-cf', conf, '-sf', script, '-lf', lf, '-pf', join(dir, 'dhclient.pid'), ...extra, g.tap], { timeoutMs: 60_000 });
  await dhclient([]);
  assert.match(readFileSync(log, 'utf8'), /^BOUND ip=192\.168\.65\.2 mtu=9000 routers=192\.168\.65\.1 dns=192\.168\.65\.1$/m);
  // Release (-r) would free it; instead stop dhclient and start again: with the lease file it
  // goes through INIT-REBOOT (a REQUEST for the remembered address, no server id) and must get it.
  await g.exec(['dhclient', '-x', '-pf', join(dir, 'dhclient.pid'), '-lf', lf, '-sf', script, g.tap], { reject: false, timeoutMs: 30_000 });
  writeFileSync(log, '');
  await dhclient([]);
  assert.match(readFileSync(log, 'utf8'), /^(REBOOT|BOUND) ip=192\.168\.65\.2 /m);
  await g.exec(['dhclient', '-x', '-pf', join(dir, 'dhclient.pid'), '-lf', lf, '-sf', script, g.tap], { reject: false, timeoutMs: 30_000 });
  assert.ok(r.leases.length >= 2, 'a lease event per ACK');
  assert.ok(r.leases.every((l) => l.ip === '192.168.65.2' && l.mac === '02:00:00:00:04:01'));
});

test.run();
