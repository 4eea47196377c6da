/**
 * The host-interface control routes: strict bodies, one HTTP status per error kind, the name
 * from `/host-interface/NAME` or `?name=`, and the whole set served by the real control server
 * on a Unix socket over a real network (TAP and `ip` faked: nothing touches this host).
 */
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ok, type Result } from 'neverthrow';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { serveHttp, type RouteRequest, type Routes } from '../../src/control/http-server.js';
import {
  HOST_INTERFACE_ERROR_STATUS,
  hostInterfaceControl,
  hostInterfaceRoutes,
  nameFromRequest,
  specFromBody,
} from '../../src/host-interface/control-routes.js';
import type { HostInterfaceEnv } from '../../src/host-interface/host-interface.js';
import type { FrameHandler } from '../../src/native/tap-device.js';
import type { OsError } from '../../src/native/os-error.js';
import type { FrameDevice } from '../../src/transports/tap-port.js';
import { VirtualNetwork } from '../../src/virtual-network.js';

const req = (path: string, body?: unknown): RouteRequest => {
  const u = new URL(path, 'http://unix');
  return { method: 'X', path: u.pathname, query: u.searchParams, body };
};

test('bodies: name and address required, optional mac/mtu/routes typed, unknown fields named', () => {
  assert.equal(specFromBody({ name: 'vnk0', address: '192.168.65.3/24' }), { name: 'vnk0', address: '192.168.65.3/24' });
  assert.equal(specFromBody({ name: 'vnk0', address: '192.168.65.3/24', mac: '02:00:00:00:00:01', mtu: 1400, routes: ['10.88.0.0/16 via 192.168.65.2'] }), {
    name: 'vnk0',
    address: '192.168.65.3/24',
    mac: '02:00:00:00:00:01',
    mtu: 1400,
    routes: ['10.88.0.0/16 via 192.168.65.2'],
  });
  const bad: Array<[unknown, RegExp]> = [
    [undefined, /JSON object/],
    [[1], /JSON object/],
    [{ address: '1.2.3.4/24' }, /missing field "name"/],
    [{ name: 'vnk0' }, /missing field "address"/],
    [{ name: 1, address: 'x' }, /"name" must be a string/],
    [{ name: 'vnk0', address: 'x', mtu: '1500' }, /"mtu" must be a number/],
    [{ name: 'vnk0', address: 'x', routes: '10.88.0.0/16 via 192.168.65.2' }, /"routes" must be an array/],
    [{ name: 'vnk0', address: 'x', routes: [1] }, /"routes" must be an array/],
    [{ name: 'vnk0', address: 'x', up: true, mode: 1 }, /unknown fields "up", "mode"/],
  ];
  for (const [body, why] of bad) {
    const r = specFromBody(body);
    assert.type(r, 'string', JSON.stringify(body));
    assert.match(r as string, why);
  }
});

test('the name comes from the path or the query; percent-escapes are decoded', () => {
  assert.is(nameFromRequest(req('/host-interface/vnk0')), 'vnk0');
  assert.is(nameFromRequest(req('/host-interface/vnk%2D0')), 'vnk-0');
  assert.is(nameFromRequest(req('/host-interface?name=vnk0')), 'vnk0');
  assert.is(nameFromRequest(req('/host-interface')), undefined);
  assert.is(nameFromRequest(req('/host-interface/%E0%A4%A')), undefined);
});

test('every error kind has a status: caller mistakes 4xx, missing capabilities 5xx', () => {
  assert.is(HOST_INTERFACE_ERROR_STATUS['bad-route'], 400);
  assert.is(HOST_INTERFACE_ERROR_STATUS['not-permitted'], 403);
  assert.is(HOST_INTERFACE_ERROR_STATUS['not-found'], 404);
  assert.is(HOST_INTERFACE_ERROR_STATUS['interface-exists'], 409);
  assert.is(HOST_INTERFACE_ERROR_STATUS['address-in-use'], 409);
  assert.is(HOST_INTERFACE_ERROR_STATUS['unsupported-platform'], 501);
  assert.is(HOST_INTERFACE_ERROR_STATUS['native-unavailable'], 503);
});

/** An in-memory TAP and an `ip` that always succeeds (route get names the new device). */
function fakeEnv(): HostInterfaceEnv {
  return {
    platform: 'linux',
    openTap: (name) => {
      const dev: FrameDevice = {
        name,
        onFrame: (_h: FrameHandler) => {},
        onError: (_h: (e: OsError) => void) => {},
        write: (): Result<boolean, OsError> => ok(true),
        close: () => {},
      };
      return ok(dev);
    },
    ip: async (args) => {
      if (args[1] === 'show') return { exitCode: 1, stdout: '', stderr: `Device "${args[3]}" does not exist.` };
      if (args[1] === 'get') return { exitCode: 0, stdout: `${args[2]} dev vnk0 src 192.168.65.3`, stderr: '' };
      return { exitCode: 0, stdout: '', stderr: '' };
    },
  };
}

function call(sock: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const r = request({ socketPath: sock, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }));
    });
    r.on('error', reject);
    r.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test('served by the control server: POST creates, GET lists, errors carry kind and status, DELETE ?name= removes', async () => {
  const dir = mkdtempSync('/tmp/vnk-hir-');
  const sock = join(dir, 'control.sock');
  const net = VirtualNetwork.create()._unsafeUnwrap();
  const routes: Routes = new Map(hostInterfaceRoutes(hostInterfaceControl(net, fakeEnv())));
  const srv = (await serveHttp(sock, routes))._unsafeUnwrap();
  try {
    const created = await call(sock, 'POST', '/host-interface', { name: 'vnk0', address: '192.168.65.3/24', routes: ['10.88.0.0/16 via 192.168.65.2'] });
    assert.is(created.status, 201, JSON.stringify(created.body));
    assert.is(created.body.name, 'vnk0');
    assert.is(created.body.address, '192.168.65.3/24');
    assert.equal(created.body.routes, ['10.88.0.0/16 via 192.168.65.2']);
    assert.ok(created.body.reservedFromPool);

    const list = await call(sock, 'GET', '/host-interface');
    assert.is(list.status, 200);
    assert.equal(list.body.map((i: { name: string }) => i.name), ['vnk0']);

    const again = await call(sock, 'POST', '/host-interface', { name: 'vnk1', address: '192.168.65.4/24' });
    assert.is(again.status, 409);
    assert.is(again.body.kind, 'already-attached');

    const badRoute = await call(sock, 'POST', '/host-interface', { name: 'vnk1', address: '192.168.65.4/24', routes: ['0.0.0.0/0 via 192.168.65.2'] });
    assert.is(badRoute.status, 400);
    assert.is(badRoute.body.kind, 'bad-route');

    const badBody = await call(sock, 'POST', '/host-interface', { name: 'vnk1' });
    assert.is(badBody.status, 400);
    assert.match(badBody.body.error, /missing field "address"/);

    assert.is((await call(sock, 'DELETE', '/host-interface?name=nope')).status, 404);
    const gone = await call(sock, 'DELETE', '/host-interface?name=vnk0');
    assert.is(gone.status, 200);
    assert.equal((await call(sock, 'GET', '/host-interface')).body, []);
    assert.is((await call(sock, 'DELETE', '/host-interface')).status, 400);
  } finally {
    await srv.close();
    await net.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DELETE /host-interface/NAME reaches the same handler (for a server with wildcard keys)', async () => {
  const net = VirtualNetwork.create()._unsafeUnwrap();
  try {
    const routes = new Map(hostInterfaceRoutes(hostInterfaceControl(net, fakeEnv())));
    const post = await routes.get('POST /host-interface')!(req('/host-interface', { name: 'vnk0', address: '192.168.65.3/24' }));
    assert.is(post.status, 201);
    const del = routes.get('DELETE /host-interface/*')!;
    assert.is((await del(req('/host-interface/other'))).status, 404);
    assert.is((await del(req('/host-interface/vnk0'))).status, 200);
  } finally {
    await net.close();
  }
});

test.run();
