/**
 * Claiming a Unix socket path before `listen()`: a socket file left by a process that died is
 * replaced, a socket something still answers on is in use, and any other file is never deleted.
 * Every Unix listener of vnetkit (NIC sockets, the control API, exposed ports, vsock emulations)
 * claims its path this way.
 * @module
 */
import { lstatSync, unlinkSync } from 'node:fs';
import { createConnection } from 'node:net';

/** Why a path cannot be claimed. */
export type UnixPathProblem = 'not-a-socket' | 'in-use';

/** Whether something accepts connections on the Unix socket at `path`. */
export function unixSocketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Makes `path` free to bind: removes a stale socket file; reports what stands in the way otherwise. */
export async function claimUnixPath(path: string): Promise<UnixPathProblem | undefined> {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return undefined;
  if (!st.isSocket()) return 'not-a-socket';
  if (await unixSocketIsLive(path)) return 'in-use';
  unlinkSync(path);
  return undefined;
}
