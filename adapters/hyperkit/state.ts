/**
 * The hyperkit state directory and the UUIDs kept in it (protocols.md §5.3).
 *
 * vpnkit hands out MACs and IPs per NIC UUID (§1.7), so the UUID on the VPNKit NIC is stored
 * in `<state>/vpnkit.uuid` on the first run and reused afterwards: the VM keeps its address
 * across restarts for as long as the same network server runs. An explicit UUID (linuxkit's
 * `-vpnkit-uuid`) wins and is not written. The SMBIOS UUID (`-U`) is fresh every run, otherwise
 * every VM from one image would report the same `/sys/class/dmi/id/product_uuid`.
 * @module
 */
import { randomUUID as cryptoRandomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { ResultAsync, errAsync, okAsync } from 'neverthrow';
import { describeError, vnetError, type VnetError } from '../../src/errors.js';
import { isUuid } from './options.js';

/** Name of the file that keeps the VPNKit NIC's UUID. */
export const VPNKIT_UUID_FILE = 'vpnkit.uuid';

/** Where a state directory comes from: an explicit path or linuxkit's `<prefix>-state`. */
export interface HyperkitStateOptions {
  /** Image prefix; the state directory defaults to `<prefix>-state`. */
  prefix?: string;
  /** Explicit state directory (linuxkit `-state`); wins over `prefix`. */
  stateDir?: string;
  /** Explicit VPNKit UUID (linuxkit `-vpnkit-uuid`); the file is then neither read nor written. */
  vpnkitUuid?: string;
  /** UUID source, injectable for tests. Default `crypto.randomUUID`. */
  randomUUID?: () => string;
}

/** A prepared state directory and the identities for one run. */
export interface HyperkitState {
  dir: string;
  /** UUID for the VPNKit NIC (`uuid=`), stable across runs. */
  vpnkitUuid: string;
  /** Where the VPNKit UUID came from. */
  vpnkitUuidSource: 'created' | 'file' | 'explicit';
  /** SMBIOS UUID for `-U`, new every run. */
  smbiosUuid: string;
}

/** Failures while preparing the state directory. */
export type HyperkitStateError =
  | (VnetError<'invalid-vm-options'> & { field: string; problem: 'bad-uuid' | 'empty' })
  | (VnetError<'state-io'> & { path: string })
  | (VnetError<'state-corrupt'> & { path: string });

/** `<prefix>-state` unless a directory is given (§5.3); null when neither is. */
export function resolveStateDir(o: Pick<HyperkitStateOptions, 'prefix' | 'stateDir'>): string | null {
  if (o.stateDir !== undefined && o.stateDir !== '') return o.stateDir;
  if (o.prefix !== undefined && o.prefix !== '') return `${o.prefix}-state`;
  return null;
}

/**
 * Creates the state directory if needed (mode 0755, as linuxkit does) and returns the UUIDs for
 * this run. The VPNKit UUID file is created with mode 0600 and exclusively, so two launches
 * racing on a new directory end up with the same UUID rather than overwriting each other.
 */
export function prepareHyperkitState(options: HyperkitStateOptions): ResultAsync<HyperkitState, HyperkitStateError> {
  const dir = resolveStateDir(options);
  if (dir === null) {
    return errAsync(
      vnetError('invalid-vm-options', 'hyperkit state: give stateDir or prefix (the directory defaults to <prefix>-state)', {
        field: 'stateDir',
        problem: 'empty' as const,
      }),
    );
  }
  const randomUUID = options.randomUUID ?? cryptoRandomUUID;
  if (options.vpnkitUuid !== undefined && !isUuid(options.vpnkitUuid)) {
    return errAsync(
      vnetError('invalid-vm-options', `hyperkit state: vpnkitUuid "${options.vpnkitUuid}" is not a UUID`, {
        field: 'vpnkitUuid',
        problem: 'bad-uuid' as const,
      }),
    );
  }
  const explicit = options.vpnkitUuid;
  return ResultAsync.fromPromise(mkdir(dir, { recursive: true, mode: 0o755 }), (e) => ioError(dir, 'create', e))
    .andThen(() =>
      explicit !== undefined
        ? okAsync({ uuid: explicit.toLowerCase(), source: 'explicit' as const })
        : loadOrCreateVpnkitUuid(posix.join(dir, VPNKIT_UUID_FILE), randomUUID),
    )
    .map(({ uuid, source }) => ({ dir, vpnkitUuid: uuid, vpnkitUuidSource: source, smbiosUuid: randomUUID() }));
}

function ioError(path: string, verb: string, e: unknown): HyperkitStateError {
  return vnetError('state-io', `cannot ${verb} ${path}: ${describeError(e)}`, { path, cause: e });
}

/** Reads the UUID file; `null` when it does not exist yet. */
function readUuidFile(path: string): ResultAsync<{ uuid: string; source: 'file' } | null, HyperkitStateError> {
  const read = readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  return ResultAsync.fromPromise(read, (e) => ioError(path, 'read', e)).andThen((text) => {
    if (text === null) return okAsync(null);
    const uuid = text.trim();
    // A damaged file is reported, not replaced: a new UUID would silently give the VM a new IP.
    if (!isUuid(uuid)) {
      return errAsync(
        vnetError('state-corrupt', `${path} does not hold a UUID; fix or delete it (deleting gives the VM a new IP)`, {
          path,
        }),
      );
    }
    return okAsync({ uuid: uuid.toLowerCase(), source: 'file' as const });
  });
}

function loadOrCreateVpnkitUuid(
  path: string,
  randomUUID: () => string,
): ResultAsync<{ uuid: string; source: 'file' | 'created' }, HyperkitStateError> {
  return readUuidFile(path).andThen((found) => (found !== null ? okAsync(found) : createUuidFile(path, randomUUID)));
}

function createUuidFile(
  path: string,
  randomUUID: () => string,
): ResultAsync<{ uuid: string; source: 'file' | 'created' }, HyperkitStateError> {
  const fresh = randomUUID();
  if (!isUuid(fresh)) {
    return errAsync(
      vnetError('invalid-vm-options', `hyperkit state: randomUUID() returned "${fresh}", not a UUID`, {
        field: 'randomUUID',
        problem: 'bad-uuid' as const,
      }),
    );
  }
  // Exclusive create: if another launch created the file meanwhile, its UUID wins.
  const write = writeFile(path, `${fresh}\n`, { mode: 0o600, flag: 'wx' }).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return false;
      throw e;
    },
  );
  return ResultAsync.fromPromise(write, (e) => ioError(path, 'create', e)).andThen((created) => {
    if (created) return okAsync({ uuid: fresh.toLowerCase(), source: 'created' as const });
    return readUuidFile(path).andThen((found) =>
      found !== null ? okAsync(found) : errAsync(ioError(path, 'read', new Error('file vanished after EEXIST'))),
    );
  });
}
