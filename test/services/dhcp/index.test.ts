import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { createDhcpService, type DhcpServiceOptions, type DhcpUdp } from '../../../src/services/dhcp/index.js';
import { Drop } from '../../../src/wire/drop.js';
import { parseCidr, parseIpv4 } from '../../../src/wire/address.js';

const ip = (s: string): number => parseIpv4(`192.168.65.${s}`)!;

/** A UDP layer that only records who is bound. */
function fakeUdp(): DhcpUdp & { bound: Set<number> } {
  const bound = new Set<number>();
  return {
    bound,
    bind(_ip, port) {
      bound.add(port);
      return () => bound.delete(port);
    },
    send: () => Drop.None,
  };
}

function options(extra: Partial<DhcpServiceOptions> = {}): DhcpServiceOptions & { udp: ReturnType<typeof fakeUdp> } {
  const sched = new ManualScheduler();
  return {
    runtime: { clock: sched.clock, scheduler: sched },
    udp: fakeUdp(),
    subnet: parseCidr('192.168.65.0/24')!,
    gatewayIp: ip('1'),
    hostIp: ip('254'),
    lowestIp: ip('2'),
    highestIp: ip('253'),
    leaseTimeSec: 3600,
    mtu: 1500,
    wallNow: () => Date.UTC(2026, 0, 1) + sched.clock.now(),
    ...extra,
  } as DhcpServiceOptions & { udp: ReturnType<typeof fakeUdp> };
}

test('builds pool, reservations and server; serves UDP 67 until closed', async () => {
  const o = options({ reservations: [{ mac: 0x0200000000aa, ip: ip('9') }, { uuid: 'c3d68012-0208-11ea-9fd7-f2189899ab08', ip: ip('10') }] });
  const s = createDhcpService(o)._unsafeUnwrap();
  assert.equal(s.pool.reservations().map((r) => r.ip), [ip('9'), ip('10')]);
  assert.equal([...o.udp.bound], [67]);
  assert.is(s.store, undefined);
  assert.ok((await s.close()).isOk());
  assert.equal([...o.udp.bound], []);
});

test('configuration errors come back typed: a bad reservation, a bad search domain, bad bounds', () => {
  assert.is(createDhcpService(options({ reservations: [{ mac: 0x0200000000aa, ip: ip('1') }] }))._unsafeUnwrapErr().kind, 'address-not-assignable');
  assert.is(createDhcpService(options({ searchDomains: ['bad name'] }))._unsafeUnwrapErr().kind, 'bad-domain-name');
  assert.is(createDhcpService(options({ lowestIp: ip('9'), highestIp: ip('3') }))._unsafeUnwrapErr().kind, 'bad-pool-config');
});

/** A leases file (lease-store.ts's version 1) giving each `[last octet, mac, expiresAt]`. */
function leasesFile(dir: string, leases: Array<[string, string, string]>): string {
  const file = join(dir, 'leases.json');
  const doc = { version: 1, leases: leases.map(([last, mac, expiresAt]) => ({ ip: `192.168.65.${last}`, mac, expiresAt, state: 'bound' })), spent: [] };
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

/** Monotonic 0 of {@link options} is this wall time. */
const T0 = Date.UTC(2026, 0, 1);
const iso = (ms: number): string => new Date(T0 + ms).toISOString();

test('leases restored from the file survive a restart; a corrupt leases file is an error and nothing is served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetkit-dhcp-svc-'));
  const file = join(dir, 'leases.json');
  const first = createDhcpService(options({ leasesFile: file }))._unsafeUnwrap();
  first.pool.bind(0x0200000000a1, first.pool.offer(0x0200000000a1, -1, undefined)._unsafeUnwrap().ip, 3600, undefined)._unsafeUnwrap();
  first.pool.bind(0x0200000000a2, first.pool.offer(0x0200000000a2, -1, undefined)._unsafeUnwrap().ip, 3600, undefined)._unsafeUnwrap();
  assert.ok((await first.close()).isOk());
  assert.is(JSON.parse(readFileSync(file, 'utf8')).leases.length, 2);

  const second = createDhcpService(options({ leasesFile: file }))._unsafeUnwrap();
  assert.equal(second.restored, { restored: 2, skipped: [] });
  assert.is(second.pool.leaseOf(0x0200000000a1)!.ip, ip('2'));
  assert.is(second.pool.leaseOf(0x0200000000a2)!.ip, ip('3'));
  await second.close();

  writeFileSync(file, '{"version":1,"leases":[');
  const o = options({ leasesFile: file });
  const e = createDhcpService(o)._unsafeUnwrapErr();
  assert.equal([e.kind, 'file' in e ? e.file : undefined], ['leases-corrupt', file]);
  assert.equal([...o.udp.bound], [], 'the server was stopped again');
  rmSync(dir, { recursive: true, force: true });
});

// cli.md, fixed addresses: an address already leased to another NIC is a clear error and that
// NIC keeps its lease — also when the lease came back from the leases file at start.
test('a reservation on an address another NIC holds in the leases file fails creation; nothing is written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetkit-dhcp-svc-'));
  const file = leasesFile(dir, [['2', '5a:94:ef:e4:0c:02', iso(3_600_000)]]);
  const before = readFileSync(file, 'utf8');
  const o = options({ leasesFile: file, reservations: [{ mac: 0x5a94efe40c09, ip: ip('2') }] });
  const e = createDhcpService(o)._unsafeUnwrapErr();
  assert.is(e.kind, 'address-in-use');
  assert.equal(e.kind === 'address-in-use' ? [e.ip, e.holder, e.how] : [], ['192.168.65.2', 'mac:5a:94:ef:e4:0c:02', 'leased']);
  assert.match(e.message, '192.168.65.2 is already leased to mac:5a:94:ef:e4:0c:02');
  assert.match(e.message, file);
  assert.match(e.message, 'valid until 2026-01-01T01:00:00.000Z');
  assert.equal([...o.udp.bound], [], 'the server was stopped again');
  await new Promise((r) => setTimeout(r, 5));
  (o.runtime.scheduler as ManualScheduler).advance(10_000);
  assert.is(readFileSync(file, 'utf8'), before, 'the leases file is untouched');
  assert.equal(readdirSync(dir), ['leases.json']);

  // The same file without the conflicting reservation starts, and the NIC keeps its address.
  const ok = createDhcpService(options({ leasesFile: file, reservations: [{ mac: 0x5a94efe40c09, ip: ip('9') }] }))._unsafeUnwrap();
  assert.is(ok.pool.leaseOf(0x5a94efe40c02)!.ip, ip('2'));
  assert.is(ok.pool.leaseAt(ip('9')), undefined);
  await ok.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a uuid reservation is refused on an address another NIC holds in the leases file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetkit-dhcp-svc-'));
  const file = leasesFile(dir, [['7', '02:00:00:00:00:a1', iso(60_000)]]);
  const e = createDhcpService(options({ leasesFile: file, reservations: [{ uuid: 'c3d68012-0208-11ea-9fd7-f2189899ab08', ip: ip('7') }] }))._unsafeUnwrapErr();
  assert.is(e.kind, 'address-in-use');
  rmSync(dir, { recursive: true, force: true });
});

test('an expired remembered lease gives way to a reservation; the old owner moves at its next request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetkit-dhcp-svc-'));
  const file = leasesFile(dir, [
    ['2', '5a:94:ef:e4:0c:02', iso(-1)],
    ['3', '02:00:00:00:00:a2', iso(3_600_000)],
  ]);
  const s = createDhcpService(options({ leasesFile: file, reservations: [{ mac: 0x5a94efe40c09, ip: ip('2') }] }))._unsafeUnwrap();
  assert.equal(s.restored, { restored: 2, skipped: [] });
  assert.equal(s.pool.reservations().map((r) => [r.key, r.ip]), [['mac:5a:94:ef:e4:0c:09', ip('2')]]);
  assert.is(s.pool.leaseOf(0x0200000000a2)!.ip, ip('3'), 'the other lease is untouched');
  const moved = s.pool.offer(0x5a94efe40c02, ip('2'), undefined)._unsafeUnwrap();
  assert.is.not(moved.ip, ip('2'), 'the old owner of .2 is offered another address');
  assert.is(s.pool.offer(0x5a94efe40c09, -1, undefined)._unsafeUnwrap().ip, ip('2'), 'the reserved NIC gets .2');
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a NIC's own remembered lease never conflicts with its reservation", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetkit-dhcp-svc-'));
  const file = leasesFile(dir, [['2', '5a:94:ef:e4:0c:02', iso(3_600_000)]]);
  const s = createDhcpService(options({ leasesFile: file, reservations: [{ mac: 0x5a94efe40c02, ip: ip('2') }] }))._unsafeUnwrap();
  assert.is(s.pool.leaseOf(0x5a94efe40c02)!.ip, ip('2'));
  assert.is(s.pool.leaseOf(0x5a94efe40c02)!.state, 'bound');
  await s.close();

  // Reserved elsewhere: it keeps its remembered lease until it asks again, then moves.
  const t = createDhcpService(options({ leasesFile: file, reservations: [{ mac: 0x5a94efe40c02, ip: ip('20') }] }))._unsafeUnwrap();
  assert.is(t.pool.leaseOf(0x5a94efe40c02)!.ip, ip('2'));
  assert.is(t.pool.offer(0x5a94efe40c02, -1, undefined)._unsafeUnwrap().ip, ip('20'));
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

test('what the restore changed (an entry it dropped) is written at the next turn', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetkit-dhcp-svc-'));
  const file = leasesFile(dir, [
    ['2', '5a:94:ef:e4:0c:02', iso(3_600_000)],
    ['3', '5a:94:ef:e4:0c:02', iso(3_600_000)],
  ]);
  const o = options({ leasesFile: file });
  const s = createDhcpService(o)._unsafeUnwrap();
  assert.equal(s.restored.skipped, [{ ip: '192.168.65.3', why: 'a second entry for the same client' }]);
  (o.runtime.scheduler as ManualScheduler).runNow();
  assert.ok((await s.store!.flush()).isOk());
  assert.is(s.store!.writes, 1);
  assert.is(JSON.parse(readFileSync(file, 'utf8')).leases.length, 1);
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
