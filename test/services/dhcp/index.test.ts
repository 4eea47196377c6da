import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

test('reservations win over a remembered lease; a corrupt leases file is an error and nothing is served', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnetkit-dhcp-svc-'));
  const file = join(dir, 'leases.json');
  const first = createDhcpService(options({ leasesFile: file }))._unsafeUnwrap();
  first.pool.bind(0x0200000000a1, first.pool.offer(0x0200000000a1, -1, undefined)._unsafeUnwrap().ip, 3600, undefined)._unsafeUnwrap();
  first.pool.bind(0x0200000000a2, first.pool.offer(0x0200000000a2, -1, undefined)._unsafeUnwrap().ip, 3600, undefined)._unsafeUnwrap();
  assert.ok((await first.close()).isOk());
  assert.is(JSON.parse(readFileSync(file, 'utf8')).leases.length, 2);

  const second = createDhcpService(options({ leasesFile: file, reservations: [{ mac: 0x0200000000bb, ip: ip('2') }] }))._unsafeUnwrap();
  assert.equal(second.restored, { restored: 1, skipped: [{ ip: '192.168.65.2', why: 'reserved for mac:02:00:00:00:00:bb' }] });
  assert.is(second.pool.leaseOf(0x0200000000a2)!.ip, ip('3'));
  await second.close();

  writeFileSync(file, '{"version":1,"leases":[');
  const o = options({ leasesFile: file });
  const e = createDhcpService(o)._unsafeUnwrapErr();
  assert.equal([e.kind, 'file' in e ? e.file : undefined], ['leases-corrupt', file]);
  assert.equal([...o.udp.bound], [], 'the server was stopped again');
  rmSync(dir, { recursive: true, force: true });
});

test.run();
