/**
 * Client handshake against scripted servers over an in-memory pair: what it sends, how it
 * judges the server's Init and Response, and that it never loses bytes or leaks listeners.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { CLIENT_INIT, vmnetClientHandshake, type VmnetClientOptions } from '../../../src/transports/vmnet/client-handshake.js';
import {
  decodeCommand,
  decodeInit,
  encodeInit,
  encodeResponse,
  RESPONSE_SIZE,
  VPNKIT_SERVER_INIT,
} from '../../../src/transports/vmnet/messages.js';
import { duplexPair, readBytes, settle } from './helpers.js';

const UUID = 'c3d68012-0208-11ea-9fd7-f2189899ab08';
const MAC = Buffer.from([0x02, 0x50, 0, 0, 0, 7]);
const vifBytes = encodeResponse({ type: 'vif', mtu: 1500, maxPacketSize: 1550, mac: MAC })._unsafeUnwrap();

function opts(extra: Partial<Omit<VmnetClientOptions, 'scheduler'>> = {}): VmnetClientOptions & { scheduler: ManualScheduler } {
  return { uuid: UUID, ...extra, scheduler: new ManualScheduler() };
}

test('sends Init then, after the server Init, the Command; returns the Vif and trailing bytes', async () => {
  const { a: client, b: server } = duplexPair();
  const o = opts({ preferredIp: 0xc0a8410a });
  const pending = vmnetClientHandshake(client, o);
  const init = await readBytes(server, 49);
  assert.equal(decodeInit(init)._unsafeUnwrap(), { ...CLIENT_INIT });
  await settle();
  // Nothing else before the server speaks (§1.2: the Command follows the server's Init).
  assert.is(server.readableLength, 0);
  server.write(encodeInit()._unsafeUnwrap());
  const cmd = await readBytes(server, 41);
  assert.equal(decodeCommand(cmd)._unsafeUnwrap(), { type: 'preferred-ipv4', uuid: UUID, ip: 0xc0a8410a });
  const frames = Buffer.from([2, 0, 0xde, 0xad]);
  server.write(Buffer.concat([vifBytes, frames]));
  const r = (await pending)._unsafeUnwrap();
  assert.is(r.type, 'vif');
  if (r.type !== 'vif') return;
  assert.equal(r.vif, { mtu: 1500, maxPacketSize: 1550, mac: MAC });
  assert.equal(r.serverInit, { ...VPNKIT_SERVER_INIT });
  assert.is(r.versionNote, undefined);
  assert.equal(r.rest, frames);
  assert.is(client.listenerCount('data'), 0);
  assert.is(o.scheduler.size, 0);
});

test('uuid null sends 36 NULs in an Ethernet command', async () => {
  const { a: client, b: server } = duplexPair();
  const pending = vmnetClientHandshake(client, opts({ uuid: null }));
  await readBytes(server, 49);
  server.write(encodeInit()._unsafeUnwrap());
  const cmd = await readBytes(server, 41);
  assert.equal(cmd, Buffer.concat([Buffer.from([1]), Buffer.alloc(40)]));
  server.write(vifBytes);
  assert.is((await pending)._unsafeUnwrap().type, 'vif');
});

test('Disconnect is an Ok carrying the reason; the stream is closed', async () => {
  const { a: client, b: server } = duplexPair();
  const pending = vmnetClientHandshake(client, opts());
  server.write(Buffer.concat([encodeInit()._unsafeUnwrap(), encodeResponse({ type: 'disconnect', reason: 'Preferred IP address out of range.' })._unsafeUnwrap()]));
  const r = (await pending)._unsafeUnwrap();
  assert.equal(r.type === 'disconnect' ? r.reason : r.type, 'Preferred IP address out of range.');
  assert.ok(client.destroyed);
});

test('bad magic is fatal (hyperkit checks it)', async () => {
  const { a: client, b: server } = duplexPair();
  const pending = vmnetClientHandshake(client, opts());
  server.write(encodeInit({ magic: 'VMNET', version: 22, commit: '' })._unsafeUnwrap());
  const e = (await pending)._unsafeUnwrapErr();
  assert.is(e.kind, 'bad-magic');
  if (e.kind === 'bad-magic') assert.is(e.magic, 'VMNET');
  assert.ok(client.destroyed);
});

test('version mismatch: noted by default (hyperkit), fatal in strict mode (tap-vsockd)', async () => {
  {
    const { a: client, b: server } = duplexPair();
    const pending = vmnetClientHandshake(client, opts());
    server.write(Buffer.concat([encodeInit({ ...VPNKIT_SERVER_INIT, version: 21 })._unsafeUnwrap(), vifBytes]));
    const r = (await pending)._unsafeUnwrap();
    assert.is(r.type, 'vif');
    if (r.type === 'vif') assert.match(r.versionNote ?? '', /21/);
  }
  {
    const { a: client, b: server } = duplexPair();
    const pending = vmnetClientHandshake(client, opts({ strictVersion: true }));
    server.write(Buffer.concat([encodeInit({ ...VPNKIT_SERVER_INIT, version: 21 })._unsafeUnwrap(), vifBytes]));
    const e = (await pending)._unsafeUnwrapErr();
    assert.is(e.kind, 'bad-version');
    if (e.kind === 'bad-version') assert.is(e.version, 21);
  }
});

test('unknown response type is an error', async () => {
  const { a: client, b: server } = duplexPair();
  const pending = vmnetClientHandshake(client, opts());
  const weird = Buffer.alloc(RESPONSE_SIZE);
  weird[0] = 3;
  server.write(Buffer.concat([encodeInit()._unsafeUnwrap(), weird]));
  const e = (await pending)._unsafeUnwrapErr();
  assert.is(e.kind, 'unknown-response');
  if (e.kind === 'unknown-response') assert.is(e.type, 3);
});

test('server closing at every byte boundary of its Init and Response: short-read', async () => {
  const full = Buffer.concat([encodeInit()._unsafeUnwrap(), vifBytes]);
  for (let cut = 0; cut < full.length; cut++) {
    const { a: client, b: server } = duplexPair();
    const o = opts();
    const pending = vmnetClientHandshake(client, o);
    if (cut > 0) server.write(full.subarray(0, cut));
    server.end();
    const e = (await pending)._unsafeUnwrapErr();
    assert.is(e.kind, 'short-read', `cut ${cut}`);
    if (e.kind === 'short-read') {
      const want = cut < 49 ? ['init', cut] : ['response', cut - 49];
      assert.equal([e.phase, e.received], want, `cut ${cut}`);
    }
    assert.is(o.scheduler.size, 0);
  }
});

test('timeout while waiting for the Response', async () => {
  const { a: client, b: server } = duplexPair();
  const o = opts({ timeoutMs: 3000 });
  const pending = vmnetClientHandshake(client, o);
  server.write(encodeInit()._unsafeUnwrap());
  await settle();
  o.scheduler.advance(3000);
  const e = (await pending)._unsafeUnwrapErr();
  assert.is(e.kind, 'timeout');
  if (e.kind === 'timeout') assert.is(e.phase, 'response');
  assert.ok(client.destroyed);
});

test('an invalid UUID or address is refused before anything is written', async () => {
  for (const extra of [{ uuid: 'xyz' }, { preferredIp: 2 ** 32 }] as Partial<Omit<VmnetClientOptions, 'scheduler'>>[]) {
    const { a: client, b: server } = duplexPair();
    let wrote = 0;
    server.on('data', (c: Buffer) => (wrote += c.length));
    const e = (await vmnetClientHandshake(client, opts(extra)))._unsafeUnwrapErr();
    assert.ok(e.kind === 'bad-uuid' || e.kind === 'invalid-argument', e.kind);
    await settle();
    assert.is(wrote, 0);
  }
});

test.run();
