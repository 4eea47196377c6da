import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { createDnsService, describeUpstreams, type DnsServiceOptions } from '../../../src/services/dns/index.js';
import { FakeDnsTransport } from '../../harness/dns/fake-transport.js';
import { decode, query } from '../../harness/dns/messages.js';

let dir = '';
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'vnk-dns-svc-'));
});
test.after.each(() => {
  rmSync(dir, { recursive: true, force: true });
});

function make(o: Partial<DnsServiceOptions>) {
  const sched = new ManualScheduler(new ManualClock(0));
  const runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(9) };
  const fake = new FakeDnsTransport(sched.clock);
  return { fake, r: createDnsService(runtime, { gatewayIp: 0xc0a84101, hostAliasIp: 0xc0a841fe, transport: fake, ...o }) };
}

test('servers come from resolv.conf by default and reload when it changes', () => {
  const path = join(dir, 'resolv.conf');
  writeFileSync(path, 'nameserver 10.9.9.9\n');
  const { r } = make({ resolvConfPath: path });
  const svc = r._unsafeUnwrap();
  assert.equal(describeUpstreams(svc.upstream), ['10.9.9.9:53']);
  assert.equal(svc.warnings, []);
  writeFileSync(path, 'nameserver 10.8.8.8\nnameserver bogus\n');
  assert.equal(svc.reloadResolvConf(), [`${path}: ignored "nameserver bogus"`]);
  assert.equal(describeUpstreams(svc.upstream), ['10.8.8.8:53']);
});

test('--dns-upstream values replace resolv.conf, which is then not even read', () => {
  const { r, fake } = make({ upstreams: ['127.0.0.1:5353', '[::1]:53'], resolvConfPath: join(dir, 'missing') });
  const svc = r._unsafeUnwrap();
  assert.equal(describeUpstreams(svc.upstream), ['127.0.0.1:5353', '[::1]:53']);
  assert.equal(svc.warnings, []);
  assert.equal(svc.reloadResolvConf(), []);
  svc.server.handleQuery(query('www.example.test', 'A'), { transport: 'udp', address: 1, port: 1 }, () => {});
  assert.is(fake.last().server, '127.0.0.1:5353');
});

test('a missing resolv.conf is a warning: local names still resolve, the rest SERVFAIL', async () => {
  const { r } = make({ resolvConfPath: join(dir, 'missing') });
  const svc = r._unsafeUnwrap();
  assert.is(svc.warnings.length, 1);
  assert.match(svc.warnings[0]!, /cannot read/);
  const replies: Uint8Array[] = [];
  svc.server.handleQuery(query('host.internal', 'A'), { transport: 'udp', address: 1, port: 1 }, (m) => replies.push(m!));
  assert.is(decode(replies[0]!).answers![0]!.data, '192.168.65.254');
  svc.server.handleQuery(query('www.example.test', 'A'), { transport: 'udp', address: 1, port: 1 }, (m) => replies.push(m!));
  await new Promise<void>((res) => setImmediate(res));
  assert.is(replies[1]![3]! & 15, 2);
});

test('bad upstream specs and bad names are typed errors', () => {
  assert.is(make({ upstreams: ['dns.google'] }).r._unsafeUnwrapErr().kind, 'dns-bad-upstream');
  assert.is(make({ hostNames: ['a b'] }).r._unsafeUnwrapErr().kind, 'dns-bad-name');
});

test.run();
