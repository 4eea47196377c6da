import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { LocalRecords } from '../../../src/services/dns/records.js';
import { parseUpstream } from '../../../src/services/dns/resolv-conf.js';
import { DnsServer, type DnsClient, type DnsQueryEvent, type DnsServerOptions } from '../../../src/services/dns/server.js';
import { Upstream, type UpstreamOptions } from '../../../src/services/dns/upstream.js';
import type { UdpHandler, UdpLayer } from '../../../src/stack/udp.js';
import type { FrameInfo } from '../../../src/wire/frame-info.js';
import { FakeDnsTransport } from '../../harness/dns/fake-transport.js';
import { bigTxt, decode, query, rcodeOf, responseTo } from '../../harness/dns/messages.js';

const GUEST: DnsClient = { transport: 'udp', address: 0xc0a84102, port: 40000 };
const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(o: { server?: Partial<DnsServerOptions>; upstream?: Partial<UpstreamOptions>; servers?: string[] } = {}) {
  const sched = new ManualScheduler(new ManualClock(0));
  const runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(1) };
  const fake = new FakeDnsTransport(sched.clock);
  const upstream = new Upstream(runtime, fake, { servers: (o.servers ?? ['10.0.0.1']).map((s) => parseUpstream(s)._unsafeUnwrap()), ...o.upstream });
  const records = LocalRecords.create({ gatewayIp: '192.168.65.1', hostAliasIp: '192.168.65.254' })._unsafeUnwrap();
  const events: DnsQueryEvent[] = [];
  const server = new DnsServer({ runtime, records, upstream, onQuery: (e) => events.push(e), ...o.server });
  const replies: { to: DnsClient; msg: Uint8Array | undefined }[] = [];
  const ask = (q: Uint8Array, client: DnsClient = GUEST) => server.handleQuery(q, client, (msg) => replies.push({ to: client, msg }));
  return { sched, fake, upstream, records, server, events, replies, ask };
}

test('built-in name: A from local data, AA, TTL 0, id and question spelling echoed', () => {
  const { ask, replies, fake, server } = setup();
  ask(query('Host.Internal', 'A', { id: 77 }));
  const p = decode(replies[0]!.msg!);
  assert.is(p.id, 77);
  assert.ok(p.flag_qr && p.flag_aa && p.flag_rd && p.flag_ra);
  assert.equal(p.questions, [{ name: 'Host.Internal', type: 'A', class: 'IN' }]);
  assert.equal(p.answers!.map((a) => [a.name, a.type, a.ttl, a.data]), [['Host.Internal', 'A', 0, '192.168.65.254']]);
  assert.is(fake.sent.length, 0, 'local names never go upstream');
  assert.is(server.stats().local, 1);
});

test('AAAA of a built-in name is NODATA: NOERROR, no answers, not forwarded', () => {
  const { ask, replies, fake } = setup();
  ask(query('host.internal', 'AAAA'));
  const r = replies[0]!.msg!;
  assert.is(rcodeOf(r), 0);
  assert.is(decode(r).answers!.length, 0);
  assert.is(fake.sent.length, 0);
});

test('an EDNS query gets an OPT record back; EDNS version 1 gets BADVERS', () => {
  const { ask, replies } = setup();
  ask(query('gateway.internal', 'A', { edns: 4096 }));
  const p = decode(replies[0]!.msg!);
  assert.is(p.additionals![0]!.type, 'OPT');
  assert.is(p.additionals![0]!.udpPayloadSize, 1232);
  ask(query('gateway.internal', 'A', { edns: 4096, ednsVersion: 1 }));
  assert.is(rcodeOf(replies[1]!.msg!), 16);
  assert.is(decode(replies[1]!.msg!).answers!.length, 0);
});

test('malformed queries: FORMERR when the header is readable, silence for runts and responses', () => {
  const { ask, replies, server } = setup();
  const two = query('a.test', 'A', { id: 9 });
  two[5] = 2; // QDCOUNT 2, only one present
  ask(two);
  const noQ = query('a.test', 'A', { id: 10 }).subarray(0, 12).slice();
  noQ[5] = 0;
  ask(noQ);
  const cut = query('a.test', 'A', { id: 11 }).subarray(0, 16);
  ask(cut);
  const trailingRecord = query('a.test', 'A', { id: 12 });
  trailingRecord[7] = 1; // ANCOUNT 1 but no record
  ask(trailingRecord);
  assert.equal(replies.map((r) => [decode(r.msg!).id, rcodeOf(r.msg!)]), [[9, 1], [10, 1], [11, 1], [12, 1]]);
  assert.is(decode(replies[3]!.msg!).questions![0]!.name, 'a.test', 'question echoed when readable');
  ask(new Uint8Array(11));
  const resp = query('a.test', 'A');
  resp[2] = resp[2]! | 0x80;
  ask(resp);
  assert.equal(replies.slice(4).map((r) => r.msg), [undefined, undefined], 'dropped: respond(undefined)');
  assert.equal([server.stats().formerr, server.stats().dropped], [4, 2]);
});

test('opcodes other than QUERY get NOTIMP', () => {
  const { ask, replies } = setup();
  const q = query('a.test', 'A');
  q[2] = (q[2]! & 0x87) | (5 << 3); // UPDATE
  ask(q);
  assert.is(rcodeOf(replies[0]!.msg!), 4);
});

test('other names are forwarded; the answer comes back byte for byte with the client id', async () => {
  const { ask, replies, fake, events } = setup();
  ask(query('www.example.test', 'MX', { id: 4242 }));
  const s = fake.last();
  const up = responseTo(s.msg, [{ name: 'www.example.test', type: 'MX', ttl: 300, data: { preference: 10, exchange: 'mx.example.test' } }]);
  s.reply(up);
  await flush();
  const r = replies[0]!.msg!;
  assert.is(decode(r).id, 4242);
  assert.equal([...r.subarray(2)], [...up.subarray(2)]);
  assert.equal(
    events.map((e) => [e.name, e.type, e.via, e.server, e.rcodeName, e.answers]),
    [['www.example.test', 'MX', 'upstream', '10.0.0.1:53', 'NOERROR', [{ name: 'www.example.test', type: 'MX', ttl: 300, data: '10 mx.example.test' }]]],
  );
});

test('no upstream answer: SERVFAIL exactly at the query timeout, with id and question', async () => {
  const { ask, replies, sched, server, events } = setup({ upstream: { attemptTimeoutMs: 2000, queryTimeoutMs: 5000 } });
  ask(query('slow.test', 'A', { id: 5 }));
  sched.advance(4999);
  await flush();
  assert.is(replies.length, 0);
  sched.advance(1);
  await flush();
  const p = decode(replies[0]!.msg!);
  assert.equal([p.id, rcodeOf(replies[0]!.msg!), p.questions![0]!.name], [5, 2, 'slow.test']);
  assert.is(server.stats().servfail, 1);
  assert.is(events[0]!.latencyMs, 5000);
});

test('parallel A and AAAA from one source port with the same id each get their own answer', async () => {
  const { ask, replies, fake } = setup();
  ask(query('dual.test', 'A', { id: 0x0101 }));
  ask(query('dual.test', 'AAAA', { id: 0x0101 }));
  assert.is(fake.sent.length, 2, 'both forwarded');
  const [a, aaaa] = fake.sent;
  // Upstream answers in the opposite order.
  aaaa!.reply(responseTo(aaaa!.msg, [{ name: 'dual.test', type: 'AAAA', ttl: 5, data: '2001:db8::1' }]));
  a!.reply(responseTo(a!.msg, [{ name: 'dual.test', type: 'A', ttl: 5, data: '192.0.2.1' }]));
  await flush();
  const got = replies.map((r) => decode(r.msg!)).map((p) => [p.id, p.questions![0]!.type, p.answers![0]!.data]);
  assert.equal(got, [
    [0x0101, 'AAAA', '2001:db8::1'],
    [0x0101, 'A', '192.0.2.1'],
  ]);
});

test('an exact retransmission while in flight is not forwarded twice; another port is another client', async () => {
  const { ask, replies, fake, server } = setup();
  ask(query('dup.test', 'A', { id: 3 }));
  ask(query('dup.test', 'A', { id: 3 }));
  ask(query('dup.test', 'A', { id: 3 }), { ...GUEST, port: 40001 });
  assert.is(fake.sent.length, 2);
  assert.is(server.stats().duplicates, 1);
  for (const s of fake.sent) s.reply(responseTo(s.msg, []));
  await flush();
  assert.equal(replies.filter((r) => r.msg !== undefined).map((r) => r.to.port), [40000, 40001]);
  // Once answered, the same query is forwarded again.
  ask(query('dup.test', 'A', { id: 3 }));
  assert.is(fake.sent.length, 3);
});

test('UDP truncation: 512 without EDNS, the EDNS size up to maxUdpResponse, whole answers, TC; TCP untouched', async () => {
  const { ask, replies, fake, server, events } = setup();
  const big = (q: Uint8Array, client: DnsClient) => {
    ask(q, client);
    const s = fake.last();
    s.reply(responseTo(s.msg, bigTxt('big.test', 20)));
  };
  big(query('big.test', 'TXT'), GUEST);
  big(query('big.test', 'TXT', { edns: 4096 }), { ...GUEST, port: 2 });
  big(query('big.test', 'TXT', { edns: 100 }), { ...GUEST, port: 3 });
  big(query('big.test', 'TXT'), { transport: 'tcp', address: '127.0.0.1', port: 4 });
  await flush();
  const [plain, edns, tiny, tcp] = replies.map((r) => r.msg!);
  assert.ok(plain!.length <= 512 && decode(plain!).flag_tc);
  assert.ok(edns!.length <= 1232 && edns!.length > 512 && decode(edns!).flag_tc);
  assert.ok(tiny!.length <= 512 && decode(tiny!).flag_tc, 'EDNS sizes below 512 mean 512 (RFC 6891 §6.2.5)');
  assert.is(decode(tcp!).answers!.length, 20);
  assert.not.ok(decode(tcp!).flag_tc);
  assert.ok(decode(plain!).answers!.length > 0, 'answers that fit are kept');
  assert.is(server.stats().truncated, 3);
  assert.equal(events.map((e) => e.truncated), [true, true, true, false]);
});

test('large local answers are truncated too', () => {
  const { ask, replies, records } = setup();
  for (let i = 0; i < 10; i++) records.addRecord({ name: 'many.test', type: 'TXT', data: `${i}`.padEnd(200, 'y') })._unsafeUnwrap();
  ask(query('many.test', 'TXT'));
  const r = replies[0]!.msg!;
  assert.ok(r.length <= 512);
  assert.ok(decode(r).flag_tc);
});

test('a local CNAME to an outside name is completed from upstream', async () => {
  const { ask, replies, fake, records } = setup();
  records.addRecord({ name: 'app.test', type: 'CNAME', data: 'real.example.test' })._unsafeUnwrap();
  ask(query('app.test', 'A', { id: 8 }));
  const s = fake.last();
  assert.is(decode(s.msg).questions![0]!.name, 'real.example.test');
  s.reply(responseTo(s.msg, [{ name: 'real.example.test', type: 'A', ttl: 60, data: '198.51.100.7' }]));
  await flush();
  const p = decode(replies[0]!.msg!);
  assert.is(p.id, 8);
  assert.equal(p.answers!.map((a) => [a.name, a.type, a.data]), [
    ['app.test', 'CNAME', 'real.example.test'],
    ['real.example.test', 'A', '198.51.100.7'],
  ]);
});

test('upstream REFUSED everywhere is passed on; busy forwarder drops and counts', async () => {
  const { ask, replies, fake, server } = setup({ upstream: { maxPending: 1 } });
  ask(query('r.test', 'A', { id: 1 }));
  ask(query('s.test', 'A', { id: 2 }));
  await flush();
  assert.equal(replies.map((r) => r.msg), [undefined], 'second query dropped');
  fake.last().reply(responseTo(fake.last().msg, [], { rcode: 5 }));
  await flush();
  assert.is(rcodeOf(replies[1]!.msg!), 5);
  assert.is(decode(replies[1]!.msg!).id, 1);
  assert.is(server.stats().dropped, 1);
});

test('events: fields for local answers; a throwing listener is contained', () => {
  const { ask, events, server, replies } = setup();
  ask(query('gateway.internal', 'A'));
  assert.equal(events[0], {
    name: 'gateway.internal',
    type: 'A',
    rcode: 0,
    rcodeName: 'NOERROR',
    answers: [{ name: 'gateway.internal', type: 'A', ttl: 0, data: '192.168.65.1' }],
    source: { transport: 'udp', address: '192.168.65.2', port: 40000 },
    latencyMs: 0,
    via: 'local',
    truncated: false,
  });
  server.onQuery = () => {
    throw new Error('listener bug');
  };
  ask(query('gateway.internal', 'A'));
  assert.is(replies.length, 2);
  server.onQuery = undefined;
  ask(query('gateway.internal', 'A'));
  assert.is(events.length, 1);
  assert.is(server.stats().queries, 3);
});

test('no listener, or a listener that does not want events: the clock is never read and no event is built', () => {
  const sched = new ManualScheduler(new ManualClock(0));
  let reads = 0;
  const clock = { now: () => (reads++, sched.clock.now()) };
  const runtime = { clock, scheduler: sched, rng: new SeededRng(1) };
  const upstream = new Upstream(runtime, new FakeDnsTransport(sched.clock), { servers: [] });
  const records = LocalRecords.create({ gatewayIp: '192.168.65.1', hostAliasIp: '192.168.65.254' })._unsafeUnwrap();
  const server = new DnsServer({ runtime, records, upstream });
  const replies: Uint8Array[] = [];
  const ask = () => server.handleQuery(query('host.internal', 'A'), GUEST, (m) => replies.push(m!));
  ask();
  assert.is(reads, 0, 'no listener: no clock read');
  let built = 0;
  server.onQuery = () => built++;
  server.wantsQueryEvents = () => false;
  ask();
  assert.equal([reads, built], [0, 0], 'listener that wants nothing: still nothing');
  server.wantsQueryEvents = () => true;
  ask();
  assert.equal([reads, built], [2, 1], 'arrival and reply read the clock once each');
  assert.is(replies.length, 3);
});

test('attachUdp copies the borrowed frame before forwarding and replies from gateway:53', async () => {
  const { server, fake } = setup();
  let handler: UdpHandler | undefined;
  const sent: unknown[][] = [];
  const udp = {
    bind: (ip: number, port: number, h: UdpHandler) => {
      assert.equal([ip, port], [0xc0a84101, 53]);
      handler = h;
      return () => (handler = undefined);
    },
    send: (...args: unknown[]) => sent.push(args),
  } as unknown as UdpLayer;
  const unbind = server.attachUdp(udp, 0xc0a84101);
  const q = query('far.test', 'A', { id: 0x55 });
  // A Node Buffer, like the transports deliver: its slice() is a view, not a copy.
  const frame = Buffer.alloc(100 + q.length);
  frame.set(q, 100);
  handler!({ buf: frame, payload: 100, payloadLen: q.length, srcIp: 0xc0a84102, srcPort: 5353 } as unknown as FrameInfo);
  frame.fill(0xee); // the switch reuses its buffer
  fake.last().reply(responseTo(fake.last().msg, []));
  await flush();
  assert.equal(sent[0]!.slice(0, 4), [0xc0a84101, 53, 0xc0a84102, 5353]);
  const p = decode(sent[0]![4] as Uint8Array);
  assert.equal([p.id, p.questions![0]!.name], [0x55, 'far.test']);
  unbind();
  assert.is(handler, undefined);
});

test.run();
