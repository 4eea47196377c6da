/**
 * Real VMs on a vnetkit network: the QEMU test guest (TCG) with its only NIC on a `listenQemu`
 * socket. One network for the file; VM A boots in the first test and stays up for the next ones.
 *
 * - A gets its DHCP lease from vnetkit, resolves `host.internal` through the gateway's DNS and
 *   fetches from a host HTTP server on 127.0.0.1 through the host-loopback alias;
 * - the host reaches A's httpd through an exposed port 80 (`exposePort`), and not after closing it;
 * - VM B, on the same network, fetches from A's httpd.
 *
 * The guest resolves names with busybox nslookup at boot (`vmlab.lookup`) and wgets the host by
 * name (the gateway is its only resolver). Traffic: host side 127.0.0.1
 * only (egress allow 127.0.0.0/8), DNS upstream a test resolver on 127.0.0.1.
 * Needs QEMU and the built guest (adapters/qemu/guest/build-guest.sh); skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitUntil } from './harness/probes.js';
import { TestVm, reportTiming } from './vm/boot.js';
import { runCleanups } from './vm/cleanup.js';
import { exposeGuestPort } from './vm/expose.js';
import { vmSkipReason } from './vm/guest-image.js';
import { httpGetText } from './vm/host-client.js';
import { HOST_GREETING, startHostHttp, type HostHttp } from './vm/host-http.js';
import { makeTestDir, startResolver, startTestNetwork, type TestNetwork } from './vm/test-network.js';

const skip = vmSkipReason();
if (skip !== null) console.log(`SKIP test/e2e/vm-connectivity.test.ts: ${skip}`);
const it = skip !== null ? test.skip : test;

const MAC_A = '52:54:00:00:0a:01';
const MAC_B = '52:54:00:00:0a:02';
/** Not the guest's default 1500, so seeing it applied proves DHCP option 26 came from vnetkit. */
const MTU = 4000;

let lab: { net: TestNetwork; http: HostHttp; a: TestVm; aIp: string } | undefined;

/** The network and VM A from the first test (later tests need A running). */
function labOrFail(): NonNullable<typeof lab> {
  if (lab === undefined) throw new Error('VM A did not come up in the first test');
  return lab;
}

test.after(runCleanups);

it('a VM gets its DHCP lease from vnetkit, resolves host.internal and fetches from host 127.0.0.1 through the alias', async () => {
  const dir = await makeTestDir();
  const resolver = await startResolver();
  const http = await startHostHttp();
  const net = await startTestNetwork(dir, resolver, { mtu: MTU });
  const a = await TestVm.boot({ name: 'vm A', socketPath: net.socketPath, mac: MAC_A, guest: { hostaddr: 'host.internal', hostport: http.port, lookup: ['host.internal', 'gateway.internal', 'www.example.test'] } });

  const lease = await a.lease();
  assert.equal(
    {
      ip: lease.fields.ip,
      prefix: lease.fields.prefix,
      router: lease.fields.router,
      dns: lease.fields.dns,
      server: lease.fields.server,
      mtu: lease.fields.mtu,
      applied: lease.fields.applied_mtu,
    },
    { ip: '192.168.65.2', prefix: '24', router: '192.168.65.1', dns: '192.168.65.1', server: '192.168.65.1', mtu: String(MTU), applied: String(MTU) },
    'the first guest gets .2, and the gateway as router, DNS server and DHCP server, with the network MTU',
  );
  const wget = await a.marker('wget-ok');
  assert.is(wget.fields.url, `http://host.internal:${http.port}/`);
  const lookups = (await a.markers('lookup')).map((m) => [m.fields.name, m.fields.ip]);
  assert.equal(lookups.slice(0, 2), [['host.internal', '192.168.65.254'], ['gateway.internal', '192.168.65.1']], 'nslookup in the guest through the gateway');
  assert.is(wget.fields.body, HOST_GREETING);
  await a.marker('ready');
  reportTiming(a, 'lease-acquired', 'httpd-up', 'ready');

  // The host saw one request, from its own loopback: vnetkit's host socket, not the guest.
  assert.equal(http.requests, [{ method: 'GET', path: '/', remoteAddress: '127.0.0.1' }]);
  // host.internal is the gateway's own name: it was answered there, never forwarded upstream.
  assert.not.ok(resolver.log.some((q) => q.name.toLowerCase().startsWith('host.internal')), `forwarded: ${JSON.stringify(resolver.log)}`);
  // The facade reported the lease, with the hostname the guest sent (udhcpc -x hostname:vmlab-guest).
  const leases = net.net.leases();
  assert.equal(
    leases.map((l) => [l.ip, l.mac, l.hostname]),
    [['192.168.65.2', MAC_A, 'vmlab-guest']],
  );
  const leaseEvents = net.events.filter((e) => e.name === 'lease').map((e) => (e.data as { ip: string; mac: string }).ip);
  assert.ok(leaseEvents.includes('192.168.65.2'), 'a lease event was emitted');
  // (NicStats.mac is only known for vmnet NICs today, so A's NIC is found as the only one.)
  const nics = net.net.stats().nics;
  assert.is(nics.length, 1, `one NIC: ${JSON.stringify(nics)}`);
  assert.is(nics[0]!.transport, 'qemu');
  assert.ok(nics[0]!.framesIn > 0 && nics[0]!.framesOut > 0, 'frames crossed it both ways');
  lab = { net, http, a, aIp: lease.fields.ip! };
});

it('the host reaches the VM\'s httpd through its exposed port 80', async () => {
  const { net, aIp } = labOrFail();
  // No guest named: A is the only leased guest, as for exposePort(80) (on a free host port here).
  const exposed = await exposeGuestPort(net.net, undefined, 80);
  assert.is(exposed.guestIp, aIp);
  const page = await httpGetText(exposed.hostPort, '/');
  assert.equal(page, { status: 200, body: `hello from vmlab guest ${aIp}\n` });
  await waitUntil('the exposed connection to close after the page', () => exposed.connections === 0, { timeoutMs: 30_000 });
  await exposed.close();
  // Closed means closed: the host port no longer answers.
  const refused = await httpGetText(exposed.hostPort, '/', 5000).then(
    () => 'answered',
    (e: NodeJS.ErrnoException) => e.code,
  );
  assert.is(refused, 'ECONNREFUSED');
});

it('a second VM on the same network fetches from the first VM\'s httpd', async () => {
  const { net, aIp } = labOrFail();
  const b = await TestVm.boot({ name: 'vm B', socketPath: net.socketPath, mac: MAC_B, guest: { hostaddr: aIp, hostport: 80 } });
  const lease = await b.lease();
  assert.is(lease.fields.ip, '192.168.65.3', 'the second guest gets the next address');
  const wget = await b.marker('wget-ok');
  assert.is(wget.fields.url, `http://${aIp}:80/`);
  assert.is(wget.fields.body, `hello from vmlab guest ${aIp}`);
  reportTiming(b, 'lease-acquired', 'wget-ok');
  // Guest-to-guest traffic is switched, not NATed: no outbound host connection was made for it.
  assert.is(net.net.tcpOut.stats().accepted, 1, 'only A\'s fetch from the host went through the outbound NAT');
});

test.run();
