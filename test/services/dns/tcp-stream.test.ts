/**
 * DNS over TCP (RFC 7766) through `DnsServer.handleStream` on real loopback sockets; time (the idle
 * timeout) runs on a ManualScheduler, and the upstream is the scripted fake.
 */
import type { Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { LocalRecords } from '../../../src/services/dns/records.js';
import { parseUpstream } from '../../../src/services/dns/resolv-conf.js';
import { DnsServer, type DnsServerOptions } from '../../../src/services/dns/server.js';
import { Upstream } from '../../../src/services/dns/upstream.js';
import { FakeDnsTransport } from '../../harness/dns/fake-transport.js';
import { decode, query, responseTo } from '../../harness/dns/messages.js';
import { frame, loopback, until } from '../../harness/dns/stream-client.js';

async function setup(o: Partial<DnsServerOptions> = {}) {
  const sched = new ManualScheduler(new ManualClock(0));
  const runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(3) };
  const fake = new FakeDnsTransport(sched.clock);
  const upstream = new Upstream(runtime, fake, { servers: [parseUpstream('10.0.0.1')._unsafeUnwrap()] });
  const records = LocalRecords.create({ gatewayIp: '192.168.65.1', hostAliasIp: '192.168.65.254' })._unsafeUnwrap();
  const server = new DnsServer({ runtime, records, upstream, tcpIdleTimeoutMs: 10_000, ...o });
  const accepted: Socket[] = [];
  const lb = await loopback((s) => {
    accepted.push(s);
    server.handleStream(s);
  });
  return { sched, fake, server, lb, accepted };
}

test('pipelined queries in one write are all answered', async () => {
  const { lb } = await setup();
  try {
    const c = await lb.open();
    c.socket.write(Buffer.concat([frame(query('host.internal', 'A', { id: 1 })), frame(query('gateway.internal', 'A', { id: 2 })), frame(query('host.docker.internal', 'A', { id: 3 }))]));
    const f = await c.waitFrames(3);
    assert.equal(f.map((m) => [decode(m).id, decode(m).answers![0]!.data]), [[1, '192.168.65.254'], [2, '192.168.65.1'], [3, '192.168.65.254']]);
  } finally {
    await lb.close();
  }
});

test('length prefixes and messages split across many writes are reassembled', async () => {
  const { lb } = await setup();
  try {
    const c = await lb.open();
    const bytes = Buffer.concat([frame(query('host.internal', 'A', { id: 7 })), frame(query('gateway.internal', 'A', { id: 8 }))]);
    for (let i = 0; i < bytes.length; i++) {
      c.socket.write(bytes.subarray(i, i + 1));
      await new Promise<void>((r) => setImmediate(r));
    }
    const f = await c.waitFrames(2);
    assert.equal(f.map((m) => decode(m).id), [7, 8]);
  } finally {
    await lb.close();
  }
});

test('answers go out as they complete: a forwarded query does not hold back a local one', async () => {
  const { lb, fake } = await setup();
  try {
    const c = await lb.open();
    c.send(query('far.test', 'A', { id: 1 }));
    c.send(query('host.internal', 'A', { id: 2 }));
    await c.waitFrames(1);
    assert.equal(c.frames.map((m) => decode(m).id), [2]);
    await until(() => fake.sent.length === 1, 'the forward');
    assert.ok(fake.last().tcp, 'a TCP client is forwarded over TCP');
    fake.last().reply(responseTo(fake.last().msg, [{ name: 'far.test', type: 'A', ttl: 1, data: '192.0.2.9' }]));
    const f = await c.waitFrames(2);
    assert.equal(f.map((m) => decode(m).id), [2, 1]);
  } finally {
    await lb.close();
  }
});

test('idle connections are closed after the idle timeout, but not while a query is in flight', async () => {
  const { lb, fake, sched, server } = await setup({ tcpIdleTimeoutMs: 1000 });
  try {
    const c = await lb.open();
    let closed = false;
    void c.closed.then(() => (closed = true));
    const turns = async () => {
      for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
    };
    c.send(query('far.test', 'A', { id: 1 }));
    await until(() => fake.sent.length === 1, 'the forward');
    sched.advance(3000); // three idle periods, inside the forwarder's 5 s bound
    await turns();
    assert.not.ok(closed, 'a query in flight keeps the connection');
    fake.last().reply(responseTo(fake.last().msg, []));
    await c.waitFrames(1);
    sched.advance(999);
    await turns();
    assert.not.ok(closed, 'the idle period restarts at the answer');
    sched.advance(1);
    await c.closed;
    await until(() => (server as unknown as { tcpOpen: number }).tcpOpen === 0, 'server-side cleanup');
  } finally {
    await lb.close();
  }
});

test('a client half-close is honoured after outstanding answers are written', async () => {
  const { lb, fake, accepted } = await setup();
  try {
    const c = await lb.open();
    c.send(query('far.test', 'A', { id: 11 }));
    c.socket.end();
    await until(() => fake.sent.length === 1 && accepted[0]?.readableEnded === true, 'the forward and the FIN');
    fake.last().reply(responseTo(fake.last().msg, []));
    await c.closed;
    assert.equal(c.frames.map((m) => decode(m).id), [11]);
  } finally {
    await lb.close();
  }
});

test('at most tcpMaxInFlight queries of a connection are worked on at once', async () => {
  const { lb, fake } = await setup({ tcpMaxInFlight: 2 });
  try {
    const c = await lb.open();
    for (let i = 1; i <= 4; i++) c.send(query(`q${i}.test`, 'A', { id: i }));
    await until(() => fake.sent.length === 2, 'two forwards');
    for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
    assert.is(fake.sent.length, 2);
    fake.sent[0]!.reply(responseTo(fake.sent[0]!.msg, []));
    await until(() => fake.sent.length === 3, 'the third forward');
    for (const s of fake.sent.slice(1)) s.reply(responseTo(s.msg, []));
    await until(() => fake.sent.length === 4, 'the fourth forward');
    fake.sent[3]!.reply(responseTo(fake.sent[3]!.msg, []));
    const f = await c.waitFrames(4);
    assert.equal(new Set(f.map((m) => decode(m).id)), new Set([1, 2, 3, 4]));
  } finally {
    await lb.close();
  }
});

test('a zero-length message closes the connection; garbage gets FORMERR and the connection lives on', async () => {
  const { lb } = await setup();
  try {
    const c1 = await lb.open();
    const junk = new Uint8Array(20).fill(0);
    junk[0] = 0x12;
    junk[1] = 0x34;
    junk[5] = 1; // QDCOUNT 1: a root-name question of type 0 …
    junk[7] = 9; // … and ANCOUNT 9 with no records: FORMERR
    c1.send(junk);
    const f = await c1.waitFrames(1);
    assert.is(decode(f[0]!).id, 0x1234);
    assert.is(f[0]![3]! & 15, 1);
    c1.send(query('host.internal', 'A', { id: 2 }));
    await c1.waitFrames(2);
    const c2 = await lb.open();
    c2.socket.write(Buffer.from([0, 0]));
    await c2.closed;
  } finally {
    await lb.close();
  }
});

test('connections beyond maxTcpConnections are closed at once', async () => {
  const { lb, server } = await setup({ maxTcpConnections: 1 });
  try {
    const c1 = await lb.open();
    const c2 = await lb.open();
    await c2.closed;
    c1.send(query('host.internal', 'A', { id: 5 }));
    await c1.waitFrames(1);
    assert.is(server.stats().dropped, 1);
  } finally {
    await lb.close();
  }
});

test.run();
