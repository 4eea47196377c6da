import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Result } from 'neverthrow';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import type { Runtime } from '../../../src/runtime/runtime.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { msgId } from '../../../src/services/dns/message.js';
import { parseUpstream, type UpstreamServer } from '../../../src/services/dns/resolv-conf.js';
import { Upstream, type UpstreamAnswer, type UpstreamError, type UpstreamOptions } from '../../../src/services/dns/upstream.js';
import { FakeDnsTransport } from '../../harness/dns/fake-transport.js';
import { decode, query, responseTo } from '../../harness/dns/messages.js';

const A = '10.0.0.1:53';
const B = '10.0.0.2:53';
const C = '10.0.0.3:53';

function servers(...s: string[]): UpstreamServer[] {
  return s.map((x) => parseUpstream(x)._unsafeUnwrap());
}

function setup(opts: Partial<UpstreamOptions> = {}, list = [A]) {
  const sched = new ManualScheduler(new ManualClock(0));
  const rt: Runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(7) };
  const fake = new FakeDnsTransport(sched.clock);
  const up = new Upstream(rt, fake, { servers: servers(...list), ...opts });
  return { sched, fake, up };
}

/** Runs a forward and exposes its outcome once settled. */
function start(up: Upstream, q: Uint8Array, tcp = false) {
  const box: { r?: Result<UpstreamAnswer, UpstreamError> } = {};
  void up.forward(q, tcp).then((r) => {
    box.r = r;
  });
  return box;
}

const flush = () => new Promise<void>((r) => setImmediate(r));
const A_REC = [{ name: 'example.test', type: 'A' as const, ttl: 60, data: '203.0.113.5' }];

test('forwards with a fresh random id and accepts the matching answer', async () => {
  const { fake, up, sched } = setup();
  const q = query('example.test', 'A', { id: 0x1111 });
  const box = start(up, q);
  assert.is(fake.sent.length, 1);
  const s = fake.last();
  assert.is(s.server, A);
  assert.is.not(msgId(s.msg), 0x1111, 'upstream id must not be the client id');
  assert.equal([...s.msg.subarray(2)], [...q.subarray(2)], 'only the id differs');
  s.reply(responseTo(s.msg, A_REC));
  await flush();
  const ans = box.r!._unsafeUnwrap();
  assert.equal(decode(ans.message).answers?.map((a) => a.data), ['203.0.113.5']);
  assert.is(ans.tcp, false);
  assert.ok(s.closed(), 'socket closed after the answer');
  assert.is(sched.size, 0, 'no timer left armed');
  assert.is(up.pending, 0);
});

test('a query given as a Node Buffer is copied, not rewritten in place', () => {
  const { fake, up } = setup();
  const q = Buffer.from(query('example.test', 'A', { id: 0x2222 }));
  start(up, q);
  assert.is(q.readUInt16BE(0), 0x2222);
  assert.is.not(msgId(fake.last().msg), 0x2222);
});

test('ids differ between attempts and between queries', () => {
  const { fake, up, sched } = setup({}, [A, B]);
  start(up, query('example.test', 'A'));
  start(up, query('example.test', 'A'));
  sched.advance(2000);
  const ids = fake.sent.map((s) => msgId(s.msg));
  assert.is(ids.length, 4);
  assert.is(new Set(ids).size, 4);
});

test('spoofed or mismatched answers are ignored and counted', async () => {
  const { fake, up } = setup();
  const box = start(up, query('example.test', 'A'));
  const s = fake.last();
  const id = msgId(s.msg);
  s.reply(responseTo(s.msg, A_REC, { idOverride: (id + 1) & 0xffff }));
  s.reply(responseTo(s.msg, A_REC, { questionName: 'other.test' }));
  const notResponse = responseTo(s.msg, A_REC);
  notResponse[2] = notResponse[2]! & 0x7f;
  s.reply(notResponse);
  s.reply(new Uint8Array([id >> 8, id & 255, 0x81]));
  await flush();
  assert.is(box.r, undefined, 'still waiting');
  assert.is(up.stats().spoofed, 4);
  // Case differences in the echoed question are accepted (0x20 / RFC 4343).
  s.reply(responseTo(s.msg, A_REC, { questionName: 'EXAMPLE.test' }));
  await flush();
  assert.ok(box.r!.isOk());
});

test('one server that never answers: resent every attempt timeout, failure exactly at the query timeout', async () => {
  const { fake, up, sched } = setup({ attemptTimeoutMs: 2000, queryTimeoutMs: 5000 });
  const box = start(up, query('example.test', 'A'));
  sched.advance(4999);
  await flush();
  assert.equal(fake.sent.map((s) => [s.server, s.at]), [[A, 0], [A, 2000], [A, 4000]]);
  assert.is(box.r, undefined, 'no answer before the bound');
  assert.equal(fake.sent.map((s) => s.closed()), [true, false, false], 'only the last two attempts keep a socket');
  sched.advance(1);
  await flush();
  assert.is(box.r!._unsafeUnwrapErr().kind, 'dns-upstream-timeout');
  assert.ok(fake.sent.every((s) => s.closed()));
  assert.is(sched.size, 0);
  assert.is(up.stats().timeouts, 3);
});

test('failover order A → B → C, and a late answer from the previous server still wins', async () => {
  const { fake, up, sched } = setup({ attemptTimeoutMs: 1000, queryTimeoutMs: 5000 }, [A, B, C]);
  const box = start(up, query('example.test', 'A'));
  sched.advance(2500);
  assert.equal(fake.sent.map((s) => [s.server, s.at]), [[A, 0], [B, 1000], [C, 2000]]);
  assert.ok(fake.sent[0]!.closed(), 'two attempts back: socket released');
  fake.sent[1]!.reply(responseTo(fake.sent[1]!.msg, A_REC));
  await flush();
  assert.is(box.r!._unsafeUnwrap().server.address, '10.0.0.2');
  assert.ok(fake.sent.every((s) => s.closed()));
});

test('a server that keeps timing out is marked down, tried last, and retried after downForMs', async () => {
  const { fake, up, sched } = setup({ attemptTimeoutMs: 1000, markDownAfter: 2, downForMs: 10_000 }, [A, B]);
  for (let i = 0; i < 2; i++) {
    const box = start(up, query('example.test', 'A'));
    sched.advance(1000);
    const toB = fake.last();
    assert.is(toB.server, B);
    toB.reply(responseTo(toB.msg, A_REC));
    await flush();
    assert.ok(box.r!.isOk());
  }
  assert.ok(up.stats().servers[0]!.down);
  const n = fake.sent.length;
  start(up, query('example.test', 'A'));
  assert.is(fake.sent[n]!.server, B, 'down server goes last');
  fake.sent[n]!.reply(responseTo(fake.sent[n]!.msg, A_REC));
  await flush();
  sched.advance(10_000);
  start(up, query('example.test', 'A'));
  assert.is(fake.last().server, A, 'after downForMs the server is probed in its place again');
  fake.last().reply(responseTo(fake.last().msg, A_REC));
  await flush();
  assert.not.ok(up.stats().servers[0]!.down);
  assert.is(up.stats().servers[0]!.consecutiveTimeouts, 0);
});

test('SERVFAIL or REFUSED moves on at once; when all fail the last answer comes back with the error', async () => {
  const { fake, up } = setup({}, [A, B]);
  const box = start(up, query('example.test', 'A'));
  fake.sent[0]!.reply(responseTo(fake.sent[0]!.msg, [], { rcode: 2 }));
  await flush();
  assert.is(fake.sent.length, 2);
  assert.is(fake.sent[1]!.server, B);
  assert.is(fake.sent[1]!.at, 0);
  fake.sent[1]!.reply(responseTo(fake.sent[1]!.msg, [], { rcode: 5 }));
  await flush();
  const e = box.r!._unsafeUnwrapErr();
  assert.is(e.kind, 'dns-upstream-failed');
  assert.is(e.kind === 'dns-upstream-failed' && e.lastAnswer![3]! & 15, 5);
});

test('NXDOMAIN is a final answer', async () => {
  const { fake, up } = setup({}, [A, B]);
  const box = start(up, query('nope.test', 'A'));
  fake.last().reply(responseTo(fake.last().msg, [], { rcode: 3 }));
  await flush();
  assert.is(box.r!._unsafeUnwrap().message[3]! & 15, 3);
  assert.is(fake.sent.length, 1);
});

test('a socket error (port unreachable) fails over at once and counts against the server', async () => {
  const { fake, up } = setup({}, [A, B]);
  const box = start(up, query('example.test', 'A'));
  fake.sent[0]!.fail();
  assert.is(fake.sent[1]!.server, B);
  fake.sent[1]!.fail();
  await flush();
  assert.is(box.r!._unsafeUnwrapErr().kind, 'dns-upstream-failed');
  assert.equal(up.stats().servers.map((s) => s.errors), [1, 1]);
});

test('a truncated UDP answer is retried over TCP with the same server and a new id', async () => {
  const { fake, up, sched } = setup({ attemptTimeoutMs: 2000 });
  const box = start(up, query('big.test', 'TXT'));
  sched.advance(500);
  const u = fake.last();
  u.reply(responseTo(u.msg, [], { tc: true }));
  const t = fake.last();
  assert.ok(t.tcp);
  assert.is(t.server, A);
  assert.is(t.at, 500);
  assert.is.not(msgId(t.msg), msgId(u.msg));
  // The TCP attempt has a full attempt timeout of its own.
  sched.advance(1999);
  assert.is(fake.sent.length, 2);
  t.reply(responseTo(t.msg, [{ name: 'big.test', type: 'TXT', ttl: 1, data: ['x'] }]));
  await flush();
  const ans = box.r!._unsafeUnwrap();
  assert.ok(ans.tcp);
  assert.is(up.stats().tcpFallbacks, 1);
});

test('tcp: every attempt goes over TCP', async () => {
  const { fake, up, sched } = setup({ attemptTimeoutMs: 1000 }, [A, B]);
  start(up, query('example.test', 'A'), true);
  sched.advance(1000);
  assert.equal(fake.sent.map((s) => [s.server, s.tcp]), [[A, true], [B, true]]);
  assert.is(fake.udpSockets, 0);
});

test('beyond maxPending queries fail at once as busy; no servers → none', async () => {
  const { up } = setup({ maxPending: 2 });
  start(up, query('a.test', 'A'));
  start(up, query('b.test', 'A'));
  const third = start(up, query('c.test', 'A'));
  await flush();
  assert.is(third.r!._unsafeUnwrapErr().kind, 'dns-upstream-busy');
  assert.is(up.stats().busy, 1);
  const empty = setup({}, []);
  const none = start(empty.up, query('a.test', 'A'));
  await flush();
  assert.is(none.r!._unsafeUnwrapErr().kind, 'dns-upstream-none');
});

test('close() fails everything in flight and closes the sockets', async () => {
  const { fake, up, sched } = setup();
  const box = start(up, query('a.test', 'A'));
  up.close();
  await flush();
  assert.is(box.r!._unsafeUnwrapErr().kind, 'dns-upstream-closed');
  assert.ok(fake.last().closed());
  assert.is(sched.size, 0);
});

test('setServers keeps the health of servers that stay', () => {
  const { up, sched } = setup({ attemptTimeoutMs: 1000, markDownAfter: 1 }, [A]);
  start(up, query('a.test', 'A'));
  sched.advance(1000);
  assert.ok(up.stats().servers[0]!.down);
  up.setServers(servers(B, A));
  assert.equal(up.stats().servers.map((s) => [s.server, s.down]), [[B, false], [A, true]]);
});

test.run();
