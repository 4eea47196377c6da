import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { HostResolver, hostResolverEnabled, type HostAnswer, type HostResolverOptions } from '../../../src/services/dns/host-resolver.js';
import { FakeHostLookup, type FakeHostEntry } from '../../harness/dns/fake-host-lookup.js';

function setup(opts: HostResolverOptions = {}, table?: Record<string, FakeHostEntry>) {
  const sched = new ManualScheduler(new ManualClock(0));
  const runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(3) };
  const fake = new FakeHostLookup(sched.clock, table);
  const resolver = new HostResolver(runtime, fake, opts);
  const answers: { name: string; family: 4 | 6; a: HostAnswer; at: number }[] = [];
  const ask = (name: string, family: 4 | 6) => resolver.resolve(name, family, (a) => answers.push({ name, family, a, at: sched.clock.now() }));
  return { sched, fake, resolver, answers, ask };
}

test('auto is on for macOS and Windows hosts, off on Linux; booleans win', () => {
  assert.equal(
    (['darwin', 'win32', 'linux', 'freebsd'] as const).map((p) => hostResolverEnabled('auto', p)),
    [true, true, false, false],
  );
  assert.is(hostResolverEnabled(undefined, 'darwin'), true);
  assert.is(hostResolverEnabled(true, 'linux'), true);
  assert.is(hostResolverEnabled(false, 'darwin'), false);
});

test('addresses of the family, each once, IPv6 zone suffixes left out', () => {
  const { fake, answers, ask } = setup();
  ask('db.corp.test', 4);
  ask('db6.corp.test', 6);
  fake.find('db.corp.test', 4).answer('10.1.2.3', '10.1.2.4', '10.1.2.3');
  fake.find('db6.corp.test', 6).answer('fe80::1%eth0', '2001:db8::7');
  assert.equal(answers.map((x) => x.a), [
    { kind: 'addresses', addresses: ['10.1.2.3', '10.1.2.4'] },
    { kind: 'addresses', addresses: ['2001:db8::7'] },
  ]);
});

test('EAI_NODATA is NODATA at once; EAI_AGAIN and EAI_FAIL are failures', () => {
  const { fake, answers, ask } = setup();
  ask('v4only.corp.test', 6);
  fake.find('v4only.corp.test', 6).fail('EAI_NODATA');
  ask('flaky.corp.test', 4);
  fake.find('flaky.corp.test', 4).fail('EAI_AGAIN');
  ask('broken.corp.test', 4);
  fake.find('broken.corp.test', 4).fail('EAI_FAIL');
  assert.equal(answers.map((x) => x.a), [
    { kind: 'no-data' },
    { kind: 'failure', reason: 'EAI_AGAIN' },
    { kind: 'failure', reason: 'EAI_FAIL' },
  ]);
  assert.is(fake.calls.length, 3, 'no second-family lookup for these');
});

test('EAI_NONAME for one family asks the other before saying NXDOMAIN (an /etc/hosts name with only IPv4)', () => {
  const { fake, answers, ask } = setup();
  ask('hostsonly.test', 6);
  fake.find('hostsonly.test', 6).fail('EAI_NONAME');
  assert.is(answers.length, 0, 'not decided yet');
  fake.find('hostsonly.test', 4).answer('192.0.2.9');
  ask('nowhere.test', 4);
  fake.find('nowhere.test', 4).fail('EAI_NONAME');
  fake.find('nowhere.test', 6).fail('EAI_NONAME');
  assert.equal(answers.map((x) => [x.name, x.a.kind]), [
    ['hostsonly.test', 'no-data'],
    ['nowhere.test', 'no-name'],
  ]);
});

test('at most maxConcurrent lookups run; the rest queue in order and start as threads free up', () => {
  const { fake, answers, ask, resolver } = setup({ maxConcurrent: 2 });
  for (const n of ['a.test', 'b.test', 'c.test', 'd.test']) ask(n, 4);
  assert.equal(fake.calls.map((c) => c.name), ['a.test', 'b.test']);
  assert.equal([resolver.stats().running, resolver.stats().queued, resolver.stats().pending], [2, 2, 4]);
  fake.find('b.test', 4).answer('192.0.2.2');
  assert.equal(fake.calls.map((c) => c.name), ['a.test', 'b.test', 'c.test']);
  fake.find('a.test', 4).answer('192.0.2.1');
  fake.find('c.test', 4).answer('192.0.2.3');
  fake.find('d.test', 4).answer('192.0.2.4');
  assert.equal(answers.map((x) => x.name), ['b.test', 'a.test', 'c.test', 'd.test']);
  assert.equal([resolver.stats().running, resolver.stats().queued, resolver.stats().lookups], [0, 0, 4]);
});

test('past maxPending outstanding questions new ones are dropped and counted', () => {
  const { answers, ask, resolver, fake } = setup({ maxConcurrent: 1, maxPending: 3 });
  for (const n of ['a.test', 'b.test', 'c.test', 'd.test']) ask(n, 4);
  assert.equal(answers.map((x) => [x.name, x.a.kind]), [['d.test', 'busy']]);
  assert.equal([resolver.stats().dropped, resolver.stats().pending, resolver.stats().queued], [1, 3, 2]);
  fake.find('a.test', 4).answer('192.0.2.1');
  ask('e.test', 4);
  assert.is(resolver.stats().dropped, 1, 'room again once one was answered');
});

test('a question times out at timeoutMs with SERVFAIL; the lookup keeps its thread and its late result serves the next asker', () => {
  const { sched, fake, answers, ask, resolver } = setup({ timeoutMs: 5000, maxConcurrent: 1 });
  ask('slow.test', 4);
  ask('queued.test', 4);
  sched.advance(4999);
  assert.is(answers.length, 0);
  sched.advance(1);
  assert.equal(answers.map((x) => [x.name, x.a.kind, x.at]), [
    ['slow.test', 'failure', 5000],
    ['queued.test', 'failure', 5000],
  ]);
  assert.equal([resolver.stats().running, resolver.stats().timeouts], [1, 2], 'getaddrinfo cannot be cancelled');
  fake.find('slow.test', 4).answer('192.0.2.80');
  assert.is(resolver.stats().abandoned, 1, 'nobody waits for queued.test any more: never started');
  assert.equal(fake.calls.map((c) => c.name), ['slow.test']);
  ask('slow.test', 4);
  assert.equal(answers[2]!.a, { kind: 'addresses', addresses: ['192.0.2.80'] });
  assert.is(fake.calls.length, 1, 'answered from the late result');
});

test('questions for one name and family share a lookup (any case); another family is another lookup', () => {
  const { fake, answers, ask, resolver } = setup();
  ask('Shared.Test', 4);
  ask('shared.test', 4);
  ask('shared.test', 6);
  assert.equal(fake.calls.map((c) => [c.name, c.family]), [['Shared.Test', 4], ['shared.test', 6]]);
  fake.find('Shared.Test', 4).answer('192.0.2.5');
  assert.equal(answers.map((x) => x.a.kind), ['addresses', 'addresses']);
  assert.is(resolver.stats().shared, 1);
});

test('results are reused for cacheMs (negative ones too); failures never are', () => {
  const { sched, fake, answers, ask, resolver } = setup({ ttlSeconds: 5 });
  ask('c.test', 4);
  fake.find('c.test', 4).answer('192.0.2.6');
  sched.advance(4999);
  ask('c.test', 4);
  assert.is(answers.length, 2, 'answered synchronously from the cache');
  sched.advance(1);
  ask('c.test', 4);
  assert.is(fake.calls.length, 2, 'expired after 5000 ms');
  fake.find('c.test', 4).answer('192.0.2.7');
  ask('gone.test', 4);
  fake.find('gone.test', 4).fail('EAI_NONAME');
  fake.find('gone.test', 6).fail('EAI_NONAME');
  ask('gone.test', 6);
  assert.equal(answers.slice(-2).map((x) => x.a.kind), ['no-name', 'no-name']);
  assert.is(fake.calls.length, 4, 'the AAAA question reused both negative results');
  ask('flaky.test', 4);
  fake.find('flaky.test', 4).fail('EAI_AGAIN');
  ask('flaky.test', 4);
  assert.is(fake.find('flaky.test', 4).name, 'flaky.test', 'looked up again');
  assert.ok(resolver.stats().cacheHits >= 3);
});

test('cacheMs 0 disables reuse; the cache holds at most maxCacheEntries', () => {
  const a = setup({ cacheMs: 0 });
  a.ask('x.test', 4);
  a.fake.find('x.test', 4).answer('192.0.2.1');
  a.ask('x.test', 4);
  assert.is(a.fake.calls.length, 2);
  const b = setup({ maxCacheEntries: 2 }, { 'a.test': { 4: ['192.0.2.1'] }, 'b.test': { 4: ['192.0.2.2'] }, 'c.test': { 4: ['192.0.2.3'] } });
  for (const n of ['a.test', 'b.test', 'c.test', 'b.test', 'a.test']) b.ask(n, 4);
  assert.equal(b.fake.calls.map((c) => c.name), ['a.test', 'b.test', 'c.test', 'a.test'], 'a.test was evicted first');
});

test('close fails what is outstanding, refuses new questions and ignores late results', () => {
  const { fake, answers, ask, resolver, sched } = setup();
  ask('a.test', 4);
  resolver.close();
  assert.equal(answers.map((x) => x.a), [{ kind: 'failure', reason: 'host resolver closed' }]);
  fake.find('a.test', 4).answer('192.0.2.1');
  ask('b.test', 4);
  assert.is(answers.length, 2);
  assert.is(answers[1]!.a.kind, 'failure');
  assert.is(sched.size, 0, 'no timer left armed');
});

test('a throwing answer callback is contained and counted', () => {
  const { fake, resolver } = setup();
  resolver.resolve('t.test', 4, () => {
    throw new Error('bug');
  });
  fake.find('t.test', 4).answer('192.0.2.1');
  assert.is(resolver.stats().internalErrors, 1);
});

test.run();
