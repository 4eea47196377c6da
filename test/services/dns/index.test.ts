import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { createDnsService, describeUpstreams, type DnsServiceOptions } from '../../../src/services/dns/index.js';
import type { Logger } from '../../../src/logger.js';
import { FakeDnsTransport } from '../../harness/dns/fake-transport.js';
import { FakeFiles } from '../../harness/dns/fake-files.js';
import { FakeHostLookup } from '../../harness/dns/fake-host-lookup.js';
import { decode, query, responseTo } from '../../harness/dns/messages.js';

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

/** A service on fake files, a fake host resolver and a ManualScheduler, with its log lines. */
function fakeService(o: Partial<DnsServiceOptions> = {}, conf = 'nameserver 10.9.9.9\n') {
  const sched = new ManualScheduler(new ManualClock(0));
  const runtime = { clock: sched.clock, scheduler: sched, rng: new SeededRng(9) };
  const transport = new FakeDnsTransport(sched.clock);
  const files = new FakeFiles();
  files.write('/etc/resolv.conf', conf);
  const lookups = new FakeHostLookup(sched.clock, { 'vpn-only.corp.test': { 4: ['10.66.0.5'] } });
  const log: string[] = [];
  const logger: Logger = { error: (m) => log.push(`error: ${m}`), warn: (m) => log.push(`warn: ${m}`), info: (m) => log.push(`info: ${m}`), debug: () => {} };
  const svc = createDnsService(runtime, {
    gatewayIp: 0xc0a84101,
    hostAliasIp: 0xc0a841fe,
    transport,
    files,
    hostLookup: lookups,
    logger,
    platform: 'linux',
    ...o,
  })._unsafeUnwrap();
  const replies: Uint8Array[] = [];
  const ask = (name: string, type: 'A' | 'AAAA' | 'MX', port = 1) =>
    svc.server.handleQuery(query(name, type), { transport: 'udp', address: 1, port }, (m) => replies.push(m!));
  return { sched, transport, files, lookups, log, svc, replies, ask };
}

test('resolv.conf replaced by rename: the new servers take over without a restart, and the change is logged', () => {
  const { sched, transport, files, log, svc, ask } = fakeService();
  ask('a.example.test', 'A');
  assert.is(transport.last().server, '10.9.9.9:53');
  files.replace('/etc/resolv.conf', 'nameserver 10.8.8.8\nnameserver 10.8.4.4\n');
  sched.advance(50);
  assert.equal(describeUpstreams(svc.upstream), ['10.8.8.8:53', '10.8.4.4:53']);
  assert.ok(log.includes('info: dns: /etc/resolv.conf changed: upstream servers 10.9.9.9:53 → 10.8.8.8:53, 10.8.4.4:53'), log.join('\n'));
  ask('b.example.test', 'A', 2);
  assert.is(transport.last().server, '10.8.8.8:53');
  assert.equal([svc.stats().resolvConf!.reloads, svc.stats().upstreamSource], [1, '/etc/resolv.conf']);
  svc.close();
});

test('a rewrite that keeps the same servers swaps nothing and logs nothing; an unreadable file keeps the old list', () => {
  const { sched, files, log, svc } = fakeService();
  files.replace('/etc/resolv.conf', '# rewritten by the VPN client\nnameserver 10.9.9.9\n');
  sched.advance(50);
  assert.is(svc.stats().resolvConf!.reloads, 0);
  assert.not.ok(log.some((l) => l.includes('changed')));
  files.remove('/etc/resolv.conf');
  sched.advance(50);
  assert.equal(describeUpstreams(svc.upstream), ['10.9.9.9:53']);
  assert.ok(log.some((l) => l.startsWith('warn: dns: cannot read /etc/resolv.conf')), log.join('\n'));
  files.write('/etc/resolv.conf', 'nameserver 10.7.7.7\n');
  sched.advance(50);
  assert.equal(describeUpstreams(svc.upstream), ['10.7.7.7:53']);
  svc.close();
});

test('explicit upstreams are never replaced: resolv.conf is neither read nor watched', () => {
  const { sched, files, svc } = fakeService({ upstreams: ['127.0.0.1:5353'] });
  assert.equal(files.watchedDirs(), []);
  assert.equal(files.reads, []);
  files.replace('/etc/resolv.conf', 'nameserver 10.8.8.8\n');
  sched.advance(10_000);
  assert.equal(describeUpstreams(svc.upstream), ['127.0.0.1:5353']);
  assert.equal([svc.stats().resolvConf, svc.stats().upstreamSource], [undefined, 'explicit']);
  assert.match(svc.describe(), /forwarding to 127\.0\.0\.1:5353 \(explicit\)/);
});

test('watchResolvConf false reads the file once', () => {
  const { sched, files, svc } = fakeService({ watchResolvConf: false });
  files.replace('/etc/resolv.conf', 'nameserver 10.8.8.8\n');
  sched.advance(10_000);
  assert.equal(describeUpstreams(svc.upstream), ['10.9.9.9:53']);
  assert.equal(files.watchedDirs(), []);
});

test('the mode: auto is upstream on Linux, host-resolver on macOS and Windows; reported in stats and the log', () => {
  const linux = fakeService();
  assert.equal([linux.svc.mode, linux.svc.stats().mode, linux.svc.hostResolver, linux.svc.stats().hostResolver], ['upstream', 'upstream', undefined, undefined]);
  assert.equal(linux.log[0], 'info: dns: mode upstream (auto on linux): forwarding to 10.9.9.9:53 (from /etc/resolv.conf, followed)');
  for (const platform of ['darwin', 'win32']) {
    const s = fakeService({ platform });
    assert.is(s.svc.mode, 'host-resolver');
    assert.equal(
      s.log[0],
      `info: dns: mode host-resolver (auto on ${platform}): A/AAAA from the host resolver (getaddrinfo, TTL 5 s), other types to 10.9.9.9:53 (from /etc/resolv.conf, followed)`,
    );
  }
  assert.is(fakeService({ hostResolver: true }).svc.mode, 'host-resolver');
  assert.is(fakeService({ hostResolver: false, platform: 'darwin' }).log[0]!.includes('mode upstream (configured)'), true);
});

test('host-resolver mode through the service: A from the host, MX upstream; stats show both', async () => {
  const { transport, lookups, svc, replies, ask } = fakeService({ hostResolver: true });
  ask('vpn-only.corp.test', 'A');
  assert.equal(decode(replies[0]!).answers!.map((a) => a.data), ['10.66.0.5']);
  ask('corp.test', 'MX', 2);
  const s = transport.last();
  s.reply(responseTo(s.msg, []));
  await new Promise<void>((res) => setImmediate(res));
  assert.is(replies.length, 2);
  const st = svc.stats();
  assert.equal([st.server.host, st.server.forwarded, st.hostResolver!.lookups, st.hostResolver!.addresses, lookups.calls.length], [1, 1, 1, 1, 1]);
  svc.close();
});

test('without resolv.conf in host-resolver mode (a Windows host): A/AAAA still resolve, other types SERVFAIL', async () => {
  const { svc, replies, ask } = fakeService({ hostResolver: true, resolvConfPath: '/nonexistent/resolv.conf' });
  assert.match(svc.warnings[0]!, /cannot read \/nonexistent\/resolv.conf/);
  ask('vpn-only.corp.test', 'A');
  ask('corp.test', 'MX', 2);
  await new Promise<void>((res) => setImmediate(res));
  assert.equal(replies.map((r) => r[3]! & 15), [0, 2]);
  svc.close();
});

test.run();
