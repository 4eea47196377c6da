import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { err } from 'neverthrow';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { vnetError } from '../../../src/errors.js';
import { loadNative } from '../../../src/native/index.js';
import { HV_VM_IDS, LEGACY_SERVICE_IDS, VSOCK_CID } from '../../../adapters/hvsock/addressing.js';
import { listenHybrid } from '../../../adapters/hvsock/hybrid-vsock.js';
import { AfHypervProvider, AfVsockProvider } from '../../../adapters/hvsock/native-providers.js';
import { AnyVsockProvider } from '../../../adapters/hvsock/provider.js';
import { HybridVsockProvider, HyperkitVsockProvider, UnixSocketProvider } from '../../../adapters/hvsock/unix-providers.js';
import type { VsockAddress } from '../../../adapters/hvsock/uri.js';
import { collect, destroyTracked, rawConnect, tempDir, track } from './hvsock-test-helpers.js';

const { dir, cleanup } = tempDir();
const toClose: Array<{ close(): unknown }> = [];
test.after(() => {
  destroyTracked();
  for (const c of toClose) c.close();
  cleanup();
});

test('AnyVsockProvider dispatches on transport', () => {
  const any = new AnyVsockProvider();
  const names = (['vsock', 'hyperv', 'hybrid', 'hyperkit', 'unix'] as const).map((t) => any.providerFor({ transport: t } as VsockAddress).name);
  assert.equal(names, ['af-vsock', 'af-hyperv', 'hybrid-vsock', 'hyperkit', 'unix']);
});

test('a provider given another transport’s address says so (invalid-address)', async () => {
  const e = (await new HybridVsockProvider().connect({ transport: 'vsock', cid: 3, port: 1 }))._unsafeUnwrapErr();
  assert.is(e.kind, 'invalid-address');
  assert.match(e.message, /cannot serve a 'vsock' address/);
  assert.is((await new AfVsockProvider().listen({ transport: 'unix', path: '/x' }))._unsafeUnwrapErr().kind, 'invalid-address');
});

test('native providers report native-unavailable with the loader’s reason', async () => {
  const load = () => err(vnetError('native-unavailable', 'the native addon is not built (test)'));
  const e = (await new AfVsockProvider({ load }).listen({ transport: 'vsock', cid: VSOCK_CID.any, port: 1 }))._unsafeUnwrapErr();
  assert.is(e.kind, 'native-unavailable');
  assert.match(e.message, /not built \(test\)/);
  const h = (await new AfVsockProvider({ load }).connect({ transport: 'vsock', cid: 3, port: 1 }))._unsafeUnwrapErr();
  assert.is(h.kind, 'native-unavailable');
});

test('AF_HYPERV on a non-Windows host is native-unavailable with guidance', async () => {
  if (process.platform === 'win32') return;
  const e = (await new AfHypervProvider().connect({ transport: 'hyperv', vmId: HV_VM_IDS.parent, serviceId: LEGACY_SERVICE_IDS.ethernet }))._unsafeUnwrapErr();
  assert.is(e.kind, 'native-unavailable');
  assert.match(e.message, /only on Windows|not built|supports Linux/);
});

const native = loadNative();
if (native.isOk() && native.value.vsockListen(-1, -1, 1) >= 0) {
  test('AF_VSOCK listen: kernel-chosen port is reported; close releases it', async () => {
    const l = (await new AfVsockProvider().listen({ transport: 'vsock', cid: VSOCK_CID.any, port: VSOCK_CID.any }))._unsafeUnwrap();
    assert.is(l.address.transport, 'vsock');
    const port = l.address.transport === 'vsock' ? l.address.port : 0;
    assert.ok(port > 0 && port < 0xffffffff, `bound port ${port}`);
    const again = await new AfVsockProvider().listen({ transport: 'vsock', cid: VSOCK_CID.any, port });
    assert.is(again._unsafeUnwrapErr().kind, 'os-error', 'port in use while listening');
    await l.close();
    const third = (await new AfVsockProvider().listen({ transport: 'vsock', cid: VSOCK_CID.any, port }))._unsafeUnwrap();
    await third.close();
  });

  test('AF_VSOCK connect to this machine fails with an os-error, not a crash', async () => {
    const cid = native.value.vsockLocalCid();
    const e = (await new AfVsockProvider().connect({ transport: 'vsock', cid, port: 9 }))._unsafeUnwrapErr();
    assert.is(e.kind, 'os-error');
    assert.ok('code' in e && typeof e.code === 'string' && e.code.startsWith('E'), JSON.stringify(e));
  });
} else {
  console.log(`SKIP AF_VSOCK provider tests: ${native.isErr() ? native.error.message : 'AF_VSOCK listen failed'}`);
}

test('hybrid provider: connect through a VMM (listenHybrid) and listen for guest-initiated ports', async () => {
  const uds = `${dir}/fc.sock`;
  toClose.push((await listenHybrid(uds, (port, s) => track(s).end(`guest port ${port}`)))._unsafeUnwrap());
  const p = new HybridVsockProvider();
  const s = track((await p.connect({ transport: 'hybrid', udsPath: uds, port: 5000 }))._unsafeUnwrap());
  assert.is((await collect(s)).toString(), 'guest port 5000');
  const l = (await p.listen({ transport: 'hybrid', udsPath: uds, port: 1025 }))._unsafeUnwrap();
  toClose.push(l);
  const got = new Promise<{ data: string; port?: number }>((resolve) =>
    l.on('connection', (stream: Duplex, peer) => void collect(track(stream)).then((b) => resolve({ data: b.toString(), port: peer.port }))),
  );
  const g = await rawConnect(`${uds}_1025`);
  g.end('guest-initiated');
  assert.equal(await got, { data: 'guest-initiated', port: 1025 });
});

test('hyperkit and unix providers listen where the conventions say', async () => {
  const hk = (await new HyperkitVsockProvider().listen({ transport: 'hyperkit', dir, cid: 3, port: 0x1234 }))._unsafeUnwrap();
  toClose.push(hk);
  const got = new Promise<string>((resolve) => hk.on('connection', (s: Duplex) => void collect(track(s)).then((b) => resolve(b.toString()))));
  const c = await rawConnect(`${dir}/00000002.00001234`);
  c.end('via hyperkit path');
  assert.is(await got, 'via hyperkit path');

  const up = new UnixSocketProvider();
  const ul = (await up.listen({ transport: 'unix', path: `${dir}/plain.sock` }))._unsafeUnwrap();
  toClose.push(ul);
  ul.on('connection', (s: Duplex) => track(s).end('plain'));
  const us = track((await up.connect({ transport: 'unix', path: `${dir}/plain.sock` }))._unsafeUnwrap());
  assert.is((await collect(us)).toString(), 'plain');
});

test('connections arriving with no connection handler are closed, not leaked', async () => {
  const up = new UnixSocketProvider();
  const l = (await up.listen({ transport: 'unix', path: `${dir}/nobody.sock` }))._unsafeUnwrap();
  const c = await rawConnect(`${dir}/nobody.sock`);
  assert.is((await collect(c)).length, 0);
  await l.close();
  assert.ok(l.isClosed);
});

test('a live socket path is not stolen; a stale one is replaced', async () => {
  const up = new UnixSocketProvider();
  const path = `${dir}/busy.sock`;
  const first = (await up.listen({ transport: 'unix', path }))._unsafeUnwrap();
  const second = await up.listen({ transport: 'unix', path });
  assert.is(second._unsafeUnwrapErr().kind, 'os-error');
  assert.match(second._unsafeUnwrapErr().message, /EADDRINUSE/);
  await first.close();
  // A stale socket file: bound by a process that exited without unlinking it.
  const stale = `${dir}/stale.sock`;
  const py = spawnSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)})`]);
  if (py.status === 0 && lstatSync(stale).isSocket()) {
    const replaced = (await up.listen({ transport: 'unix', path: stale }))._unsafeUnwrap();
    await replaced.close();
  } else {
    console.log('SKIP stale-socket case: python3 could not create a stale socket file');
  }
  // A regular file is never deleted to make room.
  const file = `${dir}/regular-file`;
  writeFileSync(file, 'keep me');
  assert.is((await up.listen({ transport: 'unix', path: file }))._unsafeUnwrapErr().kind, 'os-error');
  assert.is(readFileSync(file, 'utf8'), 'keep me');
});

test.run();
