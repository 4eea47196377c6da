/**
 * {@link WatchedFiles} on `node:fs`: reading resolv.conf, stat signatures and directory watches.
 * One of the three files of the DNS service that touch the operating system (with
 * `node-transport.ts` and `node-host-lookup.ts`).
 * @module
 */
import { readFileSync, realpathSync, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { err, ok } from 'neverthrow';
import { describeError, vnetError } from '../../errors.js';
import type { WatchedFiles } from './resolv-conf-watch.js';

/** The real file system. */
export const nodeWatchedFiles: WatchedFiles = {
  read(path) {
    try {
      return ok(readFileSync(path, 'utf8'));
    } catch (e) {
      return err(vnetError('dns-resolv-conf', `cannot read ${path}: ${describeError(e)}`, { path, cause: e }));
    }
  },
  signature(path) {
    const st = statSync(path, { throwIfNoEntry: false, bigint: true });
    // Nanosecond times: two rewrites within one millisecond still differ.
    return st === undefined ? undefined : `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  },
  realPath(path) {
    try {
      return realpathSync(path);
    } catch {
      return undefined;
    }
  },
  dirname,
  basename,
  watchDirectory(dir, onChange) {
    try {
      // Not persistent: watching resolv.conf must not keep an embedding process alive.
      const w = watch(dir, { persistent: false }, (_event, name) => onChange(name === null ? null : String(name)));
      // A watched directory that is removed reports an error; polling carries on without it.
      w.on('error', () => w.close());
      return ok(() => w.close());
    } catch (e) {
      return err(`cannot watch ${dir}: ${describeError(e)}`);
    }
  },
};
