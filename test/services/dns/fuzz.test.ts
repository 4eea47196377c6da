/**
 * Untrusted bytes never escape as exceptions: random datagrams and mutated real queries go
 * through the raw reader and the whole service; every query gets exactly one `respond` call
 * (an answer or an explicit drop), and UDP answers respect the size the client allows.
 * Seeded, so a failure replays.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { layoutMessage, readQuestion, truncateTo } from '../../../src/services/dns/message.js';
import { LocalRecords } from '../../../src/services/dns/records.js';
import { parseUpstream } from '../../../src/services/dns/resolv-conf.js';
import { DnsServer } from '../../../src/services/dns/server.js';
import { Upstream } from '../../../src/services/dns/upstream.js';
import { FakeDnsTransport } from '../../harness/dns/fake-transport.js';
import { bigTxt, query, responseTo } from '../../harness/dns/messages.js';

const SEED = 20260807;

const names = fc.constantFrom('host.internal', 'gateway.internal', 'www.example.test', 'a.b', '1.65.168.192.in-addr.arpa', 'x');
const types = fc.constantFrom('A', 'AAAA', 'TXT', 'SRV', 'PTR', 'MX', 'CNAME', 'ANY' as never);
/** A real query, then byte flips, truncation or extension. */
const mutated = fc
  .record({
    name: names,
    type: types,
    edns: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    extra: fc.uint8Array({ maxLength: 40 }),
  })
  .map(({ name, type, edns, flips, cut, extra }) => {
    const q = query(name, type, { edns });
    for (const f of flips) q[f.at % q.length] = f.value;
    const body = cut === undefined ? q : q.subarray(0, cut % (q.length + 1));
    return new Uint8Array([...body, ...extra]);
  });
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated);

test('the raw reader never throws on arbitrary bytes; truncation respects the limit', () => {
  fc.assert(
    fc.property(anyBytes, fc.integer({ min: 512, max: 4096 }), (b, limit) => {
      const q = readQuestion(b);
      if (q !== undefined) layoutMessage(b, q.end);
      const t = truncateTo(b, limit);
      return t.msg.length <= limit || !t.truncated;
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

test('readQuestion agrees with dns-packet on well-formed queries', () => {
  const label = fc.stringMatching(/^[a-zA-Z0-9_-]{1,20}$/);
  fc.assert(
    fc.property(fc.array(label, { minLength: 1, maxLength: 5 }), types, (labels, type) => {
      const name = labels.join('.');
      const q = readQuestion(query(name, type))!;
      return q.name === name && q.key === name.toLowerCase();
    }),
    { seed: SEED, numRuns: 500 },
  );
});

test('the service answers or explicitly drops every input exactly once, without throwing', async () => {
  const sched = new ManualScheduler(new ManualClock(0));
  const runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(SEED) };
  const fake = new FakeDnsTransport(sched.clock);
  const upstream = new Upstream(runtime, fake, { servers: [parseUpstream('10.0.0.1')._unsafeUnwrap()], maxPending: 100_000 });
  const records = LocalRecords.create({ gatewayIp: '192.168.65.1', hostAliasIp: '192.168.65.254' })._unsafeUnwrap();
  records.addRecord({ name: 'a.b', type: 'CNAME', data: 'www.example.test' })._unsafeUnwrap();
  const server = new DnsServer({ runtime, records, upstream, onQuery: () => {} });
  const calls = new Map<number, number>();
  const oversize: number[] = [];
  let n = 0;
  const inputs = fc.sample(anyBytes, { seed: SEED, numRuns: 3000 });
  for (const b of inputs) {
    const i = n++;
    calls.set(i, 0);
    const tcp = i % 3 === 0;
    server.handleQuery(b, { transport: tcp ? 'tcp' : 'udp', address: 0xc0a84102, port: 1000 + (i % 7) }, (r) => {
      calls.set(i, calls.get(i)! + 1);
      if (!tcp && r !== undefined && r.length > 1232) oversize.push(i);
    });
  }
  // Half the forwarded queries get large answers (forcing truncation), the rest time out.
  fake.sent.forEach((s, k) => {
    if (k % 2 === 1) return;
    let resp: Uint8Array;
    try {
      resp = responseTo(s.msg, bigTxt('www.example.test', 8));
    } catch {
      resp = s.msg.slice();
    }
    s.reply(resp);
  });
  sched.advance(10_000);
  for (let k = 0; k < 5; k++) await new Promise<void>((r) => setImmediate(r));
  const wrong = [...calls].filter(([, c]) => c !== 1);
  assert.equal(wrong, [], 'every input answered or dropped exactly once');
  assert.equal(oversize, []);
  assert.is(server.stats().internalErrors, 0);
  assert.is(upstream.pending, 0);
  assert.ok(fake.sent.length > 0 && server.stats().formerr > 0 && server.stats().local > 0, 'the inputs reached every path');
});

test.run();
