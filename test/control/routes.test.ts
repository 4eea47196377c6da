/**
 * The control API on a real Unix socket: gvproxy-compatible forwarder paths and bodies driving a
 * real PortForwarder (with an in-process guest TCP behind it), strict body validation, status
 * codes per error kind, `/leases` in both shapes and `/stats`.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errAsync } from 'neverthrow';
import { forwarderRoutes, splitHostPort, toForwardEntry } from '../../src/control/forwarder-routes.js';
import type { ControlServer } from '../../src/control/http-server.js';
import { controlRoutes, serveControl, type ControlApi } from '../../src/control/routes.js';
import type { ExposeErrorKind, LeaseInfo } from '../../src/forward/expose-spec.js';
import { PortForwarder } from '../../src/forward/port-forwarder.js';
import { vnetError } from '../../src/errors.js';
import { SeededRng } from '../../src/runtime/rng.js';
import { formatIpv4, parseIpv4 } from '../../src/wire/address.js';
import { GUEST, GuestConn, GuestPair, HOST_ALIAS, until } from '../harness/tcp/guest-pair.js';

const GATEWAY = parseIpv4('192.168.65.1')!;

interface Reply {
  status: number;
  body: unknown;
}

/** One HTTP request over the control socket. `body` is sent as is when a string, else as JSON. */
function call(socketPath: string, method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

interface Fixture {
  dir: string;
  sock: string;
  server: ControlServer;
  fwd: PortForwarder;
  pair: GuestPair;
  leases: LeaseInfo[];
  close(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'vnk-ctl-'));
  const sock = join(dir, 'control.sock');
  const pair = new GuestPair();
  const leases: LeaseInfo[] = [];
  const fwd = new PortForwarder({
    endpoint: pair.gw,
    udp: { bind: () => () => {}, send: () => 0 },
    gatewayIp: GATEWAY,
    hostLoopbackIp: HOST_ALIAS,
    runtime: { clock: pair.sched.clock, scheduler: pair.sched, rng: new SeededRng(11) },
    leases: () => leases,
    isGuestAddress: (ip) => ip >>> 8 === GATEWAY >>> 8 && ip !== GATEWAY && (ip & 255) !== 0 && (ip & 255) !== 255,
  });
  const api: ControlApi = {
    exposePort: (s) => fwd.expose(s),
    unexposePort: (k) => fwd.unexpose(k),
    listExposed: () => fwd.list(),
    leases: () => leases,
    stats: () => ({ expose: fwd.stats(), answer: 42 }),
  };
  const server = (await serveControl(sock, api))._unsafeUnwrap();
  return {
    dir,
    sock,
    server,
    fwd,
    pair,
    leases,
    close: async () => {
      await server.close();
      await fwd.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const errorOf = (r: Reply): string => (r.body as { error?: string } | undefined)?.error ?? '';

async function takenPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

// ---------------------------------------------------------------------------------------------
const fwdApi = suite('forwarder routes');

fwdApi('expose, reach the guest, list, unexpose: gvproxy paths and shapes', async () => {
  const f = await fixture();
  try {
    f.pair.guest.listen(GUEST, 22, (c) => new GuestConn(c).sendAll(Buffer.from('SSH-2.0-guest\r\n'), true));
    const e = await call(f.sock, 'POST', '/services/forwarder/expose', { local: '127.0.0.1:0', remote: '192.168.65.2:22', protocol: 'tcp' });
    assert.is(e.status, 200, JSON.stringify(e.body));
    const entry = e.body as { local: string; remote: string; protocol: string };
    const port = Number(splitHostPort(entry.local)!.port);
    assert.ok(port > 0, 'port 0 resolved in the answer');
    assert.equal(entry, { local: `127.0.0.1:${port}`, remote: '192.168.65.2:22', protocol: 'tcp' });
    const s = connect({ port, host: '127.0.0.1' });
    let banner = '';
    s.on('data', (b) => (banner += b.toString()));
    await until(() => banner.includes('\n'), 'banner through the exposed port');
    assert.is(banner, 'SSH-2.0-guest\r\n');
    s.destroy();
    const all = await call(f.sock, 'GET', '/services/forwarder/all');
    assert.equal(all, { status: 200, body: [entry] });
    const u = await call(f.sock, 'POST', '/services/forwarder/unexpose', { local: `127.0.0.1:${port}`, protocol: 'tcp' });
    assert.equal(u, { status: 200, body: undefined });
    assert.equal((await call(f.sock, 'GET', '/services/forwarder/all')).body, []);
    const again = await call(f.sock, 'POST', '/services/forwarder/unexpose', { local: `127.0.0.1:${port}` });
    assert.is(again.status, 404);
    assert.match(errorOf(again), `nothing is exposed on 127.0.0.1:${port}/tcp`);
  } finally {
    await f.close();
  }
});

fwdApi('gvproxy\'s ":PORT" local listens on 127.0.0.1; ":PORT" remote is the only leased guest; protocol defaults to tcp', async () => {
  const f = await fixture();
  try {
    f.leases.push({ ip: '192.168.65.2', mac: '5a:94:ef:e4:0c:ee', expiresAt: 0 });
    const { server, port } = await takenPort();
    await new Promise<void>((r) => server.close(() => r()));
    const e = await call(f.sock, 'POST', '/services/forwarder/expose', { local: `:${port}`, remote: ':22' });
    assert.is(e.status, 200, JSON.stringify(e.body));
    assert.equal(e.body, { local: `127.0.0.1:${port}`, remote: '192.168.65.2:22', protocol: 'tcp' });
    const same = await call(f.sock, 'POST', '/services/forwarder/expose', { local: `127.0.0.1:${port}`, remote: '192.168.65.2:22', protocol: 'tcp' });
    assert.is(same.status, 200, 'the same key again is a no-op success (vpnkit)');
    const other = await call(f.sock, 'POST', '/services/forwarder/expose', { local: `127.0.0.1:${port}`, remote: '192.168.65.3:22' });
    assert.is(other.status, 409);
    assert.match(errorOf(other), `127.0.0.1:${port}/tcp is already exposed to 192.168.65.2:22`);
    assert.is(f.fwd.list().length, 1);
  } finally {
    await f.close();
  }
});

fwdApi('a host port in use by another process is 409 naming the port', async () => {
  const f = await fixture();
  const { server, port } = await takenPort();
  try {
    const r = await call(f.sock, 'POST', '/services/forwarder/expose', { local: `127.0.0.1:${port}`, remote: '192.168.65.2:22', protocol: 'tcp' });
    assert.is(r.status, 409);
    assert.is(errorOf(r), `127.0.0.1:${port}/tcp is already in use by another process`);
  } finally {
    server.close();
    await f.close();
  }
});

fwdApi('protocol unix: local is a path, remote tcp://IP:PORT (or IP:PORT); listed as gvproxy lists it', async () => {
  const f = await fixture();
  try {
    f.pair.guest.listen(GUEST, 2375, (c) => new GuestConn(c).sendAll(Buffer.from('docker'), true));
    const path = join(f.dir, 'docker.sock');
    const e = await call(f.sock, 'POST', '/services/forwarder/expose', { local: path, remote: 'tcp://192.168.65.2:2375', protocol: 'unix' });
    assert.is(e.status, 200, JSON.stringify(e.body));
    assert.equal(e.body, { local: path, remote: 'tcp://192.168.65.2:2375', protocol: 'unix' });
    const s = connect({ path });
    let got = '';
    s.on('data', (b) => (got += b.toString()));
    await until(() => got === 'docker', 'through the Unix socket');
    s.destroy();
    assert.equal((await call(f.sock, 'GET', '/services/forwarder/all')).body, [e.body]);
    const plain = await call(f.sock, 'POST', '/services/forwarder/expose', { local: path, remote: '192.168.65.2:2375', protocol: 'unix' });
    assert.is(plain.status, 200, 'same key in the plain form is the same port');
    assert.is((await call(f.sock, 'POST', '/services/forwarder/unexpose', { local: path, protocol: 'unix' })).status, 200);
  } finally {
    await f.close();
  }
});

fwdApi('bodies are validated strictly: each mistake is a 400 that says what is wrong', async () => {
  const f = await fixture();
  try {
    const expose = '/services/forwarder/expose';
    const cases: Array<[string, unknown, RegExp]> = [
      [expose, '{not json', /not valid JSON/],
      [expose, [1, 2], /must be a JSON object/],
      [expose, { remote: '192.168.65.2:22' }, /missing field "local"/],
      [expose, { local: '127.0.0.1:2222' }, /missing field "remote"/],
      [expose, { local: '127.0.0.1:2222', remote: '192.168.65.2:22', proto: 'tcp' }, /unknown field "proto"/],
      [expose, { local: 2222, remote: '192.168.65.2:22' }, /field "local" must be a string/],
      [expose, { local: '127.0.0.1:2222', remote: '192.168.65.2:22', preserveClientAddress: 'false' }, /field "preserveClientAddress" must be true or false/],
      [expose, { local: '127.0.0.1:2222', remote: '192.168.65.2:22', preserveClientAddress: 0 }, /field "preserveClientAddress" must be true or false/],
      ['/services/forwarder/unexpose', { local: '127.0.0.1:2222', preserveClientAddress: false }, /unknown field "preserveClientAddress"/],
      [expose, { local: '127.0.0.1:2222', remote: '192.168.65.2:22', protocol: 'sctp' }, /unknown protocol "sctp"/],
      [expose, { local: '127.0.0.1', remote: '192.168.65.2:22' }, /"local" must be IP:PORT/],
      [expose, { local: '127.0.0.1:99999', remote: '192.168.65.2:22' }, /"local" must be IP:PORT/],
      [expose, { local: 'example.com:2222', remote: '192.168.65.2:22' }, /bad host address/],
      [expose, { local: '127.0.0.1:2222', remote: '192.168.65.2' }, /"remote" must be GUEST-IP:PORT/],
      [expose, { local: '127.0.0.1:2222', remote: '192.168.65.2:0' }, /port 1-65535/],
      [expose, { local: '127.0.0.1:2222', remote: '10.1.1.1:22' }, /10\.1\.1\.1 is not a guest address/],
      [expose, { local: '127.0.0.1:2222', remote: ':22' }, /no guest has a DHCP lease/],
      [expose, { local: '/tmp/x.sock', remote: 'ssh-tunnel://root@192.168.65.2:22/run/d.sock', protocol: 'unix' }, /ssh-tunnel:\/\/ is not supported/],
      [expose, { local: '', remote: '192.168.65.2:22', protocol: 'unix' }, /socket path/],
      ['/services/forwarder/unexpose', { local: '127.0.0.1:2222', remote: 'x' }, /unknown field "remote"/],
      ['/services/forwarder/unexpose', {}, /missing field "local"/],
      ['/services/forwarder/unexpose', { local: '127.0.0.1:0' }, /not 0/],
      ['/services/forwarder/unexpose', { local: '127.0.0.1:22', protocol: 'icmp' }, /unknown protocol "icmp"/],
    ];
    for (const [path, body, msg] of cases) {
      const r = await call(f.sock, 'POST', path, body);
      assert.is(r.status, 400, `${path} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
      assert.match(errorOf(r), msg);
    }
    assert.equal(f.fwd.list(), [], 'nothing was exposed by a bad request');
    const wrongMethod = await call(f.sock, 'GET', expose);
    assert.is(wrongMethod.status, 405);
  } finally {
    await f.close();
  }
});

fwdApi('each expose error kind has its status', async () => {
  const expected: Record<ExposeErrorKind, number> = {
    'bad-address': 400,
    'not-a-guest': 400,
    'no-guest': 400,
    'permission-denied': 403,
    'not-exposed': 404,
    'port-in-use': 409,
    'network-closed': 503,
    'listen-failed': 500,
  };
  for (const [kind, status] of Object.entries(expected)) {
    const routes = new Map(
      forwarderRoutes({
        exposePort: () => errAsync(vnetError(kind as 'closed', `it failed: ${kind}`)),
        unexposePort: () => errAsync(vnetError(kind as 'closed', `it failed: ${kind}`)),
        listExposed: () => [],
      }),
    );
    const r = await routes.get('POST /services/forwarder/expose')!({ method: 'POST', path: '', query: new URLSearchParams(), body: { local: '127.0.0.1:1', remote: '192.168.65.2:1' } });
    assert.equal(r, { status, body: { error: `it failed: ${kind}` } }, kind);
    const u = await routes.get('POST /services/forwarder/unexpose')!({ method: 'POST', path: '', query: new URLSearchParams(), body: { local: '127.0.0.1:1' } });
    assert.is(u.status, status, kind);
  }
});

fwdApi('"preserveClientAddress": false in the body: the guest sees the gateway; the entry says so; the default shows the client as the alias', async () => {
  const f = await fixture();
  try {
    const peers: string[] = [];
    f.pair.guest.listen(GUEST, 22, (c) => {
      peers.push(`${formatIpv4(c.remoteIp)}:${c.remotePort}`);
      new GuestConn(c).sendAll(Buffer.from('SSH-2.0-guest\r\n'), true);
    });
    const off = await call(f.sock, 'POST', '/services/forwarder/expose', { local: '127.0.0.1:0', remote: '192.168.65.2:22', preserveClientAddress: false });
    assert.is(off.status, 200, JSON.stringify(off.body));
    const on = await call(f.sock, 'POST', '/services/forwarder/expose', { local: '127.0.0.1:0', remote: '192.168.65.2:22', preserveClientAddress: true });
    const offEntry = off.body as { local: string };
    assert.equal(off.body, { local: offEntry.local, remote: '192.168.65.2:22', protocol: 'tcp', preserveClientAddress: false });
    assert.equal(Object.keys(on.body as object), ['local', 'remote', 'protocol'], 'the default keeps gvproxy\'s shape');
    const all = (await call(f.sock, 'GET', '/services/forwarder/all')).body as unknown[];
    assert.ok(all.some((e) => JSON.stringify(e) === JSON.stringify(off.body)), JSON.stringify(all));
    const clientPorts: number[] = [];
    for (const entry of [off.body, on.body] as Array<{ local: string }>) {
      const s = connect({ port: splitHostPort(entry.local)!.port, host: '127.0.0.1' });
      let banner = '';
      s.on('data', (b) => (banner += b.toString()));
      await until(() => banner.includes('\n'), 'banner');
      clientPorts.push(s.localPort!);
      s.destroy();
    }
    assert.match(peers[0]!, /^192\.168\.65\.1:\d+$/);
    assert.is(peers[1], `192.168.65.254:${clientPorts[1]}`);
  } finally {
    await f.close();
  }
});

fwdApi('list entries are written as gvproxy writes them', () => {
  assert.equal(toForwardEntry({ protocol: 'udp', hostIp: '::1', hostPort: 53, guestIp: '192.168.65.2', guestPort: 53 }), { local: '[::1]:53', remote: '192.168.65.2:53', protocol: 'udp' });
  assert.equal(toForwardEntry({ protocol: 'tcp', hostIp: '::1', hostPort: 80, guestIp: '192.168.65.2', guestPort: 80, preserveClientAddress: true }), { local: '[::1]:80', remote: '192.168.65.2:80', protocol: 'tcp' });
  assert.equal(toForwardEntry({ protocol: 'tcp', hostIp: '::1', hostPort: 80, guestIp: '192.168.65.2', guestPort: 80, preserveClientAddress: false }), { local: '[::1]:80', remote: '192.168.65.2:80', protocol: 'tcp', preserveClientAddress: false });
  assert.equal(splitHostPort('[::1]:80'), { host: '::1', port: 80 });
  assert.equal(splitHostPort(':80'), { host: '', port: 80 });
  assert.is(splitHostPort('::1:80'), undefined, 'IPv6 needs brackets');
});

// ---------------------------------------------------------------------------------------------
const other = suite('leases and stats');

other('GET /leases is an ip → mac map; ?verbose=1 gives the records sorted by address', async () => {
  const f = await fixture();
  try {
    f.leases.push(
      { ip: '192.168.65.10', mac: '5a:94:ef:e4:0c:10', hostname: 'b', expiresAt: 1_700_000_000_000 },
      { ip: '192.168.65.9', mac: '5a:94:ef:e4:0c:09', uuid: '6b1a43a0-2c64-4f54-9e0e-0a0a0a0a0a0a', expiresAt: 1_700_000_000_500 },
    );
    assert.equal(await call(f.sock, 'GET', '/leases'), { status: 200, body: { '192.168.65.9': '5a:94:ef:e4:0c:09', '192.168.65.10': '5a:94:ef:e4:0c:10' } });
    const v = await call(f.sock, 'GET', '/leases?verbose=1');
    assert.equal(v, {
      status: 200,
      body: [
        { ip: '192.168.65.9', mac: '5a:94:ef:e4:0c:09', uuid: '6b1a43a0-2c64-4f54-9e0e-0a0a0a0a0a0a', expiresAt: 1_700_000_000_500 },
        { ip: '192.168.65.10', mac: '5a:94:ef:e4:0c:10', hostname: 'b', expiresAt: 1_700_000_000_000 },
      ],
    });
    assert.is((await call(f.sock, 'GET', '/leases?verbose=0')).body instanceof Array, false);
    assert.is((await call(f.sock, 'GET', '/leases?verbose=yes')).status, 400);
  } finally {
    await f.close();
  }
});

other('GET /stats returns what the network reports', async () => {
  const f = await fixture();
  try {
    const r = await call(f.sock, 'GET', '/stats');
    assert.is(r.status, 200);
    const body = r.body as { answer: number; expose: { ports: unknown[]; tcp: { accepted: number } } };
    assert.is(body.answer, 42);
    assert.equal(body.expose.ports, []);
    assert.is(body.expose.tcp.accepted, 0);
    assert.is((await call(f.sock, 'GET', '/nope')).status, 404);
  } finally {
    await f.close();
  }
});

other('other services mount their routes beside these', async () => {
  const api: ControlApi = { exposePort: () => assert.unreachable() as never, unexposePort: () => assert.unreachable() as never, listExposed: () => [], leases: () => [], stats: () => ({}) };
  const routes = controlRoutes(api, [['GET /host-interface', () => ({ status: 200, body: [] })]]);
  assert.equal([...routes.keys()].sort(), ['GET /host-interface', 'GET /leases', 'GET /services/forwarder/all', 'GET /stats', 'POST /services/forwarder/expose', 'POST /services/forwarder/unexpose']);
  assert.equal(await routes.get('GET /host-interface')!({ method: 'GET', path: '/host-interface', query: new URLSearchParams(), body: undefined }), { status: 200, body: [] });
});

fwdApi.run();
other.run();
