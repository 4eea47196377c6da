/**
 * Flow events end to end: a real Linux kernel in a namespace guest (192.168.65.10/24, default
 * route via the gateway) talks through the host-loopback alias to servers this test starts on
 * 127.0.0.1, and every flow is reported once opened and once closed, with the bytes the servers
 * really counted, through the facade's `flow-open`/`flow-close` events. Needs root and socat;
 * otherwise skipped with the reason printed.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FlowCloseEvent, FlowOpenEvent } from '../../src/forward/flow-events.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { waitUntil } from './harness/probes.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { HostServers } from './harness/host-servers.js';

const skip = e2eSkipReason(['socat']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/flow-events.test.ts: ${skip}`);

const ALIAS = '192.168.65.254';
let dir = '';
let net: VirtualNetwork | undefined;
const hosts = new HostServers();
const udpSockets: UdpSocket[] = [];

test.before(() => {
  if (!skip) dir = mkdtempSync('/tmp/vnk-flowev-');
});
test.after.each(async () => {
  await closeAllGuests();
  await net?.close();
  net = undefined;
  hosts.closeAll();
  for (const s of udpSockets.splice(0)) s.close();
});
test.after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  guest: Guest;
  nicId: number;
  opens: FlowOpenEvent[];
  closes: FlowCloseEvent[];
}

/** A network with flow-event listeners, and one guest. */
async function start(): Promise<Setup> {
  const n = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  net = n;
  const opens: FlowOpenEvent[] = [];
  const closes: FlowCloseEvent[] = [];
  n.on('flow-open', (e) => opens.push(e));
  n.on('flow-close', (e) => closes.push(e));
  let nicId = -1;
  n.on('nic-attached', (e) => (nicId = e.id));
  const sock = join(dir, `qemu-${process.hrtime.bigint()}.sock`);
  (await n.listenQemu(sock))._unsafeUnwrap();
  const guest = await createGuest({ socketPath: sock, framing: 'qemu' });
  await guest.setAddress('192.168.65.10/24');
  await guest.setDefaultRoute('192.168.65.1');
  await waitUntil('the NIC to attach', () => nicId >= 0);
  return { guest, nicId, opens, closes };
}

async function tcpServer(onConn: (s: Socket) => void): Promise<number> {
  return (await hosts.listen(onConn)).port;
}

it('one TCP connection: exactly one flow-open and one flow-close, bytes equal to what each side counted', async () => {
  const UP = 300_000;
  const DOWN = 123_457;
  let hostGot = 0;
  const port = await tcpServer((s) => {
    s.on('data', (b) => (hostGot += b.length));
    s.on('end', () => s.end(Buffer.alloc(DOWN, 0x61)));
  });
  const { guest, nicId, opens, closes } = await start();
  const r = await guest.exec(['sh', '-c', `head -c ${UP} /dev/zero | socat -t 10 - TCP:${ALIAS}:${port} | wc -c`], { timeoutMs: 30_000 });
  assert.is(r.stdout.trim(), String(DOWN), 'the guest read every byte');
  assert.is(hostGot, UP, 'the host read every byte');
  await waitUntil('the flow-close', () => closes.length > 0);
  await new Promise((res) => setTimeout(res, 200)); // a second close would show up here
  assert.is(opens.length, 1);
  assert.is(closes.length, 1);
  const o = opens[0]!;
  assert.equal([o.protocol, o.guest.ip, o.remote, o.host, o.nic], ['tcp', '192.168.65.10', { ip: ALIAS, port }, { ip: '127.0.0.1', port }, nicId]);
  const c = closes[0]!;
  assert.equal(
    { id: c.id, opened: c.opened, bytesFromGuest: c.bytesFromGuest, bytesToGuest: c.bytesToGuest, closeReason: c.closeReason },
    { id: o.id, opened: true, bytesFromGuest: UP, bytesToGuest: DOWN, closeReason: 'closed' },
  );
  assert.ok(c.durationMs > 0);
  console.log(`  flow-close: ${JSON.stringify(c)}`);
});

it('a refused port gives one flow-close alone (opened: false, refused)', async () => {
  const { port, server } = await hosts.listen(() => {});
  server.close();
  await new Promise((res) => setTimeout(res, 50));
  const { guest, opens, closes } = await start();
  const r = await guest.exec(['socat', '-T', '5', '/dev/null', `TCP:${ALIAS}:${port}`], { reject: false });
  assert.match(r.stderr, /Connection refused/);
  await waitUntil('the flow-close', () => closes.length > 0);
  assert.is(opens.length, 0);
  assert.equal([closes.length, closes[0]!.opened, closes[0]!.closeReason], [1, false, 'refused']);
});

it('a UDP flow and a TCP flow of a guest that vanishes close as nic-gone, with their bytes', async () => {
  const echo = createSocket('udp4');
  udpSockets.push(echo);
  echo.on('message', (m, rinfo) => echo.send(Buffer.concat([m, m]), rinfo.port, rinfo.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
  let tcpHost: Socket | undefined;
  const tcpPort = await tcpServer((s) => (tcpHost = s));
  const { guest, opens, closes } = await start();
  const u = await guest.exec(['sh', '-c', `printf 0123456789 | socat -T 2 - UDP:${ALIAS}:${echo.address().port}`], { timeoutMs: 10_000 });
  assert.is(u.stdout, '01234567890123456789');
  guest.spawn(['sh', '-c', `(printf hello; sleep 60) | socat - TCP:${ALIAS}:${tcpPort}`]);
  await waitUntil('the TCP flow to carry hello', () => tcpHost !== undefined && opens.length === 2 && (tcpHost.bytesRead ?? 0) === 5);
  await guest.close();
  await waitUntil('both flow-closes', () => closes.length === 2);
  const byProto = Object.fromEntries(closes.map((c) => [c.protocol, [c.closeReason, c.bytesFromGuest, c.bytesToGuest]]));
  assert.equal(byProto, { udp: ['nic-gone', 10, 20], tcp: ['nic-gone', 5, 0] });
});

test.run();
