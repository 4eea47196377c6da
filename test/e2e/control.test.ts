/**
 * The HTTP control API end to end, driven with `curl --unix-socket` as gvproxy users do: expose a
 * namespace guest's busybox httpd, reach it from 127.0.0.1, list, read `/leases` and `/stats`,
 * unexpose; then the same through `vnetkit serve --expose … --control PATH` as a child process.
 * Needs root on Linux; skipped otherwise.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ControlServer } from '../../src/control/http-server.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { runDhcp } from './harness/dhcp.js';
import { closeAllGuests, createGuest, e2eSkipReason, type Guest } from './harness/netns.js';
import { waitForTcpListener, waitUntil, withTimeout } from './harness/probes.js';

const skip = e2eSkipReason(['busybox', 'curl']);
const it = skip ? test.skip : test;
if (skip) console.log(`SKIP test/e2e/control.test.ts: ${skip}`);

let dir = '';
let net: VirtualNetwork | undefined;
let control: ControlServer | undefined;

test.before(() => {
  dir = mkdtempSync('/tmp/vnk-c-');
  const www = join(dir, 'www');
  mkdirSync(www);
  writeFileSync(join(www, 'index.html'), 'guest page\n');
});
test.after.each(async () => {
  await control?.close();
  control = undefined;
  await closeAllGuests();
  await net?.close();
  net = undefined;
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** `curl --unix-socket SOCK` as a gvproxy user would run it; returns the status and the body. */
async function curl(sock: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const args = ['-sS', '--unix-socket', sock, '-X', method, '-w', '\n%{http_code}', `http://unix${path}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(body));
  const r = await execa('curl', args, { reject: false, timeout: 30_000 });
  assert.is(r.exitCode, 0, `curl ${args.join(' ')}: ${r.stderr}`);
  const nl = r.stdout.lastIndexOf('\n');
  const text = r.stdout.slice(0, nl);
  return { status: Number(r.stdout.slice(nl + 1)), body: text === '' ? undefined : JSON.parse(text) };
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, agent: false }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

async function httpdGuest(sock: string, port: number): Promise<{ g: Guest; ip: string }> {
  const g = await createGuest({ socketPath: sock, framing: 'qemu' });
  const lease = await runDhcp(g);
  g.spawn(['busybox', 'httpd', '-f', '-p', String(port), '-h', join(dir, 'www')]);
  await waitForTcpListener(g, port);
  return { g, ip: lease.ip };
}

it('curl drives expose, all, leases, stats and unexpose on the control socket', async () => {
  net = VirtualNetwork.create({ allow: ['127.0.0.0/8'] })._unsafeUnwrap();
  const n = net;
  const q = join(dir, 'q.sock');
  (await n.listenQemu(q))._unsafeUnwrap();
  const sock = join(dir, 'control.sock');
  control = (await n.serveControl(sock))._unsafeUnwrap();
  const { g, ip } = await httpdGuest(q, 8080);
  const port = await freePort();

  const e = await curl(sock, 'POST', '/services/forwarder/expose', { local: `127.0.0.1:${port}`, remote: `${ip}:8080`, protocol: 'tcp' });
  assert.equal(e, { status: 200, body: { local: `127.0.0.1:${port}`, remote: `${ip}:8080`, protocol: 'tcp' } });
  assert.is(await withTimeout('GET through the exposed port', httpGet(port), 30_000), 'guest page\n');
  assert.equal(await curl(sock, 'GET', '/services/forwarder/all'), { status: 200, body: [e.body] });
  // gvproxy's ":PORT" remote: the only leased guest.
  const port2 = await freePort();
  const e2 = await curl(sock, 'POST', '/services/forwarder/expose', { local: `:${port2}`, remote: ':8080' });
  assert.equal(e2.body, { local: `127.0.0.1:${port2}`, remote: `${ip}:8080`, protocol: 'tcp' });
  assert.is(await withTimeout('GET through the second port', httpGet(port2), 30_000), 'guest page\n');
  const taken = await curl(sock, 'POST', '/services/forwarder/expose', { local: `127.0.0.1:${port}`, remote: `${ip}:22` });
  assert.is(taken.status, 409);
  assert.match((taken.body as { error: string }).error, `127.0.0.1:${port}/tcp is already exposed to ${ip}:8080`);
  const bad = await curl(sock, 'POST', '/services/forwarder/expose', { local: `127.0.0.1:${port}`, remote: `${ip}:22`, protocol: 'sctp' });
  assert.equal(bad, { status: 400, body: { error: 'expose: unknown protocol "sctp" (tcp, udp or unix)' } });

  const leases = await curl(sock, 'GET', '/leases');
  assert.equal(leases, { status: 200, body: { [ip]: g.mac } });
  const verbose = (await curl(sock, 'GET', '/leases?verbose=1')).body as Array<{ ip: string; mac: string; expiresAt: number }>;
  assert.equal([verbose.length, verbose[0]!.ip, verbose[0]!.mac], [1, ip, g.mac]);
  const stats = (await curl(sock, 'GET', '/stats')).body as { nics: unknown[]; expose: { tcp: { established: number }; ports: unknown[] } };
  assert.is(stats.nics.length, 1);
  assert.is(stats.expose.ports.length, 2);
  assert.ok(stats.expose.tcp.established >= 2);

  assert.is((await curl(sock, 'POST', '/services/forwarder/unexpose', { local: `127.0.0.1:${port}`, protocol: 'tcp' })).status, 200);
  assert.is((await curl(sock, 'POST', '/services/forwarder/unexpose', { local: `127.0.0.1:${port}`, protocol: 'tcp' })).status, 404);
  assert.equal((await curl(sock, 'GET', '/services/forwarder/all')).body, [e2.body]);
  const refused = await httpGet(port).then(
    () => 'answered',
    (err: NodeJS.ErrnoException) => err.code,
  );
  assert.is(refused, 'ECONNREFUSED');
});

it('vnetkit serve --expose … --control PATH: the flag exposes at start, curl adds and removes more, SIGTERM cleans up', async () => {
  const q = join(dir, 'serve-q.sock');
  const sock = join(dir, 'serve-control.sock');
  const port = await freePort();
  const child = execa(
    'node',
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--qemu', q, '--control', sock, '--expose', `127.0.0.1:${port}:192.168.65.2:8080`, '--allow', '127.0.0.0/8', '--json'],
    { reject: false, buffer: { stdout: false } },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  let port2 = 0;
  try {
    await waitUntil('serve to print ready', () => out.includes('"event":"ready"'), { timeoutMs: 30_000 });
    assert.ok(existsSync(sock), 'control socket bound');
    const { ip } = await httpdGuest(q, 8080);
    assert.is(ip, '192.168.65.2', 'the first DHCP lease is the one --expose named');
    assert.is(await withTimeout('GET through --expose', httpGet(port), 30_000), 'guest page\n');
    assert.equal((await curl(sock, 'GET', '/services/forwarder/all')).body, [{ local: `127.0.0.1:${port}`, remote: '192.168.65.2:8080', protocol: 'tcp' }]);
    port2 = await freePort();
    assert.is((await curl(sock, 'POST', '/services/forwarder/expose', { local: `127.0.0.1:${port2}`, remote: ':8080' })).status, 200);
    assert.is(await withTimeout('GET through the API-exposed port', httpGet(port2), 30_000), 'guest page\n');
    const verbose = (await curl(sock, 'GET', '/leases?verbose=1')).body as Array<{ ip: string; mac: string }>;
    assert.is(verbose.length, 1);
    assert.equal((await curl(sock, 'GET', '/leases')).body, { '192.168.65.2': verbose[0]!.mac });
    assert.is((await curl(sock, 'POST', '/services/forwarder/unexpose', { local: `127.0.0.1:${port}` })).status, 200);
  } finally {
    child.kill('SIGTERM');
  }
  const r = await withTimeout('serve to exit', child, 15_000);
  assert.is(r.exitCode, 0, r.stderr);
  assert.not.ok(existsSync(sock), 'control socket unlinked');
  const after = await httpGet(port2).then(
    () => 'answered',
    (err: NodeJS.ErrnoException) => err.code,
  );
  assert.is(after, 'ECONNREFUSED', 'exposed ports closed with the network');
});

test.run();
