/**
 * Fixed and stable addresses with real VMs (QEMU test guest, TCG, its only NIC on a vnetkit
 * `listenQemu` socket), one network per file, the tests in sequence:
 *
 * 1. `net.reserve({ mac, ip })` gives a VM its fixed address, and it reaches the host from there;
 * 2. restarting VMs (new QEMU processes, same MACs) keeps their addresses, reserved or not, while
 *    a newcomer boots beside them;
 * 3. with a leases file, restarting the network keeps them too — without the reservation being
 *    given again, so it is the file that carries the address.
 *
 * A fresh network would hand out .2, .3, … in boot order, so every expected address below is one
 * a broken implementation would not produce by accident. Host side: 127.0.0.1 only.
 * Needs QEMU and the built guest (adapters/qemu/guest/build-guest.sh); skipped otherwise.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TestResolver } from '../harness/dns/test-resolver.js';
import { TestVm, reportTiming } from './vm/boot.js';
import { runCleanups } from './vm/cleanup.js';
import { vmSkipReason } from './vm/guest-image.js';
import { HOST_GREETING, startHostHttp, type HostHttp } from './vm/host-http.js';
import { makeTestDir, startResolver, startTestNetwork, type TestNetwork } from './vm/test-network.js';

const skip = vmSkipReason();
if (skip !== null) console.log(`SKIP test/e2e/vm-fixed-address.test.ts: ${skip}`);
const it = skip !== null ? test.skip : test;

/** Reserved at {@link FIXED_IP}. */
const MAC_R = '52:54:00:00:0b:50';
/** Dynamic: first in the pool. */
const MAC_X = '52:54:00:00:0b:02';
/** Dynamic: joins later. */
const MAC_D = '52:54:00:00:0b:03';
const FIXED_IP = '192.168.65.50';

interface Lab {
  dir: string;
  resolver: TestResolver;
  http: HostHttp;
  leasesFile: string;
  net: TestNetwork;
  running: TestVm[];
}
let lab: Lab | undefined;

function labOrFail(): Lab {
  if (lab === undefined) throw new Error('the network of the first test is missing');
  return lab;
}

/** Boots VMs in parallel (they share two cores, so this roughly halves the wait) and returns their leases' IPs. */
async function bootAll(l: Lab, vms: Array<{ name: string; mac: string }>): Promise<{ vms: TestVm[]; ips: string[] }> {
  const booted = await Promise.all(
    vms.map((v) => TestVm.boot({ name: v.name, socketPath: l.net.socketPath, mac: v.mac, guest: { hostaddr: '192.168.65.254', hostport: l.http.port } })),
  );
  l.running.push(...booted);
  const leases = await Promise.all(booted.map((vm) => vm.lease()));
  for (const vm of booted) reportTiming(vm, 'lease-acquired');
  return { vms: booted, ips: leases.map((m) => m.fields.ip ?? '') };
}

async function stopAll(l: Lab): Promise<void> {
  await Promise.all(l.running.splice(0).map((vm) => vm.stop()));
}

test.after(runCleanups);

it('a VM whose MAC is reserved with net.reserve() gets the fixed address and reaches the host from it', async () => {
  const dir = await makeTestDir();
  const resolver = await startResolver();
  const http = await startHostHttp();
  const leasesFile = join(dir, 'leases.json');
  const net = await startTestNetwork(dir, resolver, { leasesFile });
  lab = { dir, resolver, http, leasesFile, net, running: [] };
  const reserved = net.net.reserve({ mac: MAC_R, ip: FIXED_IP });
  assert.ok(reserved.isOk(), `reserve: ${reserved.isErr() ? reserved.error.message : ''}`);

  const { vms, ips } = await bootAll(lab, [
    { name: 'vm R', mac: MAC_R },
    { name: 'vm X', mac: MAC_X },
  ]);
  assert.equal(ips, [FIXED_IP, '192.168.65.2'], 'R gets its reservation, X the first pool address');
  const wget = await vms[0]!.marker('wget-ok');
  assert.is(wget.fields.body, HOST_GREETING, 'R reaches host 127.0.0.1 through 192.168.65.254 from its fixed address');
  assert.ok(http.requests.length >= 1 && http.requests.every((r) => r.remoteAddress === '127.0.0.1'));
  assert.equal(
    net.net.leases().map((l) => [l.ip, l.mac]).sort(),
    [
      ['192.168.65.2', MAC_X],
      [FIXED_IP, MAC_R],
    ],
  );
});

it('restarted VMs (new QEMU, same MAC) keep their addresses while a newcomer boots beside them', async () => {
  const l = labOrFail();
  await stopAll(l);
  // The newcomer boots at the same time: had X's lease been forgotten, .2 would be up for grabs.
  const { ips } = await bootAll(l, [
    { name: 'vm R (restarted)', mac: MAC_R },
    { name: 'vm X (restarted)', mac: MAC_X },
    { name: 'vm D', mac: MAC_D },
  ]);
  assert.equal(ips, [FIXED_IP, '192.168.65.2', '192.168.65.3']);
});

it('with a leases file, a restarted network keeps the addresses (the reservation is not given again)', async () => {
  const l = labOrFail();
  await stopAll(l);
  await l.net.close(); // writes the leases file a last time
  const doc = JSON.parse(readFileSync(l.leasesFile, 'utf8')) as { leases: Array<{ ip: string; mac: string }> };
  assert.equal(
    doc.leases.map((e) => [e.ip, e.mac]).sort(),
    [
      ['192.168.65.2', MAC_X],
      ['192.168.65.3', MAC_D],
      [FIXED_IP, MAC_R],
    ],
    'the file holds every lease',
  );

  l.net = await startTestNetwork(l.dir, l.resolver, { leasesFile: l.leasesFile });
  assert.equal(
    l.net.net.leases().map((e) => [e.ip, e.mac]).sort(),
    [
      ['192.168.65.2', MAC_X],
      ['192.168.65.3', MAC_D],
      [FIXED_IP, MAC_R],
    ],
    'restored from the file before any VM asks',
  );
  // A fresh network would give these two .2 and .3.
  const { vms, ips } = await bootAll(l, [
    { name: 'vm D (new network)', mac: MAC_D },
    { name: 'vm R (new network)', mac: MAC_R },
  ]);
  assert.equal(ips, ['192.168.65.3', FIXED_IP]);
  const wget = await vms[1]!.marker('wget-ok');
  assert.is(wget.fields.body, HOST_GREETING, 'R still reaches the host through the new network');
});

test.run();
