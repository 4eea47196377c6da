/**
 * The DNS server in host-resolver mode: A and AAAA from the (fake) host resolver, everything else
 * still forwarded to the (fake) upstream, on a ManualScheduler.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { HostResolver, type HostResolverOptions } from '../../../src/services/dns/host-resolver.js';
import { LocalRecords } from '../../../src/services/dns/records.js';
import { parseUpstream } from '../../../src/services/dns/resolv-conf.js';
import { DnsServer, type DnsClient, type DnsQueryEvent } from '../../../src/services/dns/server.js';
import { Upstream } from '../../../src/services/dns/upstream.js';
import { FakeDnsTransport } from '../../harness/dns/fake-transport.js';
import { FakeHostLookup } from '../../harness/dns/fake-host-lookup.js';
import { decode, query, rcodeOf, responseTo } from '../../harness/dns/messages.js';

const GUEST: DnsClient = { transport: 'udp', address: 0xc0a84102, port: 40000 };
const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(host: HostResolverOptions = {}) {
  const sched = new ManualScheduler(new ManualClock(0));
  const runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(5) };
  const fake = new FakeDnsTransport(sched.clock);
  const lookups = new FakeHostLookup(sched.clock);
  const upstream = new Upstream(runtime, fake, { servers: [parseUpstream('10.0.0.1')._unsafeUnwrap()] });
  const records = LocalRecords.create({ gatewayIp: '192.168.65.1', hostAliasIp: '192.168.65.254' })._unsafeUnwrap();
  const hostResolver = new HostResolver(runtime, lookups, host);
  const events: DnsQueryEvent[] = [];
  const server = new DnsServer({ runtime, records, upstream, hostResolver, onQuery: (e) => events.push(e) });
  const replies: { to: DnsClient; msg: Uint8Array | undefined }[] = [];
  const ask = (q: Uint8Array, client: DnsClient = GUEST) => server.handleQuery(q, client, (msg) => replies.push({ to: client, msg }));
  return { sched, fake, lookups, hostResolver, records, server, events, replies, ask };
}

test('A from the host resolver: owner as asked, TTL 5, not authoritative, RA; nothing upstream; event via host', () => {
  const { ask, replies, lookups, fake, events, server } = setup();
  ask(query('Vpn-Only.Corp.Test', 'A', { id: 21 }));
  const call = lookups.find('Vpn-Only.Corp.Test', 4);
  call.answer('10.20.30.40', '10.20.30.41');
  const p = decode(replies[0]!.msg!);
  assert.equal([p.id, rcodeOf(replies[0]!.msg!), p.flag_aa, p.flag_ra, p.flag_rd], [21, 0, false, true, true]);
  assert.equal(p.answers!.map((a) => [a.name, a.type, a.ttl, a.data]), [
    ['Vpn-Only.Corp.Test', 'A', 5, '10.20.30.40'],
    ['Vpn-Only.Corp.Test', 'A', 5, '10.20.30.41'],
  ]);
  assert.is(fake.sent.length, 0);
  assert.equal(events.map((e) => [e.via, e.rcodeName, e.answers.map((a) => a.data), e.server]), [['host', 'NOERROR', ['10.20.30.40', '10.20.30.41'], undefined]]);
  assert.equal([server.stats().host, server.stats().forwarded], [1, 0]);
});

test('the TTL is the resolver’s; EDNS queries get an OPT back', () => {
  const { ask, replies, lookups } = setup({ ttlSeconds: 2 });
  ask(query('e.test', 'AAAA', { edns: 1232 }));
  lookups.find('e.test', 6).answer('2001:db8::e');
  const p = decode(replies[0]!.msg!);
  assert.equal(p.answers!.map((a) => [a.type, a.ttl, a.data]), [['AAAA', 2, '2001:db8::e']]);
  assert.is(p.additionals![0]!.type, 'OPT');
});

test('an /etc/hosts name with only IPv4: AAAA is NODATA, not NXDOMAIN; an unknown name is NXDOMAIN for both', () => {
  const { ask, replies, lookups } = setup();
  ask(query('hostsonly.test', 'AAAA', { id: 1 }));
  lookups.find('hostsonly.test', 6).fail('EAI_NONAME');
  lookups.find('hostsonly.test', 4).answer('192.0.2.9');
  ask(query('nope.test', 'A', { id: 2 }));
  lookups.find('nope.test', 4).fail('EAI_NONAME');
  lookups.find('nope.test', 6).fail('EAI_NONAME');
  ask(query('nope.test', 'AAAA', { id: 3 }));
  assert.equal(replies.map((r) => [decode(r.msg!).id, rcodeOf(r.msg!), decode(r.msg!).answers!.length]), [
    [1, 0, 0],
    [2, 3, 0],
    [3, 3, 0],
  ]);
});

test('EAI_NODATA → NODATA; EAI_AGAIN → SERVFAIL; no answer within the bound → SERVFAIL at exactly timeoutMs', () => {
  const { ask, replies, lookups, sched, events } = setup({ timeoutMs: 5000 });
  ask(query('v4only.test', 'AAAA', { id: 1 }));
  lookups.find('v4only.test', 6).fail('EAI_NODATA');
  ask(query('flaky.test', 'A', { id: 2 }));
  lookups.find('flaky.test', 4).fail('EAI_AGAIN');
  ask(query('hung.test', 'A', { id: 3 }));
  sched.advance(4999);
  assert.is(replies.length, 2);
  sched.advance(1);
  assert.equal(replies.map((r) => [decode(r.msg!).id, rcodeOf(r.msg!)]), [[1, 0], [2, 2], [3, 2]]);
  assert.equal(events.map((e) => [e.via, e.rcodeName, e.latencyMs]), [['host', 'NOERROR', 0], ['host', 'SERVFAIL', 0], ['host', 'SERVFAIL', 5000]]);
});

test('every other type, and names getaddrinfo would misread, still go to the upstreams', async () => {
  const { ask, replies, lookups, fake, events } = setup();
  for (const [name, type] of [['corp.test', 'MX'], ['_ldap._tcp.corp.test', 'SRV'], ['corp.test', 'TXT'], ['9.2.0.192.in-addr.arpa', 'PTR'], ['127.1', 'A'], ['192.0.2.1', 'A']] as const) {
    ask(query(name, type), { ...GUEST, port: GUEST.port + fake.sent.length });
  }
  assert.is(lookups.calls.length, 0);
  assert.equal(fake.sent.map((s) => decode(s.msg).questions![0]!.type), ['MX', 'SRV', 'TXT', 'PTR', 'A', 'A']);
  for (const s of fake.sent) s.reply(responseTo(s.msg, []));
  await flush();
  assert.equal(events.map((e) => e.via), ['upstream', 'upstream', 'upstream', 'upstream', 'upstream', 'upstream']);
  assert.is(replies.length, 6);
});

test('local names stay local in host-resolver mode', () => {
  const { ask, replies, lookups, events } = setup();
  ask(query('host.internal', 'A'));
  ask(query('host.internal', 'AAAA'));
  assert.is(lookups.calls.length, 0);
  assert.equal(decode(replies[0]!.msg!).answers![0]!.data, '192.168.65.254');
  assert.equal(events.map((e) => e.via), ['local', 'local']);
});

test('parallel A and AAAA from one source port with one id: both answered by the host, in either order', () => {
  const { ask, replies, lookups } = setup();
  ask(query('dual.corp.test', 'A', { id: 0x0707 }));
  ask(query('dual.corp.test', 'AAAA', { id: 0x0707 }));
  assert.equal(lookups.pending().map((c) => c.family), [4, 6], 'both asked at once');
  lookups.find('dual.corp.test', 6).answer('2001:db8::d');
  lookups.find('dual.corp.test', 4).answer('198.51.100.13');
  assert.equal(
    replies.map((r) => decode(r.msg!)).map((p) => [p.id, p.questions![0]!.type, p.answers!.map((a) => a.data)]),
    [
      [0x0707, 'AAAA', ['2001:db8::d']],
      [0x0707, 'A', ['198.51.100.13']],
    ],
  );
});

test('parallel A and AAAA for a name with only IPv4: A answered, AAAA NODATA, without a third lookup', () => {
  const { ask, replies, lookups } = setup();
  ask(query('v4.corp.test', 'A', { id: 9 }));
  ask(query('v4.corp.test', 'AAAA', { id: 9 }));
  lookups.find('v4.corp.test', 6).fail('EAI_NONAME');
  lookups.find('v4.corp.test', 4).answer('198.51.100.4');
  assert.equal(replies.map((r) => [decode(r.msg!).questions![0]!.type, rcodeOf(r.msg!), decode(r.msg!).answers!.length]), [
    ['A', 0, 1],
    ['AAAA', 0, 0],
  ]);
  assert.is(lookups.calls.length, 2, 'the AAAA question shared the A lookup');
});

test('an exact retransmission while the lookup runs is dropped as a duplicate; a busy resolver drops and counts', () => {
  const { ask, replies, lookups, server } = setup({ maxConcurrent: 1, maxPending: 1 });
  ask(query('r.test', 'A', { id: 4 }));
  ask(query('r.test', 'A', { id: 4 }));
  ask(query('s.test', 'A', { id: 5 }), { ...GUEST, port: 1 });
  assert.equal(replies.map((r) => r.msg), [undefined, undefined]);
  assert.equal([server.stats().duplicates, server.stats().dropped], [1, 2]);
  lookups.find('r.test', 4).answer('192.0.2.4');
  assert.is(decode(replies[2]!.msg!).answers![0]!.data, '192.0.2.4');
});

test('a local CNAME to an outside name is finished by the host resolver', () => {
  const { ask, replies, lookups, records } = setup();
  records.addRecord({ name: 'app.test', type: 'CNAME', data: 'real.corp.test' })._unsafeUnwrap();
  ask(query('app.test', 'A', { id: 8 }));
  lookups.find('real.corp.test', 4).answer('198.51.100.8');
  const p = decode(replies[0]!.msg!);
  assert.equal(p.answers!.map((a) => [a.name, a.type, a.data]), [
    ['app.test', 'CNAME', 'real.corp.test'],
    ['real.corp.test', 'A', '198.51.100.8'],
  ]);
});

test('over TCP the host resolver answers too', () => {
  const { ask, replies, lookups } = setup();
  ask(query('t.corp.test', 'A', { id: 6 }), { transport: 'tcp', address: '127.0.0.1', port: 5000 });
  lookups.find('t.corp.test', 4).answer('198.51.100.6');
  assert.is(decode(replies[0]!.msg!).answers![0]!.data, '198.51.100.6');
});

test('after close, a late host answer is dropped, not sent', () => {
  const { ask, replies, lookups, server } = setup();
  ask(query('late.test', 'A'));
  const call = lookups.find('late.test', 4);
  server.close();
  call.answer('192.0.2.1');
  assert.equal(replies.map((r) => r.msg), [undefined]);
});

test.run();
