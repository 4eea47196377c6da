/**
 * Issue "Foundation", end to end: Linux kernels in network namespaces attached to one real
 * VirtualNetwork through its QEMU-stream and vmnet listeners reach each other through our switch;
 * a 10 MiB TCP stream arrives intact; the capture opens in tcpdump; `vnetkit serve` starts, says
 * ready and exits cleanly on SIGTERM. Needs root on Linux; skipped with the reason otherwise.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { waitForTcpListener, waitUntil, withTimeout } from './harness/probes.js';
import { sha } from '../harness/bytes.js';

const skip = e2eSkipReason(['busybox', 'nc', 'tcpdump']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/foundation.test.ts: ${skip}`);

let dir = '';
let net: VirtualNetwork | undefined;

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-f-');
});
test.after.each(async () => {
  await closeAllGuests();
  await net?.close();
  net = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));


async function ping(from: Guest, to: string, size = 56): Promise<void> {
  const r = await from.exec(['busybox', 'ping', '-c', '3', '-i', '0.2', '-w', '20', '-s', String(size), to], { timeoutMs: 30_000 });
  assert.match(r.stdout, /3 packets received/, `${from.name} -> ${to}: ${r.stdout}`);
}

async function sendStream(a: Guest, b: Guest, toIp: string, bytes: number): Promise<void> {
  const input = join(dir, 'blob.in');
  const output = join(dir, 'blob.out');
  const blob = randomBytes(bytes);
  writeFileSync(input, blob);
  const receiving = b.exec(['sh', '-c', `exec nc -d -l ${toIp} 5001 > ${output}`], { timeoutMs: 120_000 });
  receiving.catch(() => undefined);
  await waitForTcpListener(b, 5001);
  await a.exec(['sh', '-c', `exec nc -N ${toIp} 5001 < ${input}`], { timeoutMs: 120_000 });
  await receiving;
  assert.is(sha(readFileSync(output)), sha(blob), 'the received stream differs from the sent one');
}

it('two QEMU-stream guests ping each other and move 10 MiB of TCP through the switch; the pcap reads in tcpdump', async () => {
  const pcap = join(dir, 'two-guests.pcap');
  net = VirtualNetwork.create({ pcap, allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  const sock = join(dir, 'q.sock');
  (await net.listenQemu(sock))._unsafeUnwrap();
  const a = await createGuest({ socketPath: sock, framing: 'qemu', mac: '02:00:00:00:0a:01' });
  const b = await createGuest({ socketPath: sock, framing: 'qemu', mac: '02:00:00:00:0a:02' });
  await a.setAddress('192.168.65.20/24');
  await b.setAddress('192.168.65.21/24');
  await ping(a, '192.168.65.21');
  await ping(b, '192.168.65.20');
  await ping(a, '192.168.65.1');
  await sendStream(a, b, '192.168.65.21', 10 << 20);

  const stats = net.stats();
  assert.is(stats.nics.length, 2);
  for (const n of stats.nics) assert.ok(n.framesIn > 100 && n.framesOut > 100, JSON.stringify(n));
  await net.stopCapture();
  const r = await execa('tcpdump', ['-nn', '-r', pcap, 'icmp'], { reject: false });
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /192\.168\.65\.20 > 192\.168\.65\.21: ICMP echo request/);
  const tcp = await execa('tcpdump', ['-nn', '-r', pcap, 'tcp port 5001'], { reject: false });
  assert.ok(tcp.stdout.split('\n').length > 500, 'the 10 MiB transfer is in the capture');
});

it('a vmnet guest and a QEMU guest share the bridge; the vmnet MAC is stable for its UUID', async () => {
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  const q = join(dir, 'q2.sock');
  const e = join(dir, 'e2.sock');
  (await net.listenQemu(q))._unsafeUnwrap();
  (await net.listenHyperkit(e))._unsafeUnwrap();
  const uuid = '6b1a43a0-2c64-4f54-9e0e-0a0a0a0a0a0a';
  const v = await createGuest({ socketPath: e, framing: 'vmnet', uuid });
  const k = await createGuest({ socketPath: q, framing: 'qemu', mac: '02:00:00:00:0b:01' });
  await v.setAddress('192.168.65.30/24');
  await k.setAddress('192.168.65.31/24');
  await ping(v, '192.168.65.31');
  await ping(k, '192.168.65.30');
  await sendStream(k, v, '192.168.65.30', 2 << 20);
  const mac = v.mac;
  await v.close();
  await waitUntil('the vmnet NIC to detach', () => net!.stats().nics.length === 1, { timeoutMs: 10_000 });
  const again = await createGuest({ socketPath: e, framing: 'vmnet', uuid });
  assert.is(again.mac, mac, 'same UUID, same MAC');
});

it('a guest sending garbage loses only its own NIC; the other guest keeps working', async () => {
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  const q = join(dir, 'q3.sock');
  (await net.listenQemu(q))._unsafeUnwrap();
  const a = await createGuest({ socketPath: q, framing: 'qemu', mac: '02:00:00:00:0c:01' });
  const b = await createGuest({ socketPath: q, framing: 'qemu', mac: '02:00:00:00:0c:02' });
  await a.setAddress('192.168.65.40/24');
  await b.setAddress('192.168.65.41/24');
  const { createConnection } = await import('node:net');
  const bad = createConnection(q);
  await new Promise((r) => bad.once('connect', r));
  // An oversize length prefix: the framing error closes this connection only.
  bad.write(Buffer.from([0x00, 0x10, 0x00, 0x00, 1, 2, 3]));
  await withTimeout('the bad NIC to be closed', new Promise((r) => bad.once('close', r)), 10_000);
  await ping(a, '192.168.65.41');
});

it('a guest whose MTU is over the network\'s loses only its oversized frames: counted as tooBig, its NIC stays, normal traffic goes on', async () => {
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap(); // MTU 1500: frames up to 1514 bytes
  const detached: string[] = [];
  net.on('nic-detached', (e) => detached.push(e.reason));
  const q = join(dir, 'q-mtu.sock');
  (await net.listenQemu(q))._unsafeUnwrap();
  const a = await createGuest({ socketPath: q, framing: 'qemu', mac: '02:00:00:00:0d:01' });
  const b = await createGuest({ socketPath: q, framing: 'qemu', mac: '02:00:00:00:0d:02' });
  await a.setAddress('192.168.65.50/24');
  await b.setAddress('192.168.65.51/24');
  await ping(a, '192.168.65.51');
  // The guest's kernel believes in 1600: a 1550-byte ping makes 1592-byte frames, over 1514.
  await a.exec(['ip', 'link', 'set', a.tap, 'mtu', '1600']);
  const big = await a.exec(['busybox', 'ping', '-c', '2', '-W', '1', '-s', '1550', '192.168.65.51'], { reject: false, timeoutMs: 20_000 });
  assert.match(big.stdout, /0 packets received/, big.stdout);
  const nicA = net.nicStats().find((n) => n.mac === '02:00:00:00:0d:01');
  assert.ok(nicA, 'guest A is still attached');
  assert.ok((nicA!.drops['tooBig'] ?? 0) >= 2, JSON.stringify(nicA!.drops));
  assert.equal(detached, []);
  await ping(a, '192.168.65.51');
});

it('vnetkit serve prints ready, serves, and exits 0 on SIGTERM with its sockets unlinked', async () => {
  const q = join(dir, 'serve-q.sock');
  const e = join(dir, 'serve-e.sock');
  const child = execa('node', ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--qemu', q, '--ethernet', e, '--json', '--allow', '127.0.0.0/8'], {
    reject: false,
    buffer: { stdout: false },
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await waitUntil('serve to print ready', () => out.includes('"event":"ready"'), { timeoutMs: 30_000 });
  assert.ok(existsSync(q) && existsSync(e));
  const g = await createGuest({ socketPath: q, framing: 'qemu' });
  await g.setAddress('192.168.65.50/24');
  await ping(g, '192.168.65.1');
  assert.match(out, /"event":"nic-attached"/);
  child.kill('SIGTERM');
  const r = await withTimeout('serve to exit', child, 15_000);
  assert.is(r.exitCode, 0, r.stderr);
  assert.ok(!existsSync(q) && !existsSync(e), 'sockets unlinked');
});

it('vnetkit serve rejects a bad flag with a one-line message naming it', async () => {
  const r = await execa('node', ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--qemu', '/tmp/x.sock', '--mtu', 'lots'], { reject: false });
  assert.is.not(r.exitCode, 0);
  assert.match(r.stderr.trim(), /^vnetkit: --mtu: /);
  assert.is(r.stderr.trim().split('\n').length, 1);
});

test.run();
