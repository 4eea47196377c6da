/**
 * `--leases FILE`: the lease pool persisted as versioned JSON, so guests keep their addresses
 * across restarts (cli.md "DHCP pool").
 *
 * Writes are atomic: the document goes to a temporary file in the same directory, is fsynced, and
 * is renamed over the old file, then the directory is fsynced (POSIX rename(2) replaces the name
 * in one step; the directory fsync makes the rename itself durable). A crash at any point leaves
 * either the old file or the new one, never a mix; a leftover temporary file is removed at the
 * next start. Saves are coalesced: any number of pool changes in one turn cause one write, armed
 * on the runtime's scheduler; a change during a write causes one more write after it.
 *
 * Times: the pool runs on the monotonic clock; the file holds wall-clock ISO times (the only
 * meaningful time across a restart), converted through {@link wallClockMs} at the edges.
 * @module
 */
import { readdirSync, readFileSync, unlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { err, ok, type Result } from 'neverthrow';
import { describeError, vnetError } from '../../errors.js';
import { wallClockMs } from '../../runtime/clock.js';
import { Timer, type Scheduler } from '../../runtime/scheduler.js';
import { formatIpv4, formatMac, parseIpv4, parseMac } from '../../wire/address.js';
import type { LeaseStoreError, LeasesCorruptError, LeasesIoError } from './dhcp-errors.js';
import type { LeasePool, PoolSnapshot, RestoreReport } from './lease-pool.js';

/** The file format version this code writes and reads. */
export const LEASES_FILE_VERSION = 1;

/** After a failed save, the next attempt waits this long (unless a flush or close forces it). */
export const SAVE_RETRY_MS = 5_000;

/** The JSON document, version 1. */
export interface LeasesFileV1 {
  version: 1;
  leases: Array<{ ip: string; mac: string; uuid?: string; hostname?: string; expiresAt: string; state: 'bound' | 'offered' }>;
  /** Addresses used before and owned by nobody now (declined ones are quarantined until `reusableAt`). */
  spent: Array<{ ip: string; reusableAt: string }>;
}

/** The file operations a save needs; tests inject failures here. */
export type LeaseFs = Pick<typeof fsp, 'open' | 'rename' | 'unlink'>;

/** Options of {@link LeaseStore.open}. */
export interface LeaseStoreOptions {
  readonly file: string;
  readonly pool: LeasePool;
  /** Arms the coalesced save; its clock must be the pool's clock. */
  readonly scheduler: Scheduler;
  /** Wall clock, ms since the epoch. Default {@link wallClockMs}. */
  readonly wallNow?: () => number;
  /** Failed background saves (the old file is intact). */
  readonly onError?: (e: LeaseStoreError) => void;
  readonly fs?: LeaseFs;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Reads a leases file into a pool snapshot on `monoNow`'s clock. A missing file is an empty
 * snapshot; anything unreadable is a typed error naming the file (the caller decides).
 */
export function readLeasesFile(file: string, monoNow: number, wallNow: number): Result<PoolSnapshot, LeaseStoreError> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ok({ leases: [], spent: [] });
    return err(ioError(file, 'read', e));
  }
  const corrupt = (why: string): Result<PoolSnapshot, LeasesCorruptError> =>
    err(vnetError('leases-corrupt', `leases file ${file} is corrupt: ${why}`, { file }));
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return corrupt(describeError(e));
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return corrupt('not a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.version !== LEASES_FILE_VERSION) {
    if (typeof d.version === 'number' && Number.isInteger(d.version) && d.version > LEASES_FILE_VERSION) {
      return err(vnetError('leases-version', `leases file ${file} has version ${d.version}; this vnetkit reads version ${LEASES_FILE_VERSION}`, { file, version: d.version }));
    }
    return corrupt(`unknown version ${JSON.stringify(d.version)}`);
  }
  if (!Array.isArray(d.leases) || !Array.isArray(d.spent)) return corrupt('"leases" and "spent" must be arrays');
  const toMono = (iso: unknown): number | undefined => {
    const t = typeof iso === 'string' ? Date.parse(iso) : NaN;
    return Number.isFinite(t) ? monoNow + (t - wallNow) : undefined;
  };
  const leases: Array<PoolSnapshot['leases'][number]> = [];
  for (const [i, raw] of (d.leases as unknown[]).entries()) {
    const l = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const ip = typeof l.ip === 'string' ? parseIpv4(l.ip) : undefined;
    const mac = typeof l.mac === 'string' ? parseMac(l.mac) : undefined;
    const expiresAt = toMono(l.expiresAt);
    const uuidOk = l.uuid === undefined || (typeof l.uuid === 'string' && UUID.test(l.uuid));
    const nameOk = l.hostname === undefined || (typeof l.hostname === 'string' && l.hostname.length <= 255);
    if (ip === undefined || mac === undefined || expiresAt === undefined || !uuidOk || !nameOk || (l.state !== 'bound' && l.state !== 'offered')) {
      return corrupt(`leases[${i}] is not {ip, mac, uuid?, hostname?, expiresAt, state}`);
    }
    leases.push({
      ip,
      mac,
      ...(l.uuid !== undefined ? { uuid: l.uuid as string } : {}),
      ...(l.hostname !== undefined ? { hostname: l.hostname as string } : {}),
      expiresAt,
      bound: l.state === 'bound',
    });
  }
  const spent: Array<PoolSnapshot['spent'][number]> = [];
  for (const [i, raw] of (d.spent as unknown[]).entries()) {
    const s = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const ip = typeof s.ip === 'string' ? parseIpv4(s.ip) : undefined;
    const reusableAt = toMono(s.reusableAt);
    if (ip === undefined || reusableAt === undefined) return corrupt(`spent[${i}] is not {ip, reusableAt}`);
    spent.push({ ip, reusableAt });
  }
  return ok({ leases, spent });
}

/** Renders a pool snapshot as the version-1 document. */
export function leasesDocument(s: PoolSnapshot, monoNow: number, wallNow: number): LeasesFileV1 {
  const iso = (mono: number): string => new Date(Math.round(wallNow + (mono - monoNow))).toISOString();
  return {
    version: 1,
    leases: s.leases.map((l) => ({
      ip: formatIpv4(l.ip),
      mac: formatMac(l.mac),
      ...(l.uuid !== undefined ? { uuid: l.uuid } : {}),
      ...(l.hostname !== undefined ? { hostname: l.hostname } : {}),
      expiresAt: iso(l.expiresAt),
      state: l.bound ? ('bound' as const) : ('offered' as const),
    })),
    spent: s.spent.map((x) => ({ ip: formatIpv4(x.ip), reusableAt: iso(x.reusableAt) })),
  };
}

/** Keeps a leases file in step with a pool. */
export class LeaseStore {
  private readonly timer = new Timer(() => void this.write());
  private readonly unsubscribe: () => void;
  private writing: Promise<Result<void, LeaseStoreError>> | undefined;
  private dirty = false;
  /** The last write failed: the next one waits {@link SAVE_RETRY_MS}. */
  private failed = false;
  private closed = false;
  private seq = 0;
  /** Completed writes, for stats and tests. */
  writes = 0;

  private constructor(
    private readonly o: LeaseStoreOptions,
    private readonly fs: LeaseFs,
    private readonly wallNow: () => number,
  ) {
    this.unsubscribe = o.pool.onChange(() => this.schedule());
  }

  /**
   * Loads `file` into `pool` (which should be empty) and keeps the file up to date from then on:
   * {@link LeaseStore.restore} then {@link LeaseStore.follow}. A missing file starts empty; a
   * corrupt one is an error and nothing is changed.
   */
  static open(o: LeaseStoreOptions): Result<{ store: LeaseStore; report: RestoreReport }, LeaseStoreError> {
    let changed = false;
    const off = o.pool.onChange(() => (changed = true));
    const report = LeaseStore.restore(o);
    off();
    if (report.isErr()) return err(report.error);
    return ok({ store: LeaseStore.follow(o, changed), report: report.value });
  }

  /**
   * Reads `file` into `pool` (which should be empty) without touching any file: a caller can
   * still refuse to start afterwards (a reservation that conflicts with a restored lease) and
   * leave the directory as it found it. A missing file restores nothing; a corrupt one is an
   * error and the pool is unchanged.
   */
  static restore(o: Pick<LeaseStoreOptions, 'file' | 'pool' | 'scheduler' | 'wallNow'>): Result<RestoreReport, LeaseStoreError> {
    const snap = readLeasesFile(o.file, o.scheduler.clock.now(), (o.wallNow ?? wallClockMs)());
    if (snap.isErr()) return err(snap.error);
    return ok(o.pool.restore(snap.value));
  }

  /**
   * Keeps `file` in step with `pool` from now on. Leftover temporary files of an interrupted save
   * are removed; with `dirty` (the pool changed since the file was read) the first save is armed.
   */
  static follow(o: LeaseStoreOptions, dirty: boolean): LeaseStore {
    removeStaleTemps(o.file);
    const store = new LeaseStore(o, o.fs ?? fsp, o.wallNow ?? wallClockMs);
    if (dirty) store.schedule();
    return store;
  }

  /** The file. */
  get file(): string {
    return this.o.file;
  }

  /** Writes now if anything changed since the last write, and waits for it; the last write's outcome. */
  async flush(): Promise<Result<void, LeaseStoreError>> {
    let last: Result<void, LeaseStoreError> = ok(undefined);
    if (this.writing !== undefined) last = await this.writing;
    if (!this.dirty) return last;
    return this.write();
  }

  /** Stops following the pool and writes the final state (cli.md: the leases file is written on exit). */
  async close(): Promise<Result<void, LeaseStoreError>> {
    if (this.closed) return ok(undefined);
    this.unsubscribe();
    this.o.scheduler.disarm(this.timer);
    this.dirty = true;
    const r = await this.flush();
    this.closed = true;
    return r;
  }

  private schedule(): void {
    this.dirty = true;
    if (this.closed || this.writing !== undefined || this.timer.at !== Infinity) return;
    this.o.scheduler.armIn(this.timer, this.failed ? SAVE_RETRY_MS : 0);
  }

  private write(): Promise<Result<void, LeaseStoreError>> {
    if (this.writing !== undefined) return this.writing;
    this.o.scheduler.disarm(this.timer);
    this.dirty = false;
    const doc = leasesDocument(this.o.pool.snapshot(), this.o.scheduler.clock.now(), this.wallNow());
    const p = this.writeAtomically(`${JSON.stringify(doc, null, 2)}\n`).then((r) => {
      this.writing = undefined;
      this.failed = r.isErr();
      if (r.isOk()) this.writes++;
      else {
        // The file still holds an older state: retry, but not in a tight loop on a full disk.
        this.dirty = true;
        this.o.onError?.(r.error);
      }
      if (this.dirty && !this.closed) this.schedule();
      return r;
    });
    this.writing = p;
    return p;
  }

  private async writeAtomically(text: string): Promise<Result<void, LeasesIoError>> {
    const file = this.o.file;
    const tmp = `${file}.tmp-${process.pid}-${this.seq++}`;
    try {
      // 0o600: the file names every guest's MAC and host name.
      const fh = await this.fs.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.fs.rename(tmp, file);
    } catch (e) {
      await this.fs.unlink(tmp).catch(() => {});
      return err(ioError(file, 'write', e));
    }
    await syncDir(dirname(file));
    return ok(undefined);
  }
}

/** Makes a rename durable; platforms that cannot fsync a directory (Windows) skip it. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // EISDIR/EPERM/EINVAL on some platforms: the data itself was fsynced; the rename is as durable as the OS makes it.
  }
}

function removeStaleTemps(file: string): void {
  const prefix = `${basename(file)}.tmp-`;
  try {
    for (const name of readdirSync(dirname(file))) if (name.startsWith(prefix)) unlinkSync(join(dirname(file), name));
  } catch {
    // An unreadable directory shows up as a write error at the first save.
  }
}

function ioError(file: string, op: 'read' | 'write', e: unknown): LeasesIoError {
  return vnetError('leases-io', `cannot ${op} leases file ${file}: ${describeError(e)}`, { file, op, cause: e });
}
