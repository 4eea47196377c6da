import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalRecords, type LocalRecordsOptions } from '../../../src/services/dns/records.js';
import { RrClass, RrType } from '../../../src/services/dns/message.js';
import { addressOfReverse, reverseName } from '../../../src/services/dns/names.js';

const GW = '192.168.65.1';
const ALIAS = '192.168.65.254';

function store(o: Partial<LocalRecordsOptions> = {}): LocalRecords {
  return LocalRecords.create({ gatewayIp: GW, hostAliasIp: ALIAS, ...o })._unsafeUnwrap();
}

function lookup(r: LocalRecords, name: string, type: number) {
  return r.lookup(name, type, RrClass.IN);
}

function dataOf(r: LocalRecords, name: string, type: number): unknown[] | undefined {
  const a = lookup(r, name, type);
  if (a === undefined) return undefined;
  return a.answers.map((x) => (x as { data: unknown }).data);
}

test('default built-in names: host names → alias, gateway name → gateway, TTL 0', () => {
  const r = store();
  assert.equal(dataOf(r, 'host.internal', RrType.A), [ALIAS]);
  assert.equal(dataOf(r, 'host.docker.internal', RrType.A), [ALIAS]);
  assert.equal(dataOf(r, 'gateway.internal', RrType.A), [GW]);
  const a = lookup(r, 'host.internal', RrType.A)!;
  assert.is((a.answers[0] as { ttl: number }).ttl, 0);
});

test('names are case-insensitive, tolerate a trailing dot, and answers keep the asked spelling', () => {
  const r = store();
  const a = lookup(r, 'HoSt.InTeRnAl.', RrType.A)!;
  assert.is(a.kind, 'answer');
  assert.is(a.answers[0]!.name, 'HoSt.InTeRnAl.');
  assert.equal(dataOf(r, 'GATEWAY.INTERNAL', RrType.A), [GW]);
});

test('a local name without the asked type is NODATA (empty answer), not "not local"', () => {
  const r = store();
  const a = lookup(r, 'host.internal', RrType.AAAA);
  assert.ok(a !== undefined, 'AAAA of a built-in name must be answered locally');
  assert.is(a.kind, 'answer');
  assert.is(a.answers.length, 0);
  assert.is(lookup(r, 'example.com', RrType.A), undefined);
});

test('configured name lists replace the defaults', () => {
  const r = store({ hostNames: ['host.lima.internal'], gatewayNames: [] });
  assert.equal(dataOf(r, 'host.lima.internal', RrType.A), [ALIAS]);
  assert.is(lookup(r, 'host.internal', RrType.A), undefined);
  assert.is(lookup(r, 'gateway.internal', RrType.A), undefined);
});

test('invalid built-in names and addresses are refused at creation', () => {
  assert.is(LocalRecords.create({ gatewayIp: GW, hostAliasIp: ALIAS, hostNames: ['bad name'] })._unsafeUnwrapErr().kind, 'dns-bad-name');
  assert.is(LocalRecords.create({ gatewayIp: '1.2.3', hostAliasIp: ALIAS })._unsafeUnwrapErr().kind, 'dns-bad-record');
});

test('guest names: bare and under the domain, renamed, removed by name or address', () => {
  const r = store({ domain: 'localdomain' });
  r.setGuestName('web', '192.168.65.2')._unsafeUnwrap();
  assert.equal(dataOf(r, 'web', RrType.A), ['192.168.65.2']);
  assert.equal(dataOf(r, 'WEB.localdomain.', RrType.A), ['192.168.65.2']);
  // Renaming the guest drops the old name.
  r.setGuestName('api', '192.168.65.2')._unsafeUnwrap();
  assert.is(lookup(r, 'web', RrType.A), undefined);
  assert.equal(dataOf(r, 'api', RrType.A), ['192.168.65.2']);
  assert.ok(r.removeGuestIp('192.168.65.2'));
  assert.is(lookup(r, 'api', RrType.A), undefined);
  r.setGuestName('db', 0xc0a84103)._unsafeUnwrap();
  assert.ok(r.removeGuestName('DB'));
  assert.not.ok(r.removeGuestName('db'));
  assert.is(r.setGuestName('host.internal', '192.168.65.5')._unsafeUnwrapErr().kind, 'dns-name-conflict');
  assert.is(r.setGuestName('my host', '192.168.65.5')._unsafeUnwrapErr().kind, 'dns-bad-name');
});

test('without a domain a guest answers only under its bare name', () => {
  const r = store();
  r.setGuestName('web', '192.168.65.2')._unsafeUnwrap();
  assert.is(lookup(r, 'web.localdomain', RrType.A), undefined);
});

test('reverse PTR for the gateway, the alias and guests', () => {
  const r = store({ domain: 'lan' });
  r.setGuestName('web', '192.168.65.7')._unsafeUnwrap();
  assert.equal(dataOf(r, '1.65.168.192.in-addr.arpa', RrType.PTR), ['gateway.internal']);
  assert.equal(dataOf(r, '254.65.168.192.IN-ADDR.ARPA.', RrType.PTR), ['host.internal']);
  assert.equal(dataOf(r, '7.65.168.192.in-addr.arpa', RrType.PTR), ['web.lan']);
  assert.is(lookup(r, '9.65.168.192.in-addr.arpa', RrType.PTR), undefined);
  assert.is(reverseName(0xc0a84101), '1.65.168.192.in-addr.arpa');
  assert.is(addressOfReverse('65.168.192.in-addr.arpa'), undefined);
  assert.is(addressOfReverse('01.65.168.192.in-addr.arpa'), undefined);
});

test('user records of every supported type', () => {
  const r = store();
  r.addRecord({ name: 'svc.test', type: 'A', data: '10.0.0.1', ttl: 30 })._unsafeUnwrap();
  r.addRecord({ name: 'svc.test', type: 'A', data: '10.0.0.2', ttl: 30 })._unsafeUnwrap();
  r.addRecord({ name: 'svc.test', type: 'AAAA', data: 'FD00::1' })._unsafeUnwrap();
  r.addRecord({ name: 'svc.test', type: 'TXT', data: ['a=1', 'b=2'] })._unsafeUnwrap();
  r.addRecord({ name: '_http._tcp.svc.test', type: 'SRV', data: { priority: 1, weight: 5, port: 8080, target: 'svc.test' } })._unsafeUnwrap();
  r.addRecord({ name: '5.0.0.10.in-addr.arpa', type: 'PTR', data: 'svc.test.' })._unsafeUnwrap();
  assert.equal(dataOf(r, 'svc.test', RrType.A), ['10.0.0.1', '10.0.0.2']);
  assert.equal(dataOf(r, 'svc.test', RrType.AAAA), ['fd00::1']);
  assert.equal(dataOf(r, 'svc.test', RrType.TXT), [['a=1', 'b=2']]);
  assert.equal(dataOf(r, '_http._tcp.svc.test', RrType.SRV), [{ priority: 1, weight: 5, port: 8080, target: 'svc.test' }]);
  assert.equal(dataOf(r, '5.0.0.10.in-addr.arpa', RrType.PTR), ['svc.test']);
  assert.is(lookup(r, 'svc.test', RrType.ANY)!.answers.length, 4);
  assert.is((lookup(r, 'svc.test', RrType.A)!.answers[0] as { ttl: number }).ttl, 30);
});

test('user records may add data to a built-in name (e.g. AAAA for host.internal)', () => {
  const r = store();
  r.addRecord({ name: 'host.internal', type: 'AAAA', data: '::1' })._unsafeUnwrap();
  assert.equal(dataOf(r, 'host.internal', RrType.AAAA), ['::1']);
  assert.equal(dataOf(r, 'host.internal', RrType.A), [ALIAS]);
});

test('adding the same record again updates the TTL of the whole RRset; no duplicates', () => {
  const r = store();
  r.addRecord({ name: 'x.test', type: 'A', data: '10.0.0.1', ttl: 5 })._unsafeUnwrap();
  r.addRecord({ name: 'x.test', type: 'A', data: '10.0.0.2', ttl: 5 })._unsafeUnwrap();
  r.addRecord({ name: 'x.test', type: 'A', data: '10.0.0.1', ttl: 9 })._unsafeUnwrap();
  const a = lookup(r, 'x.test', RrType.A)!.answers as { ttl: number }[];
  assert.is(a.length, 2);
  assert.equal(a.map((x) => x.ttl), [9, 9]);
});

test('invalid records are refused with a typed error', () => {
  const r = store();
  const kinds = [
    r.addRecord({ name: 'x.test', type: 'A', data: '300.1.1.1' }),
    r.addRecord({ name: 'x.test', type: 'AAAA', data: '10.0.0.1' }),
    r.addRecord({ name: 'x.test', type: 'TXT', data: 'y'.repeat(256) }),
    r.addRecord({ name: 'x.test', type: 'TXT', data: [] }),
    r.addRecord({ name: 'x.test', type: 'SRV', data: { priority: 1, weight: 1, port: 70000, target: 'a' } }),
    r.addRecord({ name: 'x.test', type: 'A', data: '10.0.0.1', ttl: -1 }),
    r.addRecord({ name: 'x..test', type: 'A', data: '10.0.0.1' }),
    r.addRecord({ name: 'a'.repeat(64) + '.test', type: 'A', data: '10.0.0.1' }),
  ].map((x) => x._unsafeUnwrapErr().kind);
  assert.equal(kinds, ['dns-bad-record', 'dns-bad-record', 'dns-bad-record', 'dns-bad-record', 'dns-bad-record', 'dns-bad-record', 'dns-bad-name', 'dns-bad-name']);
  assert.is(r.list().filter((v) => v.source === 'user').length, 0);
});

test('CNAME: exclusive with other data, chased locally, or handed upstream when the target is not local', () => {
  const r = store();
  r.addRecord({ name: 'alias.test', type: 'CNAME', data: 'host.internal' })._unsafeUnwrap();
  assert.is(r.addRecord({ name: 'alias.test', type: 'A', data: '10.0.0.1' })._unsafeUnwrapErr().kind, 'dns-name-conflict');
  assert.is(r.addRecord({ name: 'host.internal', type: 'CNAME', data: 'x.test' })._unsafeUnwrapErr().kind, 'dns-name-conflict');
  const a = lookup(r, 'alias.test', RrType.A)!;
  assert.is(a.kind, 'answer');
  assert.equal(a.answers.map((x) => [x.name, x.type, (x as { data: unknown }).data]), [
    ['alias.test', 'CNAME', 'host.internal'],
    ['host.internal', 'A', ALIAS],
  ]);
  // The CNAME itself when asked for.
  assert.equal(dataOf(r, 'alias.test', RrType.CNAME), ['host.internal']);
  r.addRecord({ name: 'out.test', type: 'CNAME', data: 'example.com' })._unsafeUnwrap();
  const c = lookup(r, 'out.test', RrType.AAAA)!;
  assert.is(c.kind, 'chase');
  assert.is(c.kind === 'chase' && c.target, 'example.com');
  // A CNAME loop ends instead of spinning.
  r.addRecord({ name: 'l1.test', type: 'CNAME', data: 'l2.test' })._unsafeUnwrap();
  r.addRecord({ name: 'l2.test', type: 'CNAME', data: 'l1.test' })._unsafeUnwrap();
  const l = lookup(r, 'l1.test', RrType.A)!;
  assert.is(l.kind, 'answer');
  assert.is(l.answers.length, 2);
});

test('removeRecord by type, or by exact data; list() shows every source', () => {
  const r = store();
  r.setGuestName('vm1', '192.168.65.3')._unsafeUnwrap();
  r.addRecord({ name: 'x.test', type: 'A', data: '10.0.0.1' })._unsafeUnwrap();
  r.addRecord({ name: 'x.test', type: 'A', data: '10.0.0.2' })._unsafeUnwrap();
  r.addRecord({ name: 'x.test', type: 'TXT', data: 'hi' })._unsafeUnwrap();
  assert.equal(new Set(r.list().map((v) => v.source)), new Set(['builtin', 'guest', 'user']));
  assert.is(r.removeRecord('X.test.', 'A', '10.0.0.2')._unsafeUnwrap(), 1);
  assert.equal(dataOf(r, 'x.test', RrType.A), ['10.0.0.1']);
  assert.is(r.removeRecord('x.test', 'A')._unsafeUnwrap(), 1);
  assert.is(r.removeRecord('x.test', 'A')._unsafeUnwrap(), 0);
  assert.equal(dataOf(r, 'x.test', RrType.A), [], 'name still exists (TXT): NODATA');
  assert.is(r.removeRecord('x.test', 'TXT')._unsafeUnwrap(), 1);
  assert.is(lookup(r, 'x.test', RrType.A), undefined);
});

test('classes other than IN and ANY are not local', () => {
  const r = store();
  assert.is(r.lookup('host.internal', RrType.A, 3), undefined);
  assert.ok(r.lookup('host.internal', RrType.A, RrClass.ANY) !== undefined);
});

test.run();
