/**
 * Outbound TCP end to end: a real Linux kernel in a network namespace (192.168.65.10/24, default
 * route via the gateway) talks to servers on the host's 127.0.0.1 through the host-loopback alias
 * 192.168.65.254, across a real VirtualNetwork (QEMU stream framing). Needs root, curl and socat;
 * otherwise skipped with the reason printed. Only loopback servers this test starts are reached.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { HostServers } from './harness/host-servers.js';

const skip = e2eSkipReason(['curl', 'socat']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/tcp-outbound.test.ts: ${skip}`);

const ALIAS = '192.168.65.254';
const BIG = 200 * 1024 * 1024;
let dir = '';
let bigFile = '';
let bigSha = '';
let net: VirtualNetwork | undefined;
const hosts = new HostServers();

test.before(() => {
  if (skip) return;
  dir = mkdtempSync('/tmp/vnk-tcp-');
  bigFile = join(dir, 'big.bin');
  const b = Buffer.allocUnsafe(BIG);
  randomFillSync(b);
  writeFileSync(bigFile, b);
  bigSha = createHash('sha256').update(b).digest('hex');
});
test.after.each(async () => {
  await closeAllGuests();
  await net?.close();
  net = undefined;
  hosts.closeAll();
});
test.after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

async function hostServer(onConn: (s: Socket) => void): Promise<number> {
  return (await hosts.listen(onConn)).port;
}

async function guestOnNetwork(mtu = 1500, ips = ['192.168.65.10/24']): Promise<Guest[]> {
  net = VirtualNetwork.create({ mtu, allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  const sock = join(dir, `qemu-${Date.now()}.sock`);
  (await net.listenQemu(sock))._unsafeUnwrap();
  const out: Guest[] = [];
  for (const ip of ips) {
    const g = await createGuest({ socketPath: sock, framing: 'qemu', mtu });
    await g.setAddress(ip);
    await g.setDefaultRoute('192.168.65.1');
    out.push(g);
  }
  return out;
}

/** A tiny HTTP/1.0 server: `GET /` → 200 with a body naming the path. */
function httpServer(): Promise<number> {
  return hostServer((s) => {
    let req = '';
    s.on('data', (b) => {
      req += b.toString('latin1');
      if (!req.includes('\r\n\r\n')) return;
      const path = req.split(' ')[1] ?? '?';
      const body = `hello from the host: ${path}\n`;
      s.end(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
  });
}

it('curl in the guest fetches from a host server on 127.0.0.1 through the alias', async () => {
  const port = await httpServer();
  const [g] = await guestOnNetwork();
  const r = await g!.exec(['curl', '-sS', '--max-time', '20', `http://${ALIAS}:${port}/index`]);
  assert.is(r.stdout, 'hello from the host: /index');
});

for (const mtu of [1500, 65520]) {
  it(`200 MiB each way with matching sha256 at MTU ${mtu}`, async () => {
    const received = createHash('sha256');
    let upBytes = 0;
    let upDone: () => void = () => {};
    const upFinished = new Promise<void>((r) => (upDone = r));
    const sink = await hostServer((s) => {
      s.on('data', (b) => {
        upBytes += b.length;
        received.update(b);
      });
      s.on('end', () => {
        s.end();
        upDone();
      });
    });
    const { createReadStream } = await import('node:fs');
    const source = await hostServer((s) => createReadStream(bigFile).pipe(s));
    const [g] = await guestOnNetwork(mtu);
    const t0 = performance.now();
    await g!.exec(['socat', '-u', `FILE:${bigFile}`, `TCP:${ALIAS}:${sink}`], { timeoutMs: 300_000 });
    await upFinished;
    const t1 = performance.now();
    assert.is(upBytes, BIG);
    assert.is(received.digest('hex'), bigSha, 'upload intact');
    const down = await g!.exec(['sh', '-c', `socat -u TCP:${ALIAS}:${source} - | sha256sum`], { timeoutMs: 300_000 });
    const t2 = performance.now();
    assert.is(down.stdout.split(' ')[0], bigSha, 'download intact');
    const mbps = (ms: number): string => ((BIG * 8) / (ms / 1000) / 1e6).toFixed(0);
    console.log(`  MTU ${mtu}: upload ${mbps(t1 - t0)} Mbit/s, download ${mbps(t2 - t1)} Mbit/s (informational)`);
  });
}

it('200 concurrent connections all complete', async () => {
  const port = await httpServer();
  const [g] = await guestOnNetwork();
  const script = `for i in $(seq 200); do curl -s -o /dev/null -w '%{http_code}\\n' --max-time 60 http://${ALIAS}:${port}/$i & done; wait`;
  const r = await g!.exec(['sh', '-c', script], { timeoutMs: 120_000 });
  const codes = r.stdout.trim().split('\n');
  assert.is(codes.length, 200);
  assert.ok(codes.every((c) => c === '200'), `all 200 OK: ${codes.filter((c) => c !== '200').join(',')}`);
  assert.is(net!.tcpOut.stats().accepted, 200);
});

it('half-close: the guest shuts its write side and still reads the answer', async () => {
  const port = await hostServer((s) => {
    let n = 0;
    s.on('data', (b) => (n += b.length));
    s.on('end', () => s.end(`got ${n} bytes after your FIN\n`));
  });
  const [g] = await guestOnNetwork();
  const r = await g!.exec(['sh', '-c', `printf 'twelve bytes' | socat -t 10 - TCP:${ALIAS}:${port}`], { timeoutMs: 30_000 });
  assert.is(r.stdout, 'got 12 bytes after your FIN');
});

it('a refused host port is refused in the guest at once (RST), not timed out', async () => {
  const { port, server } = await hosts.listen(() => {});
  server.close();
  const [g] = await guestOnNetwork();
  // The kernel reports ECONNREFUSED only on RST; a dropped SYN would end in a timeout instead.
  const r = await g!.exec(['socat', '-T', '20', '-', `TCP:${ALIAS}:${port},connect-timeout=20`], { reject: false, timeoutMs: 30_000, input: '' });
  assert.is.not(r.exitCode, 0);
  assert.match(r.stderr, /Connection refused/, `socat said: ${r.stderr}`);
  assert.is(net!.tcpOut.stats().refused, 1);
});

it('a guest that vanishes mid-transfer has all its flows freed; another guest is unaffected', async () => {
  // An endless source: every connection gets data until it goes away.
  const port = await hostServer((s) => {
    const chunk = Buffer.alloc(64 * 1024, 1);
    const more = (): void => {
      while (!s.destroyed && s.write(chunk));
    };
    s.on('drain', more);
    more();
  });
  const [a, b] = await guestOnNetwork(1500, ['192.168.65.10/24', '192.168.65.11/24']);
  for (let i = 0; i < 3; i++) a!.spawn(['sh', '-c', `socat -u TCP:${ALIAS}:${port} - > /dev/null`]);
  const bDone = b!.exec(['sh', '-c', `socat -u TCP:${ALIAS}:${port} - | head -c 50000000 | wc -c`], { timeoutMs: 120_000 });
  const t = net!.tcpOut;
  for (let i = 0; i < 2000 && t.stats().open < 4; i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(t.stats().open, 4, 'three flows of A and one of B');
  a!.relay.kill('SIGKILL');
  for (let i = 0; i < 2000 && t.stats().open > 1; i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(t.stats().open <= 1, true, 'A\'s three flows are freed with its NIC');
  assert.ok(net!.tcp.connections().every((c) => c.remoteIp !== 0xc0a8410a), 'no TCP state left for A');
  const r = await bDone;
  assert.is(r.stdout.trim(), '50000000', 'B finished its download');
});

test.run();
