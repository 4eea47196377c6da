/**
 * A VM killed in the middle of a transfer leaves nothing behind in vnetkit, and the network keeps
 * serving the VM next to it. QEMU test guests (TCG), each NIC on one `listenQemu` socket:
 *
 * 1. the guest downloads `/blob` from a host server (through `host.internal` → 192.168.65.254 →
 *    127.0.0.1) and QEMU is killed: its NIC leaves `stats().nics`, the outbound TCP flow and its
 *    host socket are closed, and a UDP NAT flow it had open is freed too;
 * 2. the host pulls the guest's `/blob` through an exposed port and QEMU is killed: the host's
 *    download is cut (not left hanging), and the exposed connection is gone.
 * After each, the other VM still answers through its own exposed port 80.
 *
 * The UDP flow: the victim is configured (vmlab.static) with 192.168.65.254 as its first DNS server
 * and the gateway as its second. Nothing listens on host 127.0.0.1:53 (checked first — if
 * something does, that part is skipped, since tests must not query the host's resolvers), so the
 * host refuses, vnetkit forwards the refusal as ICMP, the guest moves to the gateway, and the NAT
 * flow stays open with its query unanswered until the VM dies.
 * Host side: 127.0.0.1 only. Needs QEMU and the built guest; skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitUntil, withTimeout } from './harness/probes.js';
import { TestVm, reportTiming } from './vm/boot.js';
import { runCleanups } from './vm/cleanup.js';
import { exposeGuestPort, type ExposedGuestPort } from './vm/expose.js';
import { vmSkipReason } from './vm/guest-image.js';
import { holdDownload, httpGetText, udpPortFree } from './vm/host-client.js';
import { startHostHttp, type HostHttp } from './vm/host-http.js';
import { makeTestDir, nextEvent, startResolver, startTestNetwork, type TestNetwork } from './vm/test-network.js';

const skip = vmSkipReason();
if (skip !== null) console.log(`SKIP test/e2e/vm-kill-mid-transfer.test.ts: ${skip}`);
const it = skip !== null ? test.skip : test;

const MAC_OTHER = '52:54:00:00:0c:01';
const MAC_VICTIM = '52:54:00:00:0c:02';
const MAC_VICTIM2 = '52:54:00:00:0c:03';
/** Outside the DHCP order a fresh network uses (.2, .3, …), inside the subnet. */
const VICTIM_STATIC_IP = '192.168.65.60';

/** Flow and NIC counts that must come back after a VM is killed. */
interface Baseline {
  tcpOutOpen: number;
  tcpConnections: number;
  udpFlows: number;
}

function baseline(net: TestNetwork): Baseline {
  return {
    tcpOutOpen: net.net.tcpOut.stats().open,
    tcpConnections: net.net.tcp.stats().connections,
    udpFlows: net.net.udpNat.stats.flows,
  };
}

interface Lab {
  net: TestNetwork;
  http: HostHttp;
  base: Baseline;
  other: TestVm;
  otherIp: string;
  otherPort: ExposedGuestPort;
}
let lab: Lab | undefined;

function labOrFail(): Lab {
  if (lab === undefined) throw new Error('the network and the other VM of the first test are missing');
  return lab;
}

/** The other VM answers its httpd through its exposed port. */
async function assertOtherAnswers(l: Lab): Promise<void> {
  const page = await httpGetText(l.otherPort.hostPort, '/');
  assert.equal(page, { status: 200, body: `hello from vmlab guest ${l.otherIp}\n` }, 'the other VM still answers');
  // The page's connection closes on its own (httpd closes, the client too) before anything else happens.
  await waitUntil('the page\'s exposed connection to close', () => l.otherPort.connections === 0, { timeoutMs: 30_000 });
}

test.after(runCleanups);

it('killing a VM while it downloads from the host frees its NIC, its TCP flow and host socket, and its UDP flow', async () => {
  const dir = await makeTestDir();
  const resolver = await startResolver();
  const http = await startHostHttp();
  const net = await startTestNetwork(dir, resolver);
  const udpPart = await udpPortFree(53);
  if (!udpPart) console.log('  note: host 127.0.0.1:53 is in use, so the UDP-flow part is skipped (the victim will not query the host)');
  const base = baseline(net);

  const blob = http.nextBlob();
  const [other, victim] = await Promise.all([
    // The other VM makes no connection of its own, so every flow below is the victim's.
    TestVm.boot({ name: 'other vm', socketPath: net.socketPath, mac: MAC_OTHER, guest: { wget: false } }),
    TestVm.boot({
      name: 'victim vm',
      socketPath: net.socketPath,
      mac: MAC_VICTIM,
      guest: {
        hostaddr: 'host.internal',
        hostport: http.port,
        wgetpath: '/blob',
        ...(udpPart ? { staticAddress: { cidr: `${VICTIM_STATIC_IP}/24`, gateway: '192.168.65.1' }, dns: ['192.168.65.254', '192.168.65.1'] } : {}),
      },
    }),
  ]);
  const otherIp = (await other.lease()).fields.ip!;
  await other.marker('ready');
  const otherPort = await exposeGuestPort(net.net, otherIp, 80);
  lab = { net, http, base, other, otherIp, otherPort };

  const download = await withTimeout('the victim to request /blob from the host', blob, 120_000);
  await waitUntil('the victim to download 1 MiB', () => download.sent >= 1024 * 1024, { timeoutMs: 60_000 });
  reportTiming(victim, udpPart ? 'static-configured' : 'lease-acquired', 'httpd-up');
  const during = baseline(net);
  assert.is(during.tcpOutOpen, base.tcpOutOpen + 1, 'the download is one outbound flow');
  if (udpPart) assert.ok(during.udpFlows > base.udpFlows, `the refused DNS query left a UDP flow open: ${JSON.stringify(net.net.udpNat.table())}`);
  assert.is(net.net.stats().nics.length, 2);

  const detached = nextEvent(net.net, 'nic-detached');
  await victim.stop();
  const gone = await detached;
  assert.not.ok(net.net.stats().nics.some((n) => n.id === gone.id), 'the NIC left stats().nics');
  assert.is(net.net.stats().nics.length, 1, 'the other VM\'s NIC is still there');
  assert.equal(baseline(net), base, 'every flow of the victim was freed');
  assert.is(await withTimeout('the host server to see the cut download end', download.ended, 30_000), 'aborted', 'vnetkit closed the host socket of the cut download');

  await assertOtherAnswers(lab);
});

it('killing a VM while the host pulls its /blob through an exposed port cuts the host download and frees the connection', async () => {
  const l = labOrFail();
  const victim = await TestVm.boot({ name: 'victim vm 2', socketPath: l.net.socketPath, mac: MAC_VICTIM2, guest: { wget: false, blobMb: 16 } });
  const ip = (await victim.lease()).fields.ip!;
  await victim.marker('ready');
  const exposed = await exposeGuestPort(l.net.net, ip, 80);

  const held = await holdDownload(exposed.hostPort, '/blob');
  assert.is(held.declared, 16 * 1024 * 1024);
  assert.ok(held.received > 0 && held.received < held.declared, 'the download is in flight');
  assert.is(exposed.connections, 1);
  assert.is(l.net.net.tcp.stats().connections, l.base.tcpConnections + 1, 'the pull is one gateway connection into the guest');

  const detached = nextEvent(l.net.net, 'nic-detached');
  await victim.stop();
  const gone = await detached;
  assert.not.ok(l.net.net.stats().nics.some((n) => n.id === gone.id));
  assert.is(await withTimeout('the host download to end', held.ended, 30_000), 'cut', 'the host download ends instead of hanging');
  await waitUntil('the exposed connection to close', () => exposed.connections === 0, { timeoutMs: 30_000 });
  assert.equal(baseline(l.net), l.base, 'no flow is left');

  await assertOtherAnswers(l);
});

test.run();
