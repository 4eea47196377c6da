/**
 * The DNS service against real sockets: the Node transport talking to test resolvers on
 * 127.0.0.1 (never any other address). Timeouts are short so failures are quick; assertions are
 * on what was answered and what the resolvers saw, never on how long it took.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Answer } from 'dns-packet';
import { systemRuntime } from '../../../src/runtime/runtime.js';
import { NodeDnsTransport } from '../../../src/services/dns/node-transport.js';
import { LocalRecords } from '../../../src/services/dns/records.js';
import { parseUpstream } from '../../../src/services/dns/resolv-conf.js';
import { DnsServer, type DnsClient } from '../../../src/services/dns/server.js';
import { Upstream, type UpstreamOptions } from '../../../src/services/dns/upstream.js';
import { bigTxt, decode, query, rcodeOf } from '../../harness/dns/messages.js';
import { loopback } from '../../harness/dns/stream-client.js';
import { startTestResolver, type TestResolver } from '../../harness/dns/test-resolver.js';

const ZONE: Answer[] = [
  { name: 'www.example.test', type: 'A', ttl: 60, data: '192.0.2.80' },
  { name: 'www.example.test', type: 'AAAA', ttl: 60, data: '2001:db8::80' },
  { name: 'example.test', type: 'MX', ttl: 60, data: { preference: 10, exchange: 'mail.example.test' } },
  { name: 'example.test', type: 'TXT', ttl: 60, data: ['v=spf1 -all'] },
  { name: '_sip._udp.example.test', type: 'SRV', ttl: 60, data: { priority: 10, weight: 20, port: 5060, target: 'sip.example.test' } },
  ...bigTxt('big.example.test', 12),
];

const GUEST: DnsClient = { transport: 'udp', address: 0xc0a84102, port: 33333 };
const resolvers: TestResolver[] = [];

async function resolver(opts: Parameters<typeof startTestResolver>[0] = { records: ZONE }): Promise<TestResolver> {
  const r = await startTestResolver(opts);
  resolvers.push(r);
  return r;
}

function service(rs: { port: number }[], o: Partial<UpstreamOptions> = {}) {
  const runtime = systemRuntime();
  const upstream = new Upstream(runtime, new NodeDnsTransport(), {
    servers: rs.map((r) => parseUpstream(`127.0.0.1:${r.port}`)._unsafeUnwrap()),
    attemptTimeoutMs: 300,
    queryTimeoutMs: 1500,
    ...o,
  });
  const records = LocalRecords.create({ gatewayIp: '192.168.65.1', hostAliasIp: '192.168.65.254' })._unsafeUnwrap();
  const server = new DnsServer({ runtime, records, upstream });
  const ask = (q: Uint8Array, client: DnsClient = GUEST) =>
    new Promise<Uint8Array | undefined>((resolve) => server.handleQuery(q, client, resolve));
  return { server, upstream, ask };
}

test.after.each(async () => {
  for (const r of resolvers.splice(0)) await r.close();
});

test('UDP forwarding to a real resolver: A, AAAA, NXDOMAIN', async () => {
  const r = await resolver();
  const { ask } = service([r]);
  const a = decode((await ask(query('www.example.test', 'A', { id: 1 })))!);
  assert.equal([a.id, a.answers!.map((x) => x.data)], [1, ['192.0.2.80']]);
  const aaaa = decode((await ask(query('WWW.example.test', 'AAAA', { id: 2 })))!);
  assert.equal(aaaa.answers!.map((x) => x.data), ['2001:db8::80']);
  const nx = (await ask(query('nope.example.test', 'A', { id: 3 })))!;
  assert.is(rcodeOf(nx), 3);
  assert.equal(r.log.map((l) => [l.name, l.type, l.transport]), [
    ['www.example.test', 'A', 'udp'],
    ['WWW.example.test', 'AAAA', 'udp'],
    ['nope.example.test', 'A', 'udp'],
  ]);
});

test('SRV, TXT and MX pass through unchanged', async () => {
  const r = await resolver();
  const { ask } = service([r]);
  const srv = decode((await ask(query('_sip._udp.example.test', 'SRV')))!);
  assert.equal(srv.answers![0]!.data, { priority: 10, weight: 20, port: 5060, target: 'sip.example.test' });
  const txt = decode((await ask(query('example.test', 'TXT')))!);
  assert.equal((txt.answers![0]!.data as Buffer[]).map((b) => b.toString()), ['v=spf1 -all']);
  const mx = decode((await ask(query('example.test', 'MX')))!);
  assert.equal(mx.answers![0]!.data, { preference: 10, exchange: 'mail.example.test' });
});

test('a truncated UDP answer is fetched over TCP upstream; UDP guests get TC, TCP guests everything', async () => {
  const r = await resolver();
  const { ask, server } = service([r]);
  const udp = (await ask(query('big.example.test', 'TXT')))!;
  assert.equal(r.log.map((l) => l.transport), ['udp', 'tcp']);
  assert.ok(udp.length <= 512);
  const pu = decode(udp);
  assert.ok(pu.flag_tc);
  assert.ok(pu.answers!.length >= 1, 'the answers that fit are kept');
  const lb = await loopback((s) => server.handleStream(s));
  try {
    const c = await lb.open();
    c.send(query('big.example.test', 'TXT', { id: 99 }));
    const [m] = await c.waitFrames(1);
    const pt = decode(m!);
    assert.equal([pt.id, pt.answers!.length, pt.flag_tc], [99, 12, false]);
    assert.is(r.log[r.log.length - 1]!.transport, 'tcp', 'TCP guests are forwarded over TCP');
  } finally {
    await lb.close();
  }
});

test('failover: a silent first server, an answering second one', async () => {
  const silent = await resolver({ handler: () => 'drop' });
  const good = await resolver();
  const { ask, upstream } = service([silent, good]);
  const a = decode((await ask(query('www.example.test', 'A')))!);
  assert.equal(a.answers!.map((x) => x.data), ['192.0.2.80']);
  assert.is(silent.log.length, 1);
  assert.is(upstream.stats().servers[0]!.timeouts, 1);
});

test('every upstream silent: SERVFAIL; a closed port fails over at once (ICMP unreachable)', async () => {
  const silent = await resolver({ handler: () => 'drop' });
  const { ask } = service([silent]);
  const r1 = (await ask(query('www.example.test', 'A', { id: 21 })))!;
  assert.equal([decode(r1).id, rcodeOf(r1)], [21, 2]);
  assert.ok(silent.log.length >= 2, 'resent within the bound');
  // A port nobody listens on: start and stop a resolver to learn a free port.
  const gone = await startTestResolver();
  await gone.close();
  const good = await resolver();
  const { ask: ask2, upstream } = service([gone, good], { attemptTimeoutMs: 60_000, queryTimeoutMs: 60_000 });
  const r2 = decode((await ask2(query('www.example.test', 'A')))!);
  assert.equal(r2.answers!.map((x) => x.data), ['192.0.2.80'], 'no attempt timeout needed to move on');
  assert.is(upstream.stats().servers[0]!.errors, 1);
});

test('NodeDnsTransport.queryTcp: framed exchange, and cancel() silences the callback', async () => {
  const r = await resolver();
  const t = new NodeDnsTransport();
  const server = parseUpstream(`127.0.0.1:${r.port}`)._unsafeUnwrap();
  const got = await new Promise<Uint8Array>((resolve, reject) => t.queryTcp(server, query('www.example.test', 'A', { id: 5 }), (res) => (res.isOk() ? resolve(res.value) : reject(res.error))));
  assert.is(decode(got).id, 5);
  let called = false;
  const x = t.queryTcp(server, query('www.example.test', 'A'), () => (called = true));
  x.cancel();
  // A later exchange completing shows the event loop has moved well past the cancelled one.
  await new Promise<void>((resolve) => t.queryTcp(server, query('www.example.test', 'A'), () => resolve()));
  assert.not.ok(called);
});

test.run();
