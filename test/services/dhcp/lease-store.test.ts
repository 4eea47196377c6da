import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { LeasePool } from '../../../src/services/dhcp/lease-pool.js';
import { LeaseStore, type LeaseFs, type LeaseStoreOptions, type LeasesFileV1 } from '../../../src/services/dhcp/lease-store.js';
import type { LeaseStoreError } from '../../../src/services/dhcp/dhcp-errors.js';
import { parseCidr, parseIpv4 } from '../../../src/wire/address.js';

const ip = (s: string): number => parseIpv4(`192.168.65.${s}`)!;
const A = 0x0200000000a1;
const B = 0x0200000000b2;
const U1 = 'c3d68012-0208-11ea-9fd7-f2189899ab08';
/** 2026-01-01T00:00:00Z: the injected wall clock at monotonic time 0. */
const EPOCH = Date.UTC(2026, 0, 1);

interface World {
  dir: string;
  file: string;
  sched: ManualScheduler;
  pool: LeasePool;
  wall: () => number;
  errors: LeaseStoreError[];
}

function world(dir = mkdtempSync(join(tmpdir(), 'vnetkit-leases-')), startMs = 0): World {
  const sched = new ManualScheduler();
  sched.advance(startMs);
  const pool = LeasePool.create({ subnet: parseCidr('192.168.65.0/24')!, gatewayIp: ip('1'), hostIp: ip('254') }, sched.clock)._unsafeUnwrap();
  return { dir, file: join(dir, 'leases.json'), sched, pool, wall: () => EPOCH + sched.clock.now(), errors: [] };
}

function open(w: World, extra: Partial<LeaseStoreOptions> = {}): ReturnType<typeof LeaseStore.open> {
  return LeaseStore.open({ file: w.file, pool: w.pool, scheduler: w.sched, wallNow: w.wall, onError: (e) => w.errors.push(e), ...extra });
}

function dora(pool: LeasePool, mac: number, hostname?: string): void {
  pool.bind(mac, pool.offer(mac, -1, hostname)._unsafeUnwrap().ip, 3600, hostname)._unsafeUnwrap();
}

const readDoc = (file: string): LeasesFileV1 => JSON.parse(readFileSync(file, 'utf8')) as LeasesFileV1;
const cleanup = (w: World): void => rmSync(w.dir, { recursive: true, force: true });

// ---------------------------------------------------------------------------------------------
const basics = suite('saving and loading');

basics('a missing file starts empty; changes are written as a versioned JSON document', async () => {
  const w = world();
  const { store, report } = open(w)._unsafeUnwrap();
  assert.equal(report, { restored: 0, skipped: [] });
  dora(w.pool, A, 'alpha');
  w.pool.bindVmnet(U1, B);
  assert.is(store.writes, 0, 'nothing is written before the scheduler turn');
  w.sched.runNow();
  assert.ok((await store.flush()).isOk());
  assert.is(store.writes, 1, 'several changes in one turn: one write');
  const doc = readDoc(w.file);
  assert.equal(doc, {
    version: 1,
    leases: [
      { ip: '192.168.65.2', mac: '02:00:00:00:00:a1', hostname: 'alpha', expiresAt: '2026-01-01T01:00:00.000Z', state: 'bound' },
      { ip: '192.168.65.3', mac: '02:00:00:00:00:b2', uuid: U1, expiresAt: '2026-01-01T01:00:00.000Z', state: 'bound' },
    ],
    spent: [],
  });
  assert.is(statSync(w.file).mode & 0o777, 0o600);
  assert.equal(readdirSync(w.dir), ['leases.json'], 'no temporary file is left');
  cleanup(w);
});

basics('a restart restores every address; the clocks are re-based through the wall clock', async () => {
  const w = world();
  const { store } = open(w)._unsafeUnwrap();
  dora(w.pool, A);
  w.pool.bindVmnet(U1, B);
  w.sched.advance(1000);
  assert.ok((await store.close()).isOk());

  // The new process's monotonic clock starts elsewhere (5 s), and 10 minutes of wall time passed.
  const w2 = world(w.dir, 5_000);
  w2.wall = () => EPOCH + 601_000 + (w2.sched.clock.now() - 5_000);
  const { report } = open(w2)._unsafeUnwrap();
  assert.equal(report, { restored: 2, skipped: [] });
  const a = w2.pool.leaseOf(A)!;
  assert.equal([a.ip, a.state], [ip('2'), 'bound']);
  // Bound at mono 0 (wall EPOCH) for an hour → wall EPOCH+3600 s = mono 5 s + 3600 s - 601 s.
  assert.is(a.expiresAt, 5_000 + 3_600_000 - 601_000);
  assert.is(w2.pool.bindVmnet(U1, B)._unsafeUnwrap().ip, ip('3'), 'the vmnet UUID gets its address back');
  dora(w2.pool, 0x0200000000c3);
  assert.is(w2.pool.leaseOf(0x0200000000c3)!.ip, ip('4'), 'new guests continue after the restored ones');
  cleanup(w);
});

basics('a lease that expired while stopped comes back inactive but still its client\'s', async () => {
  const w = world();
  const { store } = open(w)._unsafeUnwrap();
  dora(w.pool, A);
  await store.close();
  const w2 = world(w.dir);
  w2.wall = () => EPOCH + 86_400_000;
  open(w2)._unsafeUnwrap();
  assert.is(w2.pool.leaseOf(A)!.state, 'inactive');
  assert.equal(w2.pool.expire(), [], 'no expiry event for what ended while we were down');
  dora(w2.pool, B);
  assert.is(w2.pool.leaseOf(B)!.ip, ip('3'));
  dora(w2.pool, A);
  assert.is(w2.pool.leaseOf(A)!.ip, ip('2'));
  cleanup(w);
});

basics('a change during a write causes exactly one more write', async () => {
  const w = world();
  const { store } = open(w)._unsafeUnwrap();
  dora(w.pool, A);
  w.sched.runNow();
  dora(w.pool, B); // while the first write is in flight
  dora(w.pool, 0x0200000000c3);
  await store.flush();
  w.sched.runNow();
  await store.flush();
  assert.is(store.writes, 2);
  assert.is(readDoc(w.file).leases.length, 3);
  w.sched.runNow();
  await store.flush();
  assert.is(store.writes, 2, 'nothing changed: no third write');
  cleanup(w);
});

basics('close writes the final state without a scheduler turn, once', async () => {
  const w = world();
  const { store } = open(w)._unsafeUnwrap();
  dora(w.pool, A);
  assert.ok((await store.close()).isOk());
  assert.is(readDoc(w.file).leases.length, 1);
  dora(w.pool, B);
  w.sched.runNow();
  assert.ok((await store.close()).isOk());
  assert.is(readDoc(w.file).leases.length, 1, 'a closed store follows the pool no more');
  cleanup(w);
});

// ---------------------------------------------------------------------------------------------
const crash = suite('crash safety');

crash('a torn temporary file from an interrupted save is ignored and removed', async () => {
  const w = world();
  const { store } = open(w)._unsafeUnwrap();
  dora(w.pool, A);
  await store.close();
  const good = readFileSync(w.file, 'utf8');
  writeFileSync(join(w.dir, 'leases.json.tmp-4242-7'), good.slice(0, good.length >> 1));
  const w2 = world(w.dir);
  const r = open(w2)._unsafeUnwrap();
  assert.is(r.report.restored, 1);
  assert.equal(readdirSync(w.dir), ['leases.json']);
  cleanup(w);
});

crash('restore only reads: the leftover temporary file stays until follow, which arms the first save', async () => {
  const w = world();
  const { store } = open(w)._unsafeUnwrap();
  dora(w.pool, A);
  await store.close();
  const good = readFileSync(w.file, 'utf8');
  writeFileSync(join(w.dir, 'leases.json.tmp-4242-8'), 'torn');
  const w2 = world(w.dir);
  const report = LeaseStore.restore({ file: w2.file, pool: w2.pool, scheduler: w2.sched, wallNow: w2.wall })._unsafeUnwrap();
  assert.is(report.restored, 1);
  assert.is(w2.pool.leaseOf(A)!.ip, ip('2'));
  w2.sched.advance(60_000);
  assert.equal(readdirSync(w.dir).sort(), ['leases.json', 'leases.json.tmp-4242-8'], 'nothing removed');
  assert.is(readFileSync(w.file, 'utf8'), good, 'nothing written');
  const s2 = LeaseStore.follow({ file: w2.file, pool: w2.pool, scheduler: w2.sched, wallNow: w2.wall }, true);
  assert.equal(readdirSync(w.dir), ['leases.json']);
  w2.sched.runNow();
  assert.ok((await s2.flush()).isOk());
  assert.is(s2.writes, 1);
  await s2.close();
  cleanup(w);
});

crash('a truncated or garbled file is a typed error naming the file; nothing is restored', () => {
  const w = world();
  const doc = JSON.stringify({ version: 1, leases: [{ ip: '192.168.65.2', mac: '02:00:00:00:00:a1', expiresAt: '2026-01-01T01:00:00.000Z', state: 'bound' }], spent: [] });
  const cases: Array<[string, string, RegExp]> = [
    [doc.slice(0, 40), 'leases-corrupt', /is corrupt/],
    ['', 'leases-corrupt', /is corrupt/],
    ['[]', 'leases-corrupt', /not a JSON object/],
    [JSON.stringify({ version: 2, leases: [], spent: [] }), 'leases-version', /has version 2; this vnetkit reads version 1/],
    [JSON.stringify({ version: '1', leases: [], spent: [] }), 'leases-corrupt', /unknown version "1"/],
    [doc.replace('192.168.65.2', '192.168.65.300'), 'leases-corrupt', /leases\[0\]/],
    [doc.replace('"bound"', '"held"'), 'leases-corrupt', /leases\[0\]/],
    [doc.replace('"spent":[]', '"spent":[{"ip":"192.168.65.9"}]'), 'leases-corrupt', /spent\[0\]/],
  ];
  for (const [text, kind, msg] of cases) {
    writeFileSync(w.file, text);
    const e = open(w)._unsafeUnwrapErr();
    assert.is(e.kind, kind, text);
    assert.is(e.file, w.file);
    assert.ok(e.message.includes(w.file) && msg.test(e.message), e.message);
    assert.equal(w.pool.leases(), []);
    assert.is(readFileSync(w.file, 'utf8'), text, 'the file is left for the caller to decide');
  }
  cleanup(w);
});

crash('a save that fails before the rename leaves the old file intact and reports why', async () => {
  const w = world();
  const first = open(w)._unsafeUnwrap().store;
  dora(w.pool, A);
  await first.close();
  const before = readFileSync(w.file, 'utf8');

  // Fault 1: the rename fails (disk full on the directory, EXDEV, …).
  const failingRename: LeaseFs = { open: fsp.open, unlink: fsp.unlink, rename: async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) };
  const w2 = world(w.dir);
  const s2 = open(w2, { fs: failingRename })._unsafeUnwrap().store;
  dora(w2.pool, B);
  w2.sched.runNow();
  const r = await s2.flush();
  assert.ok(r.isErr() && r.error.kind === 'leases-io', 'flush reports the failure');
  // The scheduled save failed, then flush retried at once (the state is still unsaved) and failed too.
  assert.equal(w2.errors.map((e) => [e.kind, e.file]), [
    ['leases-io', w.file],
    ['leases-io', w.file],
  ]);
  assert.is(w2.sched.nextDeadline(), w2.sched.clock.now() + 5_000, 'a retry is armed, not a tight loop');
  assert.match(w2.errors[0]!.message, /cannot write leases file .*ENOSPC/);
  assert.is(readFileSync(w.file, 'utf8'), before);
  assert.equal(readdirSync(w.dir), ['leases.json'], 'the temporary file was removed');

  // Fault 2: the process "dies" half-way through writing the temporary file.
  const tornWrite: LeaseFs = {
    rename: fsp.rename,
    unlink: async () => {}, // a dead process cleans nothing up
    open: (async (path: string, flags: string, mode: number) => {
      const fh = await fsp.open(path, flags, mode);
      return Object.assign(Object.create(fh) as typeof fh, {
        writeFile: async (text: string) => {
          await fh.write(text.slice(0, text.length >> 1));
          throw new Error('killed');
        },
        close: () => fh.close(),
        sync: () => fh.sync(),
      });
    }) as LeaseFs['open'],
  };
  const w3 = world(w.dir);
  const s3 = open(w3, { fs: tornWrite })._unsafeUnwrap().store;
  dora(w3.pool, B);
  await s3.close();
  assert.is(readFileSync(w.file, 'utf8'), before, 'the old file is intact');
  assert.is(readdirSync(w.dir).length, 2, 'a torn temporary file is on disk');
  const w4 = world(w.dir);
  assert.is(open(w4)._unsafeUnwrap().report.restored, 1, 'the next start reads the old file');
  assert.equal(readdirSync(w.dir), ['leases.json']);
  cleanup(w);
});

basics.run();
crash.run();
