/**
 * Server handshake (S0–S4) driven by raw bytes: over an in-memory pair where chunk boundaries
 * are exact, and over real Unix sockets for the close/EOF behaviour the peer observes.
 */
import { err, ok } from 'neverthrow';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import {
  INTERNAL_FAILURE_REASON,
  vmnetServerHandshake,
  type VmnetAssign,
  type VmnetAssignRequest,
  type VmnetServerOptions,
} from '../../../src/transports/vmnet/handshake.js';
import {
  decodeResponse,
  encodeCommand,
  encodeInit,
  RESPONSE_SIZE,
  VMNET_MAGIC,
} from '../../../src/transports/vmnet/messages.js';
import { closed, duplexPair, readAll, readBytes, settle, unixServer } from './helpers.js';

const UUID = 'c3d68012-0208-11ea-9fd7-f2189899ab08';
const MAC = Buffer.from([0x02, 0x50, 0, 0, 0, 1]);
const clientInit = (version = 22): Buffer => encodeInit({ magic: VMNET_MAGIC, version, commit: 'f'.repeat(40) })._unsafeUnwrap();
const serverInit = encodeInit()._unsafeUnwrap();
const ethernet = encodeCommand({ type: 'ethernet', uuid: UUID })._unsafeUnwrap();

function options(assign?: VmnetAssign): { opts: VmnetServerOptions; scheduler: ManualScheduler; calls: VmnetAssignRequest[]; logs: string[] } {
  const scheduler = new ManualScheduler();
  const calls: VmnetAssignRequest[] = [];
  const logs: string[] = [];
  const opts: VmnetServerOptions = {
    scheduler,
    rng: new SeededRng(1),
    log: (l) => logs.push(l),
    assign: (req) => {
      calls.push(req);
      return assign ? assign(req) : ok({ mac: MAC, mtu: 1500 });
    },
  };
  return { opts, scheduler, calls, logs };
}

test('happy path in one chunk: Init+Command+frames; Init and Vif are written, frames kept in rest', async () => {
  const { a: client, b: server } = duplexPair();
  const { opts, scheduler, calls } = options();
  const got = readBytes(client, 49 + RESPONSE_SIZE);
  const frames = Buffer.from([3, 0, 0xaa, 0xbb, 0xcc, 1, 0, 0x11]);
  client.write(Buffer.concat([clientInit(), ethernet, frames]));
  const r = await vmnetServerHandshake(server, opts);
  const s = r._unsafeUnwrap();
  assert.equal(calls, [{ uuid: UUID, generated: false }]);
  assert.equal(
    { uuid: s.uuid, generated: s.generated, mac: s.mac, mtu: s.mtu, mps: s.maxPacketSize, ip: s.preferredIp },
    { uuid: UUID, generated: false, mac: MAC, mtu: 1500, mps: 1550, ip: undefined },
  );
  assert.is(s.clientInit.commit, 'f'.repeat(40));
  assert.equal(s.rest, frames);
  const bytes = await got;
  assert.equal(bytes.subarray(0, 49), serverInit);
  assert.equal(decodeResponse(bytes.subarray(49))._unsafeUnwrap(), { type: 'vif', mtu: 1500, maxPacketSize: 1550, mac: MAC });
  assert.is(scheduler.size, 0, 'deadline disarmed');
});

test('byte-at-a-time delivery; listeners removed; later bytes reach the next owner', async () => {
  const { a: client, b: server } = duplexPair();
  const before = ['data', 'end', 'close', 'error'].map((e) => server.listenerCount(e));
  const { opts } = options();
  const pending = vmnetServerHandshake(server, opts);
  for (const byte of Buffer.concat([clientInit(), ethernet])) {
    client.write(Buffer.from([byte]));
    await settle();
  }
  const s = (await pending)._unsafeUnwrap();
  assert.is(s.rest.length, 0);
  assert.equal(['data', 'end', 'close', 'error'].map((e) => server.listenerCount(e)), before);
  assert.ok(server.isPaused(), 'handed over paused');
  client.write(Buffer.from([1, 0, 0x5a]));
  client.end();
  const after = await readAll(server);
  assert.equal(after, Buffer.from([1, 0, 0x5a]));
});

test('Preferred_ipv4 passes the host-order address to assign; explicit max packet size is sent', async () => {
  const { a: client, b: server } = duplexPair();
  const { opts, calls } = options(() => ok({ mac: MAC, mtu: 9000, maxPacketSize: 9014 }));
  const got = readBytes(client, 49 + RESPONSE_SIZE);
  client.write(clientInit());
  client.write(encodeCommand({ type: 'preferred-ipv4', uuid: UUID.toUpperCase(), ip: 0xc0a8410a })._unsafeUnwrap());
  const s = (await vmnetServerHandshake(server, opts))._unsafeUnwrap();
  assert.equal(calls, [{ uuid: UUID, generated: false, preferredIp: 0xc0a8410a }]);
  assert.is(s.preferredIp, 0xc0a8410a);
  const resp = decodeResponse((await got).subarray(49))._unsafeUnwrap();
  assert.equal(resp, { type: 'vif', mtu: 9000, maxPacketSize: 9014, mac: MAC });
});

test('max packet size defaults to mtu + 50, capped at 65535', async () => {
  const { a: client, b: server } = duplexPair();
  const { opts } = options(() => ok({ mac: MAC, mtu: 65500 }));
  client.write(Buffer.concat([clientInit(), ethernet]));
  const s = (await vmnetServerHandshake(server, opts))._unsafeUnwrap();
  assert.is(s.maxPacketSize, 65535);
});

test('36 NULs: a v4 UUID is generated from the injected Rng and flagged', async () => {
  const { a: client, b: server } = duplexPair();
  const { opts, calls } = options();
  client.write(Buffer.concat([clientInit(), encodeCommand({ type: 'ethernet', uuid: null })._unsafeUnwrap()]));
  const s = (await vmnetServerHandshake(server, opts))._unsafeUnwrap();
  assert.ok(s.generated);
  assert.match(s.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(calls, [{ uuid: s.uuid, generated: true }]);
});

test('refusal: the Disconnect reason is written, then the stream closes', async () => {
  const { a: client, b: server } = duplexPair();
  const { opts, logs } = options(() => err({ reason: 'No IP addresses available.' }));
  const all = readAll(client);
  client.write(Buffer.concat([clientInit(), ethernet]));
  const e = (await vmnetServerHandshake(server, opts))._unsafeUnwrapErr();
  assert.is(e.kind, 'refused');
  if (e.kind === 'refused') assert.is(e.reason, 'No IP addresses available.');
  const bytes = await all;
  assert.is(bytes.length, 49 + RESPONSE_SIZE);
  assert.equal(decodeResponse(bytes.subarray(49))._unsafeUnwrap(), { type: 'disconnect', reason: 'No IP addresses available.' });
  assert.ok(logs.some((l) => l.includes('No IP addresses available.')));
});

test('assign that throws or returns a bad MAC: internal-failure Disconnect, bad-assignment', async () => {
  for (const assign of [
    (): never => {
      throw new Error('table exploded');
    },
    () => ok({ mac: Buffer.alloc(5), mtu: 1500 }),
  ] as VmnetAssign[]) {
    const { a: client, b: server } = duplexPair();
    const all = readAll(client);
    client.write(Buffer.concat([clientInit(), ethernet]));
    const e = (await vmnetServerHandshake(server, options(assign).opts))._unsafeUnwrapErr();
    assert.is(e.kind, 'bad-assignment');
    const bytes = await all;
    assert.equal(decodeResponse(bytes.subarray(49))._unsafeUnwrap(), { type: 'disconnect', reason: INTERNAL_FAILURE_REASON });
  }
});

test('deadline: ManualScheduler fires the timeout in the init and command phases, and not earlier', async () => {
  for (const [sent, phase] of [
    [clientInit().subarray(0, 10), 'init'],
    [Buffer.concat([clientInit(), ethernet.subarray(0, 40)]), 'command'],
  ] as const) {
    const { a: client, b: server } = duplexPair();
    const { opts, scheduler } = options();
    let settled = false;
    const pending = (async () => {
      const r = await vmnetServerHandshake(server, { ...opts, timeoutMs: 5000 });
      settled = true;
      return r;
    })();
    client.write(sent);
    await settle();
    scheduler.advance(4999);
    await settle();
    assert.not.ok(settled, 'still waiting before the deadline');
    scheduler.advance(1);
    const e = (await pending)._unsafeUnwrapErr();
    assert.is(e.kind, 'timeout');
    if (e.kind === 'timeout') assert.equal({ phase: e.phase, ms: e.timeoutMs }, { phase, ms: 5000 });
    assert.ok(server.destroyed);
    assert.is(scheduler.size, 0);
  }
});

test('default deadline is 10 s', async () => {
  const { b: server } = duplexPair();
  const { opts, scheduler } = options();
  const pending = vmnetServerHandshake(server, opts);
  scheduler.advance(10_000);
  assert.is((await pending)._unsafeUnwrapErr().kind, 'timeout');
});

test('a stream error during the handshake is io-error with the cause', async () => {
  const { a: client, b: server } = duplexPair();
  const { opts } = options();
  const pending = vmnetServerHandshake(server, opts);
  client.write(clientInit().subarray(0, 20));
  await settle();
  const boom = new Error('boom');
  server.destroy(boom);
  const e = (await pending)._unsafeUnwrapErr();
  assert.is(e.kind, 'io-error');
  assert.is(e.cause, boom);
});

test('peer that sent everything and then EOF before our Response: peer-closed, no session', async () => {
  const { a: client, b: server } = duplexPair();
  const { opts, calls } = options();
  // Everything, EOF included, is buffered before the handshake starts listening.
  client.write(Buffer.concat([clientInit(), ethernet]));
  client.end();
  await settle();
  const e = (await vmnetServerHandshake(server, opts))._unsafeUnwrapErr();
  assert.is(e.kind, 'peer-closed');
  assert.is(calls.length, 0, 'the network was not asked');
});

test('an already-destroyed stream fails at once as a short read', async () => {
  const { b: server } = duplexPair();
  server.destroy();
  const { opts, scheduler } = options();
  const e = (await vmnetServerHandshake(server, opts))._unsafeUnwrapErr();
  assert.is(e.kind, 'short-read');
  assert.is(scheduler.size, 0);
});

// ---- Over real Unix sockets: what the peer observes ----

test('wrong version: our Init is still sent, then EOF, no Response', async () => {
  const srv = await unixServer();
  try {
    for (const version of [0, 2, 21, 23, 0xffffffff]) {
      const c = await srv.connect();
      const s = await srv.next();
      const { opts, logs } = options();
      const all = readAll(c);
      c.write(Buffer.concat([clientInit(version), ethernet]));
      const e = (await vmnetServerHandshake(s, opts))._unsafeUnwrapErr();
      assert.is(e.kind, 'bad-version');
      if (e.kind === 'bad-version') assert.is(e.version, version);
      assert.equal(await all, serverInit, 'exactly our Init, then EOF');
      assert.ok(logs.some((l) => l.includes(`version ${version}`)));
      await closed(s);
    }
  } finally {
    await srv.close();
  }
});

test('garbage UUID and unknown command bytes: Init only, then EOF', async () => {
  const srv = await unixServer();
  try {
    const garbage = Buffer.concat([Buffer.from([1]), Buffer.from('this-is-not-a-uuid-this-is-not-a-uui', 'latin1'), Buffer.alloc(4)]);
    const cases: [Buffer, string][] = [[garbage, 'bad-uuid']];
    for (const code of [0, 2, 6, 7, 9, 255]) {
      const b = Buffer.from(ethernet);
      b[0] = code;
      cases.push([b, 'unknown-command']);
    }
    for (const [cmd, kind] of cases) {
      const c = await srv.connect();
      const s = await srv.next();
      const all = readAll(c);
      c.write(clientInit());
      c.write(cmd);
      const e = (await vmnetServerHandshake(s, options().opts))._unsafeUnwrapErr();
      assert.is(e.kind, kind);
      if (e.kind === 'unknown-command') assert.is(e.code, cmd[0]);
      assert.equal(await all, serverInit);
    }
  } finally {
    await srv.close();
  }
});

test('peer closes at every byte boundary of Init and Command: short-read with the right count', async () => {
  const srv = await unixServer();
  try {
    const full = Buffer.concat([clientInit(), ethernet]);
    for (let cut = 0; cut < full.length; cut++) {
      const c = await srv.connect();
      const s = await srv.next();
      const all = readAll(c);
      const { opts, scheduler } = options();
      const pending = vmnetServerHandshake(s, opts);
      if (cut > 0) c.write(full.subarray(0, cut));
      c.end();
      const e = (await pending)._unsafeUnwrapErr();
      assert.is(e.kind, 'short-read', `cut ${cut}`);
      if (e.kind === 'short-read') {
        const want = cut < 49 ? { phase: 'init', expected: 49, received: cut } : { phase: 'command', expected: 41, received: cut - 49 };
        assert.equal({ phase: e.phase, expected: e.expected, received: e.received }, want, `cut ${cut}`);
      }
      assert.equal(await all, cut < 49 ? Buffer.alloc(0) : serverInit, `cut ${cut}`);
      assert.is(scheduler.size, 0);
    }
  } finally {
    await srv.close();
  }
});

test('timeout over a real socket closes it', async () => {
  const srv = await unixServer();
  try {
    const c = await srv.connect();
    const s = await srv.next();
    const { opts, scheduler } = options();
    const pending = vmnetServerHandshake(s, opts);
    const all = readAll(c);
    scheduler.advance(10_000);
    assert.is((await pending)._unsafeUnwrapErr().kind, 'timeout');
    assert.is((await all).length, 0);
  } finally {
    await srv.close();
  }
});

test.run();
