/**
 * Issue "Exposing guest ports on the host", end to end: a Linux kernel in a network namespace
 * (attached through the QEMU-stream listener of a real VirtualNetwork) runs busybox httpd, nc,
 * socat and a few lines of Python; host clients on 127.0.0.1 reach them through exposed ports.
 * 100 parallel clients, 100 MiB each way with matching sha256, half-close both ways, UDP round
 * trip, unexpose with a live connection, a taken host port, a closed guest port, an address no
 * guest has. Needs root on Linux; skipped otherwise.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PortForwarder } from '../../src/forward/port-forwarder.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { runDhcp } from './harness/dhcp.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { waitForTcpListener, waitUntil, withTimeout } from './harness/probes.js';
import { HostClient } from '../harness/host-client.js';
import { sha } from '../harness/bytes.js';

const skip = e2eSkipReason(['busybox', 'nc', 'socat', 'ss', 'python3']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/expose.test.ts: ${skip}`);

let dir = '';
let net: VirtualNetwork | undefined;
let fwd: PortForwarder | undefined;

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-x-');
});
test.after.each(async () => {
  await fwd?.close();
  fwd = undefined;
  await closeAllGuests();
  await net?.close();
  net = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));


/** A network with one namespace guest, and the network's own port forwarder (`net.exposePort`). */
async function setup(opts: { dhcp?: boolean } = {}): Promise<{ g: Guest; ip: string; fwd: PortForwarder }> {
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  const n = net;
  const sock = join(dir, `q-${Math.random().toString(16).slice(2)}.sock`);
  (await n.listenQemu(sock))._unsafeUnwrap();
  const g = await createGuest({ socketPath: sock, framing: 'qemu' });
  let ip = '192.168.65.20';
  if (opts.dhcp) ip = (await runDhcp(g)).ip;
  else await g.setAddress(`${ip}/24`);
  fwd = n.ports;
  return { g, ip, fwd };
}

/** A host port that was free a moment ago. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function httpGet(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const client = (port: number): HostClient => new HostClient(connect({ port, host: '127.0.0.1', allowHalfOpen: true }));

it('busybox httpd in a DHCP guest answers through exposePort(port); 100 parallel host clients all succeed', async () => {
  const { g, fwd: f } = await setup({ dhcp: true });
  const port = await freePort();
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), 'hello from the guest\n');
  g.spawn(['busybox', 'httpd', '-f', '-p', String(port), '-h', www]);
  await waitForTcpListener(g, port);
  const h = (await f.expose(port))._unsafeUnwrap();
  assert.equal([h.hostIp, h.hostPort, h.guestPort, h.protocol], ['127.0.0.1', port, port, 'tcp']);
  assert.is(h.guestIp, net!.leases()[0]!.ip, 'the only leased guest');
  const one = await withTimeout('first GET', httpGet(port), 30_000);
  assert.equal(one, { status: 200, body: 'hello from the guest\n' });
  const all = await withTimeout('100 parallel GETs', Promise.all(Array.from({ length: 100 }, () => httpGet(port))), 120_000);
  assert.is(all.filter((r) => r.status === 200 && r.body === 'hello from the guest\n').length, 100, JSON.stringify(all.find((r) => r.status !== 200)));
  await waitUntil('every flow to close', () => h.connections === 0, { timeoutMs: 30_000 });
  assert.is(fwd!.stats().tcp.established, 101);
});

it('100 MiB each way through an exposed port arrives with a matching sha256', async () => {
  const { g, ip, fwd: f } = await setup();
  const upFile = join(dir, 'up.bin');
  const downFile = join(dir, 'down.bin');
  const down = randomBytes(100 << 20);
  writeFileSync(downFile, down);
  // Host → guest: the guest's nc writes what it receives to a file and exits at EOF.
  const receiving = g.exec(['sh', '-c', `exec nc -d -l ${ip} 5001 > ${upFile}`], { timeoutMs: 300_000 });
  receiving.catch(() => undefined);
  await waitForTcpListener(g, 5001);
  const up1 = (await f.expose({ guest: ip, guestPort: 5001, hostPort: 0 }))._unsafeUnwrap();
  const up = randomBytes(100 << 20);
  const a = client(up1.hostPort!);
  a.s.end(up);
  await withTimeout('the guest to receive 100 MiB', receiving, 300_000);
  assert.is(sha(readFileSync(upFile)), sha(up), 'host → guest stream differs');
  await waitUntil('host client closed', () => a.closed, { timeoutMs: 30_000 });

  // Guest → host: the guest's nc sends a file and shuts down its write side.
  g.spawn(['sh', '-c', `exec nc -N -l ${ip} 5002 < ${downFile}`]);
  await waitForTcpListener(g, 5002);
  const dn = (await f.expose({ guest: ip, guestPort: 5002, hostPort: 0 }))._unsafeUnwrap();
  const b = client(dn.hostPort!);
  await waitUntil('host to receive 100 MiB and EOF', () => b.ended, { timeoutMs: 300_000 });
  assert.is(sha(Buffer.concat(b.chunks)), sha(down), 'guest → host stream differs');
  b.s.end();
  await waitUntil('closed', () => b.closed, { timeoutMs: 30_000 });
});

it('half-close both ways: the host ends and still reads; the guest ends and still reads', async () => {
  const { g, ip, fwd: f } = await setup();
  // Host FIN first: the guest counts what it got until EOF and answers after it.
  g.spawn(['socat', '-t', '30', `TCP4-LISTEN:5003,bind=${ip},reuseaddr`, 'SYSTEM:wc -c']);
  await waitForTcpListener(g, 5003);
  const h1 = (await f.expose({ guest: ip, guestPort: 5003, hostPort: 0 }))._unsafeUnwrap();
  const a = client(h1.hostPort!);
  a.s.end(Buffer.alloc(123_456, 7));
  await waitUntil('the answer after our FIN', () => a.ended, { timeoutMs: 30_000 });
  assert.is(a.text.trim(), '123456');

  // Guest FIN first: the guest greets, shuts down its write side, then stores what the host sends.
  const after = join(dir, 'after.txt');
  const script = join(dir, 'fin-first.py');
  writeFileSync(
    script,
    [
      'import socket, sys',
      'srv = socket.create_server((sys.argv[1], 5004))',
      'c, _ = srv.accept()',
      "c.sendall(b'hello\\n')",
      'c.shutdown(socket.SHUT_WR)',
      "data = b''",
      'while True:',
      '    b = c.recv(65536)',
      '    if not b: break',
      '    data += b',
      "open(sys.argv[2], 'wb').write(data)",
      '',
    ].join('\n'),
  );
  g.spawn(['python3', script, ip, after]);
  await waitForTcpListener(g, 5004);
  const h2 = (await f.expose({ guest: ip, guestPort: 5004, hostPort: 0 }))._unsafeUnwrap();
  const b = client(h2.hostPort!);
  await waitUntil('the guest FIN', () => b.ended, { timeoutMs: 30_000 });
  assert.is(b.text, 'hello\n');
  assert.not.ok(b.closed, 'our side is still open');
  b.s.end('written after the guest closed its side\n');
  await waitUntil('closed', () => b.closed, { timeoutMs: 30_000 });
  await waitUntil('the guest stored it', () => readFileSync(after, 'utf8') === 'written after the guest closed its side\n', { timeoutMs: 30_000 });
});

it('UDP: an exposed port echoes through the guest to the right host clients', async () => {
  const { g, ip, fwd: f } = await setup();
  g.spawn(['socat', `UDP4-RECVFROM:5353,bind=${ip},fork`, 'SYSTEM:sed -u s/^/echo=/']);
  await waitUntil(
    'a UDP listener in the guest',
    async () => (await g.exec(['ss', '-Hlun', 'sport = :5353'], { reject: false })).stdout.trim() !== '',
  );
  const h = (await f.expose({ guest: ip, guestPort: 5353, hostPort: 0, protocol: 'udp' }))._unsafeUnwrap();
  const clients = [createSocket('udp4'), createSocket('udp4')];
  const got: string[][] = [[], []];
  clients.forEach((c, i) => c.on('message', (m) => got[i]!.push(m.toString())));
  await waitUntil(
    'both echoes',
    () => {
      // UDP may be lost on the way; ask again until each client has its own answer.
      clients.forEach((c, i) => got[i]!.length === 0 && c.send(`client ${i}\n`, h.hostPort!, '127.0.0.1'));
      return got.every((x) => x.length > 0);
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  assert.ok(got[0]!.every((m) => m === 'echo=client 0\n'), JSON.stringify(got));
  assert.ok(got[1]!.every((m) => m === 'echo=client 1\n'), JSON.stringify(got));
  assert.is(h.connections, 2, 'one flow per host client');
  for (const c of clients) c.close();
});

it('unexpose closes a live connection on both sides and frees the port', async () => {
  const { g, ip, fwd: f } = await setup();
  const guestNc = g.spawn(['nc', '-d', '-l', ip, '5005']);
  await waitForTcpListener(g, 5005);
  const h = (await f.expose({ guest: ip, guestPort: 5005, hostPort: 0 }))._unsafeUnwrap();
  const c = client(h.hostPort!);
  c.s.write('hi');
  await waitUntil('established in the guest', async () => (await g.exec(['ss', '-Htn', 'state', 'established', 'sport = :5005'])).stdout.trim() !== '', { timeoutMs: 30_000 });
  (await f.unexpose({ hostPort: h.hostPort! }))._unsafeUnwrap();
  await waitUntil('the host client closed', () => c.closed, { timeoutMs: 10_000 });
  assert.is(c.error, 'ECONNRESET');
  const r = await withTimeout('the guest nc to exit (it got RST)', guestNc, 30_000);
  assert.is.not(r.exitCode, undefined);
  assert.is((await g.exec(['ss', '-Htn', 'state', 'established', 'sport = :5005'])).stdout.trim(), '');
  const again = client(h.hostPort!);
  await waitUntil('refused', () => again.closed, { timeoutMs: 10_000 });
  assert.is(again.error, 'ECONNREFUSED');
});

it('a host port already taken fails cleanly naming it; a closed guest port resets the host client promptly', async () => {
  const { ip, fwd: f } = await setup();
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as AddressInfo).port;
  try {
    const e = (await f.expose({ guest: ip, guestPort: 22, hostPort: port }))._unsafeUnwrapErr();
    assert.is(e.kind, 'port-in-use');
    assert.is(e.message, `127.0.0.1:${port}/tcp is already in use by another process`);
  } finally {
    taken.close();
  }
  const h = (await f.expose({ guest: ip, guestPort: 5999, hostPort: 0 }))._unsafeUnwrap();
  const c = client(h.hostPort!);
  await waitUntil('the host client reset', () => c.closed, { timeoutMs: 10_000 });
  assert.is(c.error, 'ECONNRESET');
  const st = f.stats().tcp;
  assert.equal([st.refused, st.timedOut], [1, 0], 'the guest answered RST; no timeout was needed');
});

it('an address no guest has: the host client is reset after the bounded wait, and the log says why', async () => {
  await setup();
  const n = net!;
  const lines: string[] = [];
  const f = new PortForwarder({
    endpoint: n.tcp,
    udp: n.udp,
    gatewayIp: n.options.gatewayIp,
    runtime: n.runtime,
    logger: { error: () => {}, warn: (m) => lines.push(m), info: () => {}, debug: () => {} },
    leases: () => n.leases(),
    isGuestAddress: (a) => n.gateway.isGuestAddress(a),
    neighbourKnown: (a) => n.neighbours.lookup(a) >= 0,
    connectTimeoutMs: 2000,
  });
  try {
    const h = (await f.expose({ guest: '192.168.65.77', guestPort: 22, hostPort: 0 }))._unsafeUnwrap();
    const c = client(h.hostPort!);
    await waitUntil('the client to be reset', () => c.closed, { timeoutMs: 20_000 });
    assert.is(c.error, 'ECONNRESET');
    assert.equal([f.stats().tcp.timedOut, f.stats().tcp.refused], [1, 0]);
    assert.equal(lines, [`127.0.0.1:${h.hostPort}/tcp -> 192.168.65.77:22: client refused: no ARP answer from 192.168.65.77: no guest has that address`]);
  } finally {
    await f.close();
  }
});

test.run();
