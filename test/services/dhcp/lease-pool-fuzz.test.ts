/**
 * Random operation sequences against a small lease pool (5 addresses, 6 MACs, 3 UUIDs), checking
 * after every step the promises the pool makes: no address held twice, only assignable addresses
 * handed out, a reservation never held by another NIC, an active lease never taken from a NIC by
 * someone else's operation, and snapshot → restore reproducing every claim.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../../../src/runtime/clock.js';
import { macKey } from '../../../src/services/dhcp/client-key.js';
import { LeasePool, type Lease } from '../../../src/services/dhcp/lease-pool.js';
import { checkAssignable } from '../../../src/services/dhcp/pool-config.js';
import { parseCidr, parseIpv4 } from '../../../src/wire/address.js';

const ip = (n: number): number => parseIpv4(`192.168.65.${n}`)!;
const MACS = [1, 2, 3, 4, 5, 6].map((i) => 0x020000000000 + i);
const UUIDS = ['c3d68012-0208-11ea-9fd7-f2189899ab08', '5f1b8d7e-9c8a-4b1e-8f3c-2a6b7c8d9e0f', '0b5c1e6a-3f2d-4c7b-9a8e-1d2c3b4a5f60'];
const OPTS = { subnet: parseCidr('192.168.65.0/24')!, gatewayIp: ip(1), hostIp: ip(254), lowestIp: ip(2), highestIp: ip(6), offerHoldMs: 5_000, declineQuarantineMs: 20_000 };

type Op =
  | { k: 'offer'; mac: number; req: number }
  | { k: 'dora'; mac: number; sec: number }
  | { k: 'bind'; mac: number; ip: number; sec: number }
  | { k: 'release'; mac: number; ip: number }
  | { k: 'decline'; mac: number; ip: number }
  | { k: 'vmnet'; uuid: number; mac: number; pref: number }
  | { k: 'unbind'; uuid: number }
  | { k: 'reserve'; byUuid: boolean; who: number; ip: number }
  | { k: 'unreserve'; byUuid: boolean; who: number }
  | { k: 'time'; ms: number };

const anIp = fc.integer({ min: 0, max: 8 }); // .0–.8: includes special and out-of-pool addresses
const aMac = fc.integer({ min: 0, max: MACS.length - 1 });
// Weighted toward allocation so that runs often fill the pool (exhaustion and reuse are the
// interesting part); time moves in steps around the offer hold and lease lengths.
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('offer' as const), mac: aMac, req: fc.integer({ min: -1, max: 8 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('dora' as const), mac: aMac, sec: fc.integer({ min: 1, max: 1000 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('bind' as const), mac: aMac, ip: anIp, sec: fc.integer({ min: 1, max: 1000 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('release' as const), mac: aMac, ip: anIp }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('decline' as const), mac: aMac, ip: anIp }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('vmnet' as const), uuid: fc.integer({ min: 0, max: 2 }), mac: aMac, pref: fc.integer({ min: -1, max: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unbind' as const), uuid: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reserve' as const), byUuid: fc.boolean(), who: fc.integer({ min: 0, max: 2 }), ip: anIp }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unreserve' as const), byUuid: fc.boolean(), who: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 30_000 }) }) },
);

/** The NIC an operation acts for (by MAC number), or undefined for pool-wide operations. */
function actorMac(o: Op): number | undefined {
  if (o.k === 'offer' || o.k === 'dora' || o.k === 'bind' || o.k === 'release' || o.k === 'decline' || o.k === 'vmnet') return MACS[o.mac]!;
  return undefined;
}

function apply(pool: LeasePool, clock: ManualClock, o: Op): void {
  const addr = (n: number): number => (n < 0 ? -1 : ip(n));
  switch (o.k) {
    case 'offer':
      pool.offer(MACS[o.mac]!, addr(o.req), undefined);
      break;
    case 'dora': {
      const offered = pool.offer(MACS[o.mac]!, -1, undefined);
      if (offered.isOk()) assert.ok(pool.bind(MACS[o.mac]!, offered.value.ip, o.sec, undefined).isOk(), 'an offered address can be bound');
      break;
    }
    case 'bind':
      pool.bind(MACS[o.mac]!, ip(o.ip), o.sec, undefined);
      break;
    case 'release':
      pool.release(MACS[o.mac]!, ip(o.ip));
      break;
    case 'decline':
      pool.decline(MACS[o.mac]!, ip(o.ip));
      break;
    case 'vmnet':
      pool.bindVmnet(UUIDS[o.uuid]!, MACS[o.mac]!, o.pref < 0 ? undefined : ip(o.pref));
      break;
    case 'unbind':
      pool.unbindVmnet(UUIDS[o.uuid]!);
      break;
    case 'reserve':
      pool.reserve(o.byUuid ? { uuid: UUIDS[o.who]! } : { mac: MACS[o.who]! }, ip(o.ip));
      break;
    case 'unreserve':
      pool.unreserve(o.byUuid ? { uuid: UUIDS[o.who]! } : { mac: MACS[o.who]! });
      break;
    case 'time':
      clock.set(clock.now() + o.ms);
      break;
  }
}

const active = (l: Lease): boolean => l.state !== 'inactive';

test('random operation sequences keep the pool\'s promises', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const clock = new ManualClock(0);
      const pool = LeasePool.create(OPTS, clock)._unsafeUnwrap();
      for (const o of ops) {
        const before = pool.leases().filter(active);
        apply(pool, clock, o);
        const after = pool.leases();
        // One claim per address and per NIC key; only assignable addresses.
        assert.is(new Set(after.map((l) => l.ip)).size, after.length);
        assert.is(new Set(after.map((l) => l.key)).size, after.length);
        for (const l of after) assert.is(checkAssignable(pool.config, l.ip), undefined);
        // A reserved address is held by nobody but its NIC.
        for (const r of pool.reservations()) {
          const l = pool.leaseAt(r.ip);
          if (l !== undefined && active(l)) assert.ok(l.key === r.key || macKey(l.mac) === r.key, `${r.key} reserved ${r.ip}, held by ${l.key}`);
        }
        // Nobody else's operation takes an active lease away (time passing may end it).
        if (o.k !== 'time') {
          const actor = actorMac(o);
          for (const b of before) {
            if (actor !== undefined && b.mac === actor) continue;
            if (o.k === 'unbind' && b.uuid === UUIDS[o.uuid]) continue;
            const now = pool.leaseAt(b.ip);
            assert.ok(now !== undefined && now.key === b.key && active(now), `${o.k} took ${b.ip} from ${b.key}`);
          }
        }
      }
      // Persistence reproduces every claim (pinned leases come back unpinned).
      const copy = LeasePool.create(OPTS, clock)._unsafeUnwrap();
      for (const r of pool.reservations()) {
        const sel = r.key.startsWith('uuid:') ? { uuid: r.key.slice(5) } : { mac: r.key.slice(4) };
        copy.reserve(sel, r.ip);
      }
      const report = copy.restore(pool.snapshot());
      assert.equal(report.skipped, []);
      const strip = (l: Lease): unknown => [l.ip, l.key, l.mac, l.hostname, l.pinned ? 'bound' : l.state];
      assert.equal(copy.leases().map(strip), pool.leases().map(strip));
    }),
    { numRuns: 600, seed: 20260101 },
  );
});

test.run();
