/**
 * Issue "Hyper-V socket transport", item 3 end to end: the vmnet Ethernet protocol over hybrid
 * vsock Unix sockets (protocols.md §2.6), in both of vpnkit's directions (§2.2). A Linux kernel in
 * a network namespace, whose TAP frames `tap-relay` carries with the vmnet handshake, gets a DHCP
 * lease from the network and fetches from a host server on 127.0.0.1 through the alias.
 *
 *   listen:  guest agent ──<uds>_1024──▶ serveEthernet (HybridVsockProvider.listen) ──▶ NIC
 *   connect: serveEthernet ──CONNECT 1024──▶ "VMM" (listenHybrid, the test) ◀──unix── guest agent
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { serveEthernet, type EthernetService } from '../../adapters/hvsock/ethernet.js';
import { listenHybrid } from '../../adapters/hvsock/hybrid-vsock.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { runDhcp } from './harness/dhcp.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { waitUntil } from './harness/probes.js';

const skip = e2eSkipReason(['busybox', 'curl']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/hvsock-ethernet.test.ts: ${skip}`);

let dir = '';
let net: VirtualNetwork | undefined;
let svc: EthernetService | undefined;
const servers: Server[] = [];

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-hv-');
});
test.after.each(async () => {
  await closeAllGuests();
  await svc?.close();
  await net?.close();
  for (const s of servers.splice(0)) s.close();
  svc = undefined;
  net = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A host HTTP-ish server on 127.0.0.1 that answers every connection with one line. */
async function hostServer(body: string): Promise<number> {
  const s = createServer((c) => c.end(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

async function checkGuest(g: Guest, port: number): Promise<void> {
  const lease = await runDhcp(g);
  assert.is(lease.ip, '192.168.65.2');
  assert.is(lease.router, '192.168.65.1');
  const r = await g.exec(['curl', '-s', '-m', '10', `http://192.168.65.254:${port}/`], { timeoutMs: 20_000 });
  assert.is(r.stdout, 'hello over vsock');
}

it('listen: a guest agent connecting to <uds>_1024 attaches, gets a lease and reaches the host', async () => {
  const port = await hostServer('hello over vsock');
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'], dnsUpstreams: ['127.0.0.1:9'] })._unsafeUnwrap();
  const uds = join(dir, 'vm.sock');
  svc = (await serveEthernet(net, `hybrid-vsock://:1024/${uds}`))._unsafeUnwrap();
  assert.is(svc.mode, 'listen');
  const g = await createGuest({ socketPath: `${uds}_1024`, framing: 'vmnet', uuid: 'd1b2c3a4-0000-4000-8000-000000000001' });
  await checkGuest(g, port);
  assert.is(svc.attached, 1);
  const nic = net.stats().nics[0]!;
  assert.is(nic.transport, 'vmnet');
  assert.is(nic.uuid, 'd1b2c3a4-0000-4000-8000-000000000001');
});

it('connect: vnetkit dials the VMM (CONNECT 1024), the guest attaches, and a dropped link is redialled', async () => {
  const port = await hostServer('hello over vsock');
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'], dnsUpstreams: ['127.0.0.1:9'] })._unsafeUnwrap();
  // The "VMM": accepts the host's CONNECT on its uds and joins it to the guest agent's connection.
  const vmm = join(dir, 'vmm.sock');
  const agentSock = join(dir, 'agent.sock');
  const agents: Socket[] = [];
  const hosts: Socket[] = [];
  const join2 = () => {
    while (agents.length > 0 && hosts.length > 0) {
      const a = agents.shift()!;
      const h = hosts.shift()!;
      a.pipe(h).pipe(a);
      const end = () => {
        a.destroy();
        h.destroy();
      };
      a.once('close', end);
      h.once('close', end);
    }
  };
  const agentServer = createServer((a) => {
    agents.push(a);
    join2();
  });
  servers.push(agentServer);
  await new Promise<void>((r) => agentServer.listen(agentSock, r));
  const ports: number[] = [];
  const vmmServer = (
    await listenHybrid(vmm, (p, stream) => {
      ports.push(p);
      hosts.push(stream);
      join2();
    })
  )._unsafeUnwrap();
  servers.push(vmmServer);
  svc = (await serveEthernet(net, `hybrid-vsock://:1024/${vmm}`, { mode: 'connect', retryMs: 200 }))._unsafeUnwrap();
  assert.is(svc.mode, 'connect');
  const g = await createGuest({ socketPath: agentSock, framing: 'vmnet', uuid: 'd1b2c3a4-0000-4000-8000-000000000002' });
  await checkGuest(g, port);
  assert.equal(ports.slice(0, 1), [1024], 'CONNECT carried the vsock port');
  // Drop the guest: the link closes, vnetkit dials again, and a new agent attaches.
  await g.close();
  await waitUntil('the NIC to detach', () => net!.stats().nics.length === 0, { timeoutMs: 10_000 });
  await waitUntil('vnetkit to dial again', () => ports.length >= 2, { timeoutMs: 10_000 });
  const g2 = await createGuest({ socketPath: agentSock, framing: 'vmnet', uuid: 'd1b2c3a4-0000-4000-8000-000000000002' });
  const lease = await runDhcp(g2);
  assert.is(lease.ip, '192.168.65.2', 'same UUID, same address after reconnecting');
  assert.is(svc.attached, 2);
});

it('vnetkit serve --ethernet hybrid-vsock://:1024/UDS serves vmnet over hybrid vsock', async () => {
  const uds = join(dir, 'cli.sock');
  const child = execa('node', ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--ethernet', `hybrid-vsock://:1024/${uds}`, '--allow', '127.0.0.0/8', '--dns-upstream', '127.0.0.1:9', '--json'], {
    reject: false,
    buffer: { stdout: false },
  });
  try {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await waitUntil('serve to be ready', () => out.includes('"event":"ready"'), { timeoutMs: 30_000 });
    const g = await createGuest({ socketPath: `${uds}_1024`, framing: 'vmnet' });
    const lease = await runDhcp(g);
    assert.is(lease.ip, '192.168.65.2');
    assert.match(out, /"event":"nic-attached".*"transport":"vmnet"/);
  } finally {
    child.kill('SIGTERM');
    await child;
  }
});

test.run();
