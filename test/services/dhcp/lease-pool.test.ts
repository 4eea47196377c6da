import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { LeasePool, type Lease } from '../../../src/services/dhcp/lease-pool.js';
import type { LeasePoolOptions } from '../../../src/services/dhcp/pool-config.js';
import { formatIpv4, parseCidr, parseIpv4 } from '../../../src/wire/address.js';

const ip = (s: string): number => parseIpv4(`192.168.65.${s}`)!;
const txt = (n: number | undefined): string | undefined => (n === undefined ? undefined : formatIpv4(n).replace('192.168.65.', '.'));
const A = 0x0200000000a1;
const B = 0x0200000000b2;
const C = 0x0200000000c3;
const D = 0x0200000000d4;
const U1 = 'c3d68012-0208-11ea-9fd7-f2189899ab08';
const U2 = '5f1b8d7e-9c8a-4b1e-8f3c-2a6b7c8d9e0f';
const U3 = '0b5c1e6a-3f2d-4c7b-9a8e-1d2c3b4a5f60';
const HOUR = 3_600_000;

function setup(o: Partial<LeasePoolOptions> = {}): { pool: LeasePool; clock: ManualClock; changes: () => number } {
  const clock = new ManualClock(1_000);
  const pool = LeasePool.create({ subnet: parseCidr('192.168.65.0/24')!, gatewayIp: ip('1'), hostIp: ip('254'), ...o }, clock)._unsafeUnwrap();
  let n = 0;
  pool.onChange(() => n++);
  return { pool, clock, changes: () => n };
}
const later = (clock: ManualClock, ms: number): void => clock.set(clock.now() + ms);

/** DISCOVER → OFFER → REQUEST → ACK, as the server drives the pool. */
function dora(pool: LeasePool, mac: number, requested = -1, hostname?: string): Lease {
  const offered = pool.offer(mac, requested, hostname)._unsafeUnwrap();
  return pool.bind(mac, offered.ip, 3600, hostname)._unsafeUnwrap();
}

// ---------------------------------------------------------------------------------------------
const alloc = suite('allocation order');

alloc('guests get .2, .3, .4 in order; the gateway and alias are never handed out', () => {
  const { pool } = setup({ lowestIp: ip('1') });
  assert.equal([A, B, C].map((m) => txt(dora(pool, m).ip)), ['.2', '.3', '.4']);
  const { pool: p2 } = setup({ lowestIp: ip('252') });
  assert.equal([A, B].map((m) => txt(dora(p2, m).ip)), ['.252', '.253']);
  assert.is(p2.offer(C, -1, undefined)._unsafeUnwrapErr().kind, 'pool-exhausted');
});

alloc('an offer is held for its client and becomes a bound lease on ACK', () => {
  const { pool, clock, changes } = setup();
  const o = pool.offer(A, -1, 'alpha')._unsafeUnwrap();
  assert.is(o.state, 'offered');
  assert.is(o.expiresAt, clock.now() + 60_000);
  assert.is(txt(pool.offer(B, -1, undefined)._unsafeUnwrap().ip), '.3', 'the held .2 is not offered to B');
  const l = pool.bind(A, o.ip, 600, undefined)._unsafeUnwrap();
  assert.equal([l.state, l.expiresAt, l.hostname, l.key], ['bound', clock.now() + 600_000, 'alpha', 'mac:02:00:00:00:00:a1']);
  assert.ok(changes() >= 3);
});

alloc('the same client gets the same address again: re-DISCOVER, after release, after expiry', () => {
  const { pool, clock } = setup();
  const a = dora(pool, A);
  dora(pool, B);
  assert.is(pool.offer(A, -1, undefined)._unsafeUnwrap().ip, a.ip);
  assert.ok(pool.release(A, a.ip) !== undefined);
  assert.is(pool.leaseOf(A)!.state, 'inactive');
  assert.is(dora(pool, A).ip, a.ip);
  later(clock, 2 * HOUR);
  assert.is(pool.leaseOf(A)!.state, 'inactive');
  assert.is(dora(pool, C).ip, ip('4'), 'a new client does not take the expired .2 while never-used addresses remain');
  assert.is(dora(pool, A).ip, a.ip);
});

alloc('a requested address (option 50) is offered when it was never used, else ignored', () => {
  const { pool } = setup();
  assert.is(txt(pool.offer(A, ip('77'), undefined)._unsafeUnwrap().ip), '.77');
  assert.is(txt(pool.offer(B, ip('77'), undefined)._unsafeUnwrap().ip), '.2');
  assert.is(txt(pool.offer(C, ip('1'), undefined)._unsafeUnwrap().ip), '.3', 'the gateway is never offered');
  assert.is(txt(pool.offer(D, parseIpv4('10.0.0.5')!, undefined)._unsafeUnwrap().ip), '.4');
});

alloc('exhausted pool: a typed error with vpnkit\'s text, and nobody loses a lease', () => {
  const { pool } = setup({ lowestIp: ip('2'), highestIp: ip('3') });
  dora(pool, A);
  dora(pool, B);
  const e = pool.offer(C, -1, undefined)._unsafeUnwrapErr();
  assert.equal([e.kind, e.message], ['pool-exhausted', 'No IP addresses available.']);
  assert.equal([txt(pool.leaseOf(A)!.ip), pool.leaseOf(A)!.state, txt(pool.leaseOf(B)!.ip)], ['.2', 'bound', '.3']);
});

alloc('reuse only after never-used addresses run out, least recently freed first', () => {
  const { pool, clock } = setup({ lowestIp: ip('2'), highestIp: ip('4') });
  const a = dora(pool, A); // .2
  const b = dora(pool, B); // .3
  const c = dora(pool, C); // .4
  pool.release(B, b.ip); // .3 freed at t0
  later(clock, 1000);
  pool.release(A, a.ip); // .2 freed at t0+1s
  later(clock, 1000);
  assert.is(pool.offer(D, -1, undefined)._unsafeUnwrap().ip, b.ip, 'D takes .3, free the longest');
  assert.is(pool.leaseOf(B), undefined, 'B lost its claim on .3');
  pool.bind(D, b.ip, 3600, undefined);
  assert.is(pool.offer(B, -1, undefined)._unsafeUnwrap().ip, a.ip, 'B then gets .2, the only free one');
  assert.is(pool.leaseOf(A), undefined);
  assert.is(pool.leaseOf(C)!.ip, c.ip);
});

alloc('an expired lease of another client is kept for it while never-used addresses remain', () => {
  const { pool, clock } = setup({ lowestIp: ip('2'), highestIp: ip('3') });
  dora(pool, A);
  later(clock, 2 * HOUR);
  assert.equal(pool.refusal(B, ip('2')), { reason: 'in-use', message: '192.168.65.2 is kept for its previous client' });
  dora(pool, B); // .3: the last never-used address
  assert.is(pool.refusal(C, ip('2')), undefined, 'now .2 may be taken');
  assert.is(txt(pool.bind(C, ip('2'), 60, undefined)._unsafeUnwrap().ip), '.2');
});

// ---------------------------------------------------------------------------------------------
const time = suite('expiry on the injected clock');

time('nextExpiry and expire report each bound lease once, at its time', () => {
  const { pool, clock } = setup();
  const t0 = clock.now();
  assert.is(pool.nextExpiry(), Infinity);
  pool.offer(C, -1, undefined); // offers do not count
  assert.is(pool.nextExpiry(), Infinity);
  const a = dora(pool, A);
  pool.bind(B, pool.offer(B, -1, undefined)._unsafeUnwrap().ip, 60, undefined);
  assert.is(pool.nextExpiry(), t0 + 60_000);
  assert.equal(pool.expire(t0 + 59_999), []);
  later(clock, 60_000);
  assert.equal(pool.expire().map((l) => l.mac), [B]);
  assert.equal(pool.expire(), []);
  assert.is(pool.nextExpiry(), a.expiresAt);
  // A renews before expiry: the deadline moves.
  later(clock, 1000);
  pool.bind(A, a.ip, 3600, undefined);
  assert.is(pool.nextExpiry(), clock.now() + HOUR);
});

time('an unclaimed offer lapses after the hold time but stays the client\'s first choice', () => {
  const { pool, clock } = setup();
  const o = pool.offer(A, -1, undefined)._unsafeUnwrap();
  later(clock, 60_001);
  assert.is(pool.leaseOf(A)!.state, 'inactive');
  assert.equal(pool.expire(), [], 'a lapsed offer is no expiry event');
  assert.is(pool.offer(A, -1, undefined)._unsafeUnwrap().ip, o.ip);
});

time('cancelOffer frees a pending offer at once (client chose another server)', () => {
  const { pool } = setup();
  pool.offer(A, -1, undefined);
  pool.cancelOffer(A);
  assert.is(pool.leaseOf(A)!.state, 'inactive');
  dora(pool, B);
  pool.cancelOffer(B);
  assert.is(pool.leaseOf(B)!.state, 'bound', 'a bound lease is not cancelled');
});

// ---------------------------------------------------------------------------------------------
const decline = suite('decline and quarantine (RFC 2131 §4.3.3)');

decline('a declined address is quarantined and its client moves on', () => {
  const { pool, clock } = setup({ lowestIp: ip('2'), highestIp: ip('4'), declineQuarantineMs: 600_000 });
  const a = dora(pool, A);
  assert.ok(pool.decline(A, a.ip) !== undefined);
  assert.is(pool.leaseAt(a.ip), undefined);
  assert.is(txt(dora(pool, A).ip), '.3');
  assert.equal(pool.refusal(B, a.ip), { reason: 'quarantined', message: '192.168.65.2 is not available now' });
  dora(pool, B); // .4
  assert.is(pool.offer(C, -1, undefined)._unsafeUnwrapErr().kind, 'pool-exhausted', '.2 is quarantined, the rest taken');
  later(clock, 600_000);
  assert.is(txt(pool.offer(C, -1, undefined)._unsafeUnwrap().ip), '.2', 'after the quarantine .2 is reusable');
});

decline('only the holder can decline an address', () => {
  const { pool } = setup();
  const a = dora(pool, A);
  assert.is(pool.decline(B, a.ip), undefined);
  assert.is(pool.leaseAt(a.ip)!.state, 'bound');
  assert.is(pool.release(B, a.ip), undefined, 'nor release it');
  assert.is(pool.leaseAt(a.ip)!.state, 'bound');
});

// ---------------------------------------------------------------------------------------------
const req = suite('what a DHCPREQUEST may have (RFC 2131 §4.3.2)');

req('refusal reasons: wrong subnet, not yours, in use, outside the pool', () => {
  const { pool } = setup({ highestIp: ip('200') });
  const a = dora(pool, A);
  assert.is(pool.refusal(A, a.ip), undefined);
  assert.is(pool.refusal(A, parseIpv4('10.1.2.3')!)!.reason, 'wrong-subnet');
  assert.is(pool.refusal(A, ip('9'))!.reason, 'not-yours');
  assert.is(pool.refusal(B, a.ip)!.reason, 'in-use');
  assert.is(pool.refusal(B, ip('1'))!.reason, 'outside-pool');
  assert.is(pool.refusal(B, ip('201'))!.reason, 'outside-pool');
  assert.is(pool.refusal(B, ip('9')), undefined, 'an unknown client may take a free address (authoritative server)');
  assert.is(pool.bind(B, ip('9'), 60, undefined)._unsafeUnwrap().state, 'bound');
  assert.is(pool.bind(C, a.ip, 60, undefined)._unsafeUnwrapErr().reason, 'in-use');
});

// ---------------------------------------------------------------------------------------------
const resv = suite('reservations');

resv('a reserved MAC gets its fixed address; dynamic allocation skips it', () => {
  const { pool } = setup();
  assert.equal(pool.reserve({ mac: '02:00:00:00:00:b2' }, ip('3'))._unsafeUnwrap(), { key: 'mac:02:00:00:00:00:b2', ip: ip('3') });
  assert.equal([A, C, B].map((m) => txt(dora(pool, m).ip)), ['.2', '.4', '.3']);
  assert.equal(pool.reservations(), [{ key: 'mac:02:00:00:00:00:b2', ip: ip('3') }]);
});

resv('bad reservations are typed errors, and the other NIC keeps its lease', () => {
  const { pool } = setup({ highestIp: ip('200') });
  const a = dora(pool, A);
  const kinds = (sel: Parameters<LeasePool['reserve']>[0], at: number): unknown => {
    const e = pool.reserve(sel, at)._unsafeUnwrapErr();
    return [e.kind, 'role' in e ? e.role : 'how' in e ? e.how : undefined, e.message];
  };
  assert.equal(kinds({ mac: B }, parseIpv4('10.0.0.9')!), ['address-outside-subnet', undefined, '10.0.0.9 is outside the subnet 192.168.65.0/24']);
  assert.equal(kinds({ mac: B }, ip('0')), ['address-not-assignable', 'network', '192.168.65.0 is the network address']);
  assert.equal(kinds({ mac: B }, ip('255')), ['address-not-assignable', 'broadcast', '192.168.65.255 is the broadcast address']);
  assert.equal(kinds({ mac: B }, ip('1')), ['address-not-assignable', 'gateway', '192.168.65.1 is the gateway address']);
  assert.equal(kinds({ mac: B }, ip('254')), ['address-not-assignable', 'host-alias', '192.168.65.254 is the host-loopback alias']);
  assert.equal(kinds({ mac: B }, ip('201')), ['address-outside-pool', undefined, '192.168.65.201 is outside the DHCP pool 192.168.65.2–192.168.65.200']);
  assert.equal(kinds({ mac: B }, a.ip), ['address-in-use', 'leased', '192.168.65.2 is already leased to mac:02:00:00:00:00:a1']);
  pool.reserve({ uuid: U1 }, ip('50'))._unsafeUnwrap();
  assert.equal(kinds({ mac: B }, ip('50')), ['address-in-use', 'reserved', `192.168.65.50 is already reserved to uuid:${U1}`]);
  assert.is(pool.reserve({ mac: 'zz' }, ip('60'))._unsafeUnwrapErr().kind, 'bad-client-key');
  assert.is(pool.reserve({ uuid: 'not-a-uuid' }, ip('60'))._unsafeUnwrapErr().kind, 'bad-client-key');
  assert.equal([pool.leaseOf(A)!.state, pool.leaseOf(A)!.ip], ['bound', a.ip]);
  assert.equal(pool.reservations().length, 1);
});

resv('reserving a NIC\'s own address is fine; reserving another moves it at its next DISCOVER', () => {
  const { pool } = setup();
  const a = dora(pool, A);
  assert.ok(pool.reserve({ mac: A }, a.ip).isOk());
  assert.ok(pool.reserve({ mac: A }, ip('40')).isOk(), 'replaces the earlier reservation');
  assert.equal(pool.reservations(), [{ key: 'mac:02:00:00:00:00:a1', ip: ip('40') }]);
  assert.is(pool.refusal(A, a.ip)!.reason, 'not-yours', 'its renewal of .2 is NAKed');
  assert.is(txt(dora(pool, A).ip), '.40');
  assert.is(pool.leaseAt(a.ip), undefined);
});

resv('a reservation over another NIC\'s expired lease takes the address; unreserve returns a never-used one', () => {
  const { pool, clock } = setup();
  const a = dora(pool, A);
  later(clock, 2 * HOUR);
  assert.ok(pool.reserve({ mac: B }, a.ip).isOk());
  assert.is(pool.leaseOf(A), undefined);
  assert.ok(pool.reserve({ mac: C }, ip('3')).isOk());
  assert.ok(pool.unreserve({ mac: C }));
  assert.not.ok(pool.unreserve({ mac: C }));
  assert.is(txt(dora(pool, D).ip), '.3', '.3 was never used: fresh again');
});

// ---------------------------------------------------------------------------------------------
const vmnet = suite('vmnet binding (protocols.md §1.7)');

vmnet('a UUID is bound at handshake time and keeps its address across reconnects', () => {
  const { pool, clock } = setup();
  const l = pool.bindVmnet(U1, A)._unsafeUnwrap();
  assert.equal([txt(l.ip), l.state, l.pinned, l.uuid, l.key], ['.2', 'bound', true, U1, `uuid:${U1}`]);
  assert.is(pool.keyForMac(A), `uuid:${U1}`);
  assert.is(pool.offer(A, -1, undefined)._unsafeUnwrap().ip, l.ip, 'DHCP from its MAC is offered the bound address');
  later(clock, 10 * HOUR);
  assert.is(pool.leaseOf(A)!.state, 'bound', 'pinned while attached: the Go client never renews');
  assert.equal(pool.expire(), []);
  pool.unbindVmnet(U1);
  assert.equal(pool.expire().map((x) => x.uuid), [U1]);
  assert.is(txt(pool.bindVmnet(U2, B)._unsafeUnwrap().ip), '.3');
  // Reconnect with a different MAC: same UUID, same address.
  assert.is(txt(pool.bindVmnet(U1, C)._unsafeUnwrap().ip), '.2');
  assert.is(txt(pool.bindVmnet(U1, C, ip('2'))._unsafeUnwrap().ip), '.2', 'preferring its own address is fine');
  assert.is(pool.leaseOfUuid(U1.toUpperCase())!.mac, C);
  assert.is(pool.keyForMac(A), 'mac:02:00:00:00:00:a1', 'the old MAC no longer speaks for the UUID');
  assert.is(pool.keyForMac(C), `uuid:${U1}`);
});

vmnet('preferred-IPv4 errors carry vpnkit\'s exact texts', () => {
  const { pool } = setup({ highestIp: ip('200') });
  assert.is(txt(pool.bindVmnet(U1, A, ip('10'))._unsafeUnwrap().ip), '.10');
  const e1 = pool.bindVmnet(U2, B, ip('10'))._unsafeUnwrapErr();
  assert.equal([e1.kind, e1.message], ['preferred-ip-in-use', 'Preferred IP address 192.168.65.10 already used.']);
  for (const out of [ip('201'), ip('1'), ip('254'), parseIpv4('10.0.0.1')!]) {
    const e = pool.bindVmnet(U2, B, out)._unsafeUnwrapErr();
    assert.equal([e.kind, e.message], ['preferred-ip-out-of-range', 'Preferred IP address out of range.']);
  }
  const e3 = pool.bindVmnet(U1, A, ip('11'))._unsafeUnwrapErr();
  assert.equal([e3.kind, e3.message], ['uuid-ip-mismatch', 'UUID already assigned to a different IP than the IP requested by the client']);
  dora(pool, D);
  assert.is(pool.bindVmnet(U2, B, pool.leaseOf(D)!.ip)._unsafeUnwrapErr().kind, 'preferred-ip-in-use', 'a DHCP lease counts as used');
  assert.is(txt(pool.leaseOfUuid(U1)!.ip), '.10', 'the first UUID keeps its address');
});

vmnet('reservations by UUID or by MAC apply to vmnet NICs; exhaustion says "No IP addresses available."', () => {
  const { pool } = setup({ lowestIp: ip('2'), highestIp: ip('4') });
  pool.reserve({ uuid: U1 }, ip('4'))._unsafeUnwrap();
  pool.reserve({ mac: B }, ip('3'))._unsafeUnwrap();
  assert.is(txt(pool.bindVmnet(U1, A)._unsafeUnwrap().ip), '.4');
  assert.is(pool.bindVmnet(U1, A, ip('2'))._unsafeUnwrapErr().kind, 'uuid-ip-mismatch');
  assert.is(txt(pool.bindVmnet(U2, B)._unsafeUnwrap().ip), '.3', 'by MAC');
  assert.is(txt(pool.bindVmnet(U3, C)._unsafeUnwrap().ip), '.2');
  assert.equal(pool.bindVmnet('11111111-2222-3333-4444-555555555555', D)._unsafeUnwrapErr().message, 'No IP addresses available.');
});

// ---------------------------------------------------------------------------------------------
const persist = suite('snapshot and restore');

persist('restore brings back every claim; stale or conflicting entries are skipped and listed', () => {
  const { pool, clock } = setup();
  dora(pool, A, -1, 'alpha');
  pool.bindVmnet(U1, B);
  const c = dora(pool, C);
  pool.decline(C, c.ip);
  const snap = pool.snapshot();
  assert.is(snap.leases.length, 2);
  assert.equal(snap.spent, [{ ip: c.ip, reusableAt: clock.now() + 600_000 }]);

  const { pool: p2 } = setup({ highestIp: ip('200') });
  p2.reserve({ mac: D }, ip('2'))._unsafeUnwrap();
  const extra = { ip: ip('201'), mac: D, expiresAt: 0, bound: true };
  const r = p2.restore({ leases: [...snap.leases, extra, { ...snap.leases[1]!, ip: ip('9') }], spent: snap.spent });
  assert.is(r.restored, 1);
  assert.equal(
    r.skipped.map((s) => s.ip),
    ['192.168.65.2', '192.168.65.201', '192.168.65.9'],
  );
  assert.match(r.skipped[0]!.why, /reserved for mac:02:00:00:00:00:d4/);
  assert.is(txt(p2.leaseOfUuid(U1)!.ip), '.3');
  assert.is(p2.leaseOfUuid(U1)!.pinned, false, 'nothing is attached after a restart');
  assert.is(txt(p2.bindVmnet(U1, B)._unsafeUnwrap().ip), '.3', 'the UUID reconnects to its address');
  assert.is(p2.refusal(A, c.ip)!.reason, 'quarantined', 'the quarantine survives');
  assert.is(txt(dora(p2, 0x0200000000e5).ip), '.5', 'fresh allocation continues after the restored addresses');
});

alloc.run();
time.run();
decline.run();
req.run();
resv.run();
vmnet.run();
persist.run();
